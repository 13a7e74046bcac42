//! Activities, task tokens and Map Runs: until task integrations and distributed Map exist,
//! these answer as AWS does for a resource that does not exist (after validating the
//! request as AWS does).

use crate::app::App;
use crate::arn::{self, Arn};
use crate::error::{ApiError, ApiResult};
use crate::wire::Request;
use serde_json::{json, Value};

pub fn activity(app: &App, operation: &str, request: &Request) -> ApiResult<Value> {
    match operation {
        "CreateActivity" => {
            let name = request.required_len("name", 1, 80)?;
            arn::check_name(name)?;
            // Activities arrive with task integrations: none can be created yet.
            Err(ApiError::new(
                "ActivityLimitExceeded",
                "Activities are not supported by this server yet",
            ))
        }
        "DescribeActivity" | "GetActivityTask" => {
            let activity_arn = request.required_len("activityArn", 1, 256)?;
            check_activity_arn(activity_arn)?;
            Err(ApiError::new(
                "ActivityDoesNotExist",
                format!("Activity Does Not Exist: '{activity_arn}'"),
            ))
        }
        "DeleteActivity" => {
            let activity_arn = request.required_len("activityArn", 1, 256)?;
            check_activity_arn(activity_arn)?;
            Ok(json!({}))
        }
        "ListActivities" => {
            request.max_results(1000, 100)?;
            request.offset_token()?;
            Ok(json!({"activities": []}))
        }
        _ => {
            let token = request.required_len("taskToken", 1, 2048)?;
            if operation == "SendTaskSuccess" {
                request.required_len("output", 0, 262_144)?;
            }
            let _ = (app, token);
            Err(ApiError::new("TaskDoesNotExist", "Task Does Not Exist"))
        }
    }
}

fn check_activity_arn(activity_arn: &str) -> ApiResult<()> {
    match arn::parse(activity_arn)? {
        Arn::Activity => Ok(()),
        _ => Err(ApiError::invalid_arn(activity_arn)),
    }
}

pub async fn map_run(app: &App, operation: &str, request: &Request) -> ApiResult<Value> {
    if operation == "ListMapRuns" {
        let execution_arn = request.required_len("executionArn", 1, 256)?;
        request.max_results(1000, 100)?;
        request.offset_token()?;
        super::executions::find(app, execution_arn)?;
        return Ok(json!({"mapRuns": []}));
    }
    let map_run_arn = request.required_len("mapRunArn", 1, 2000)?;
    match arn::parse(map_run_arn)? {
        Arn::MapRun => Err(ApiError::resource_not_found(map_run_arn)),
        _ => Err(ApiError::invalid_arn(map_run_arn)),
    }
}
