//! The API operations, one module per group, and the table that routes to them.

mod activities;
mod definitions;
pub mod executions;
mod machines;
mod map_runs;
mod tags;
mod versions;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::wire::Request;
use serde_json::Value;

pub use activities::gone as activity_gone;

/// Every operation [`dispatch`] routes, in its order: the bounded set of operation labels in
/// metrics and logs.
pub const OPERATIONS: &[&str] = &[
    "CreateStateMachine",
    "DescribeStateMachine",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "ListStateMachines",
    "DescribeStateMachineForExecution",
    "PublishStateMachineVersion",
    "ListStateMachineVersions",
    "DeleteStateMachineVersion",
    "CreateStateMachineAlias",
    "DescribeStateMachineAlias",
    "UpdateStateMachineAlias",
    "DeleteStateMachineAlias",
    "ListStateMachineAliases",
    "StartExecution",
    "StartSyncExecution",
    "DescribeExecution",
    "StopExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "RedriveExecution",
    "ValidateStateMachineDefinition",
    "TestState",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "CreateActivity",
    "DescribeActivity",
    "DeleteActivity",
    "ListActivities",
    "GetActivityTask",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "DescribeMapRun",
    "ListMapRuns",
    "UpdateMapRun",
];

/// Runs operation `operation` (the part of `X-Amz-Target` after `AWSStepFunctions.`).
pub async fn dispatch(app: &App, operation: &str, request: Request) -> ApiResult<Value> {
    authorize(operation, &request)?;
    // A store that is not shared (SQLite, memory) pays one test of a flag here.
    if app.cluster.shared() && !crate::resources::CATCH_UP_SKIPPED.contains(&operation) {
        crate::resources::catch_up(app).await?;
    }
    match operation {
        "CreateStateMachine" => machines::create(app, &request).await,
        "DescribeStateMachine" => machines::describe(app, &request).await,
        "UpdateStateMachine" => machines::update(app, &request).await,
        "DeleteStateMachine" => machines::delete(app, &request).await,
        "ListStateMachines" => machines::list(app, &request).await,
        "DescribeStateMachineForExecution" => machines::describe_for_execution(app, &request).await,
        "PublishStateMachineVersion" => versions::publish(app, &request).await,
        "ListStateMachineVersions" => versions::list(app, &request).await,
        "DeleteStateMachineVersion" => versions::delete(app, &request).await,
        "CreateStateMachineAlias" => versions::create_alias(app, &request).await,
        "DescribeStateMachineAlias" => versions::describe_alias(app, &request).await,
        "UpdateStateMachineAlias" => versions::update_alias(app, &request).await,
        "DeleteStateMachineAlias" => versions::delete_alias(app, &request).await,
        "ListStateMachineAliases" => versions::list_aliases(app, &request).await,
        "StartExecution" => executions::start(app, &request).await,
        "StartSyncExecution" => executions::start_sync(app, &request).await,
        "DescribeExecution" => executions::describe(app, &request).await,
        "StopExecution" => executions::stop(app, &request).await,
        "ListExecutions" => executions::list(app, &request).await,
        "GetExecutionHistory" => executions::history(app, &request).await,
        "RedriveExecution" => executions::redrive(app, &request).await,
        "ValidateStateMachineDefinition" => definitions::validate(&request),
        "TestState" => definitions::test_state(app, request).await,
        "TagResource" => tags::tag(app, &request).await,
        "UntagResource" => tags::untag(app, &request).await,
        "ListTagsForResource" => tags::list(app, &request).await,
        "CreateActivity" => activities::create(app, &request).await,
        "DescribeActivity" => activities::describe(app, &request).await,
        "DeleteActivity" => activities::delete(app, &request).await,
        "ListActivities" => activities::list(app, &request).await,
        "GetActivityTask" => activities::get_task(app, &request).await,
        "SendTaskSuccess" => activities::send_success(app, &request).await,
        "SendTaskFailure" => activities::send_failure(app, &request).await,
        "SendTaskHeartbeat" => activities::send_heartbeat(app, &request).await,
        "DescribeMapRun" => map_runs::describe(app, &request).await,
        "ListMapRuns" => map_runs::list(app, &request).await,
        "UpdateMapRun" => map_runs::update(app, &request).await,
        _ => Err(ApiError::new(
            "UnknownOperationException",
            format!("Operation {operation} is not supported"),
        )),
    }
}

/// Refuses a request naming a resource of another account, as IAM refuses it before Step
/// Functions sees it (see `Arns::authorize`): every `…Arn` member and the versions an alias's
/// `routingConfiguration` routes to. ARNs of another region of the caller's own account pass;
/// each operation answers those as resources that do not exist.
fn authorize(operation: &str, request: &Request) -> ApiResult<()> {
    for (key, value) in request.members() {
        if key.ends_with("Arn") {
            if let Some(arn) = value.as_str() {
                request.arns.authorize(operation, arn)?;
            }
        }
    }
    let routed = request
        .get("routingConfiguration")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|route| route.get("stateMachineVersionArn")?.as_str());
    for arn in routed {
        request.arns.authorize(operation, arn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every name `dispatch` matches is in `OPERATIONS`, and nothing else is: metrics label
    /// unknown names `unknown`, so a new operation missing here would be counted wrongly.
    #[test]
    fn operations_lists_what_dispatch_routes() {
        let source = include_str!("mod.rs");
        let body = &source[source.find("match operation {").expect("dispatch")..];
        let body = &body[..body.find("_ => Err").expect("fallback")];
        let routed: Vec<&str> = body
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric()))
            .collect();
        assert_eq!(routed, super::OPERATIONS);
    }

    /// The operations that skip catching up on a cluster are operations (a misspelt name
    /// would silently make its operation catch up, or a removed one linger).
    #[test]
    fn the_operations_skipping_catch_up_exist() {
        for name in crate::resources::CATCH_UP_SKIPPED {
            assert!(super::OPERATIONS.contains(name), "{name}");
        }
    }
}
