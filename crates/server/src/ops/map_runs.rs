//! DescribeMapRun, ListMapRuns, UpdateMapRun: wire adapters over the Map Runs service
//! (`crate::map_runs`).

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::map_runs;
use crate::wire::{self, Request};
use serde_json::{json, Map, Value};
use steppe_engine::{MapRun, MapRunCounts, MapRunUpdate};

pub async fn describe(app: &App, request: &Request) -> ApiResult<Value> {
    let map_run_arn = request.required_len("mapRunArn", 1, 2000)?;
    let (row, map_run) = map_runs::find(app, map_run_arn)?;
    let mut answer = json!({
        "mapRunArn": map_run.map_run_arn,
        "executionArn": row.arn,
        "status": map_run.status.as_str(),
        "startDate": wire::timestamp(map_run.start_millis),
        "maxConcurrency": map_run.max_concurrency,
        "toleratedFailurePercentage": map_run.tolerated_failure_percentage,
        "toleratedFailureCount": map_run.tolerated_failure_count,
        "itemCounts": counts(&map_run.items),
        "executionCounts": counts(&map_run.executions),
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
    let row = crate::executions::find(app, execution_arn)?;
    let items: Vec<Value> = map_runs::of_execution(app, &row)?
        .iter()
        .map(|map_run| list_item(&row.arn, &row.state_machine_arn, map_run))
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
    map_runs::update(app, map_run_arn, update).await?;
    Ok(json!({}))
}

/// A `MapRunListItem`; its `stateMachineArn` is the children's:
/// `…:stateMachine:<machine>/<label>`.
fn list_item(execution_arn: &str, state_machine_arn: &str, map_run: &MapRun) -> Value {
    let label = map_run
        .map_run_arn
        .rsplit_once(':')
        .and_then(|(rest, _)| rest.rsplit_once('/'))
        .map_or("", |(_, label)| label);
    let mut item = Map::new();
    item.insert("executionArn".into(), json!(execution_arn));
    item.insert("mapRunArn".into(), json!(map_run.map_run_arn));
    item.insert(
        "stateMachineArn".into(),
        json!(format!("{state_machine_arn}/{label}")),
    );
    item.insert("startDate".into(), wire::timestamp(map_run.start_millis));
    if let Some(stop_millis) = map_run.stop_millis {
        item.insert("stopDate".into(), wire::timestamp(stop_millis));
    }
    Value::Object(item)
}

/// `MapRunItemCounts` / `MapRunExecutionCounts`.
fn counts(counts: &MapRunCounts) -> Value {
    json!({
        "pending": counts.pending,
        "running": counts.running,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "timedOut": counts.timed_out,
        "aborted": counts.aborted,
        "total": counts.total,
        "resultsWritten": counts.results_written,
        "failuresNotRedrivable": counts.failures_not_redrivable,
        "pendingRedrive": counts.pending_redrive,
    })
}
