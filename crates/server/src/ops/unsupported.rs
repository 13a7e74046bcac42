//! Map Runs: until distributed Map exists, these answer as AWS does for a resource that
//! does not exist (after validating the request as AWS does).

use crate::app::App;
use crate::arn::{self, Arn};
use crate::error::{ApiError, ApiResult};
use crate::wire::Request;
use serde_json::{json, Value};

pub async fn map_run(app: &App, operation: &str, request: &Request) -> ApiResult<Value> {
    if operation == "ListMapRuns" {
        let execution_arn = request.required_len("executionArn", 1, 256)?;
        request.max_results(1000, 100)?;
        request.offset_token()?;
        crate::executions::find(app, &request.arns, execution_arn)?;
        return Ok(json!({"mapRuns": []}));
    }
    let map_run_arn = request.required_len("mapRunArn", 1, 2000)?;
    match arn::parse(map_run_arn)? {
        Arn::MapRun => Err(ApiError::resource_not_found(map_run_arn)),
        _ => Err(ApiError::invalid_arn(map_run_arn)),
    }
}
