//! DescribeMapRun, ListMapRuns, UpdateMapRun: wire adapters over the Map Runs service
//! (`crate::map_runs`).

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::map_runs;
use crate::wire::{self, Request};
use serde_json::{json, Map, Value};
use steppe_asl::limits;
use steppe_engine::{MapRun, MapRunCounts, MapRunStatus, MapRunUpdate, Status};
use steppe_store::ExecutionStatus;

pub async fn describe(app: &App, request: &Request) -> ApiResult<Value> {
    let map_run_arn = request.required_len("mapRunArn", 1, 2000)?;
    let (row, map_run) = map_runs::find(app, &request.arns, map_run_arn).await?;
    let redrivable = {
        let registry = app.registry.read().await;
        let parent = crate::executions::not_redrivable(&registry, &row, app.now_millis());
        children_redrivable(&map_run, row.status, parent.is_none())
    };
    let mut answer = json!({
        "mapRunArn": map_run.map_run_arn,
        "executionArn": row.arn,
        "status": map_run.status.as_str(),
        "startDate": wire::timestamp(map_run.start_millis),
        "maxConcurrency": map_run.max_concurrency,
        "toleratedFailurePercentage": map_run.tolerated_failure_percentage,
        "toleratedFailureCount": map_run.tolerated_failure_count,
        "itemCounts": counts(&map_run.items, redrivable),
        "executionCounts": counts(&map_run.executions, redrivable),
        "redriveCount": map_run.redrive_count,
    });
    if let Some(stop_millis) = map_run.stop_millis {
        answer["stopDate"] = wire::timestamp(stop_millis);
    }
    if let Some(redrive_millis) = map_run.redrive_millis {
        answer["redriveDate"] = wire::timestamp(redrive_millis);
    }
    Ok(answer)
}

pub async fn list(app: &App, request: &Request) -> ApiResult<Value> {
    let execution_arn = request.required_len("executionArn", 1, 256)?;
    let limit = request.max_results(1000, 100)?;
    let offset = request.offset_token()?;
    let row = crate::executions::find(app, &request.arns, execution_arn).await?;
    let items: Vec<Value> = map_runs::of_execution(app, &row, false)
        .await?
        .iter()
        .map(|map_run| list_item(&row.arn, map_run))
        .collect();
    let (page, next_token) = wire::page(&items, offset, limit);
    let mut answer = json!({ "mapRuns": page });
    if let Some(token) = next_token {
        answer["nextToken"] = json!(token);
    }
    Ok(answer)
}

pub async fn update(app: &App, request: &Request) -> ApiResult<Value> {
    let map_run_arn = request.required_len("mapRunArn", 1, 2000)?;
    let max_concurrency = request.integer("maxConcurrency")?;
    let tolerated_failure_count = request.integer("toleratedFailureCount")?;
    let tolerated_failure_percentage = match request.get("toleratedFailurePercentage") {
        None => None,
        Some(value) => Some(value.as_f64().ok_or_else(|| {
            ApiError::serialization("Float value expected for toleratedFailurePercentage")
        })?),
    };
    let at_least_zero = |value: Option<i64>, field: &str| match value {
        Some(n) if n < 0 => Err(ApiError::validation(
            &format!("'{n}'"),
            field,
            "Member must have value greater than or equal to 0",
        )),
        _ => Ok(value.map(|n| n as u64)),
    };
    let max_concurrency = at_least_zero(max_concurrency, "maxConcurrency")?;
    let tolerated_failure_count = at_least_zero(tolerated_failure_count, "toleratedFailureCount")?;
    if let Some(pct) = tolerated_failure_percentage {
        let constraint = if pct < 0.0 {
            Some("Member must have value greater than or equal to 0")
        } else if pct > 100.0 {
            Some("Member must have value less than or equal to 100")
        } else {
            None
        };
        if let Some(constraint) = constraint {
            return Err(ApiError::validation(
                &format!("'{pct}'"),
                "toleratedFailurePercentage",
                constraint,
            ));
        }
    }
    let update = MapRunUpdate {
        max_concurrency,
        tolerated_failure_count,
        tolerated_failure_percentage,
    };
    map_runs::update(app, &request.arns, map_run_arn, update).await?;
    Ok(json!({}))
}

/// A `MapRunListItem`; its `stateMachineArn` is the children's:
/// `…:stateMachine:<machine>/<label>`.
fn list_item(execution_arn: &str, map_run: &MapRun) -> Value {
    let mut item = Map::new();
    item.insert("executionArn".into(), json!(execution_arn));
    item.insert("mapRunArn".into(), json!(map_run.map_run_arn));
    item.insert(
        "stateMachineArn".into(),
        json!(map_runs::children_state_machine_arn(&map_run.map_run_arn)),
    );
    item.insert("startDate".into(), wire::timestamp(map_run.start_millis));
    if let Some(stop_millis) = map_run.stop_millis {
        item.insert("stopDate".into(), wire::timestamp(stop_millis));
    }
    Value::Object(item)
}

/// ListExecutions(`mapRunArn`): the Map Run's children that have started, newest first,
/// with `statusFilter` (`status`) and `redriveFilter` (`redriven`; children are never
/// redriven on their own) applied.
pub async fn list_children(
    app: &App,
    request: &Request,
    map_run_arn: &str,
    filter: (Option<&str>, Option<bool>),
    offset: usize,
    limit: usize,
) -> ApiResult<Value> {
    let (status, redriven) = filter;
    let mut children = map_runs::children(app, &request.arns, map_run_arn).await?;
    children.retain(|child| {
        status.is_none_or(|status| child.child.status.as_str() == status) && redriven != Some(true)
    });
    children.sort_by_key(|child| std::cmp::Reverse(child.child.start_millis));
    // Only the page asked for is written out: a Map Run can have 10,000 children.
    let positions: Vec<usize> = (0..children.len()).collect();
    let (page, next_token) = wire::page(&positions, offset, limit);
    let items: Vec<Value> = page
        .iter()
        .map(|&position| {
            let child = &children[position];
            let mut item = json!({
                "executionArn": child.execution_arn,
                "stateMachineArn": child.state_machine_arn,
                "name": child.name,
                "status": child.child.status.as_str(),
                "startDate": wire::timestamp(child.child.start_millis),
                "mapRunArn": child.map_run_arn,
                "itemCount": child.child.item_count,
            });
            if let Some(stop) = child.child.stop_millis {
                item["stopDate"] = wire::timestamp(stop);
            }
            item
        })
        .collect();
    let mut answer = json!({ "executions": items });
    if let Some(token) = next_token {
        answer["nextToken"] = json!(token);
    }
    Ok(answer)
}

/// DescribeExecution of a Map Run's child (without input and output when `metadata_only`).
pub fn describe_child(child: &map_runs::Child, metadata_only: bool) -> Value {
    let data = &child.child;
    let mut answer = json!({
        "executionArn": child.execution_arn,
        "stateMachineArn": child.state_machine_arn,
        "name": child.name,
        "status": data.status.as_str(),
        "startDate": wire::timestamp(data.start_millis),
        "mapRunArn": child.map_run_arn,
        "redriveCount": data.redrive_count,
    });
    let text = |value: &Value| json!(value.to_string());
    match (&data.input, metadata_only) {
        (Some(input), false) => {
            answer["input"] = json!(input);
            answer["inputDetails"] = json!({"included": true});
        }
        _ => answer["inputDetails"] = json!({"included": false}),
    }
    if let Some(output) = &data.output {
        if metadata_only {
            answer["outputDetails"] = json!({"included": false});
        } else {
            answer["output"] = text(output);
            answer["outputDetails"] = json!({"included": true});
        }
    }
    if let Some(stop) = data.stop_millis {
        answer["stopDate"] = wire::timestamp(stop);
    }
    if let Some(error) = &data.error {
        if let Some(name) = &error.error {
            answer["error"] = json!(name);
        }
        if let Some(cause) = &error.cause {
            answer["cause"] = json!(cause);
        }
    }
    // A Standard child that did not succeed is redriven with its Map Run, by redriving the
    // parent (AWS's REDRIVABLE_BY_MAP_RUN).
    match data.status {
        Status::Failed | Status::Aborted | Status::TimedOut => {
            answer["redriveStatus"] = json!("REDRIVABLE_BY_MAP_RUN");
        }
        status => {
            answer["redriveStatus"] = json!("NOT_REDRIVABLE");
            answer["redriveStatusReason"] = json!(format!(
                "Execution is {} and cannot be redriven",
                status.as_str()
            ));
        }
    }
    answer
}

/// Whether the unsuccessful children of `map_run` can still be redriven: not once it
/// succeeded (its tolerated failures stay as they are), nor once its ended parent cannot be
/// redriven or it reached AWS's 1,000 redrives; while the parent runs, they may yet be.
fn children_redrivable(
    map_run: &MapRun,
    parent_status: ExecutionStatus,
    parent_redrivable: bool,
) -> bool {
    match map_run.status {
        MapRunStatus::Running => true,
        MapRunStatus::Succeeded => false,
        MapRunStatus::Failed | MapRunStatus::Aborted => {
            parent_status == ExecutionStatus::Running
                || (parent_redrivable && map_run.redrive_count < limits::MAP_RUN_REDRIVES_MAX)
        }
    }
}

/// `MapRunItemCounts` / `MapRunExecutionCounts`: the unsuccessful are `failuresNotRedrivable`
/// too unless they can be redriven.
fn counts(counts: &MapRunCounts, redrivable: bool) -> Value {
    let unsuccessful = counts.failed + counts.aborted + counts.timed_out;
    let failures_not_redrivable = if redrivable { 0 } else { unsuccessful };
    json!({
        "pending": counts.pending,
        "running": counts.running,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "timedOut": counts.timed_out,
        "aborted": counts.aborted,
        "total": counts.total,
        "resultsWritten": counts.results_written,
        "failuresNotRedrivable": failures_not_redrivable,
        "pendingRedrive": counts.pending_redrive,
    })
}
