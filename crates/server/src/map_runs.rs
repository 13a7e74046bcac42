//! The Map Runs service: the Map Runs of Standard executions, found by ARN, listed by
//! execution, and updated while they run.
//!
//! A Map Run is a record the engine keeps in its execution (`steppe_engine::map_run`), so
//! there is nothing to store: a Map Run is read by rebuilding its execution from the
//! committed input log (what a restart does), and `UpdateMapRun` is an input applied to the
//! execution like a stop request, durable in the same log. A Map Run ARN names its
//! execution (`arn::map_run_execution_id`), so no index is kept either.

use crate::app::App;
use crate::arn::{self, Arn};
use crate::driver::{execution_info, guarded};
use crate::error::{ApiError, ApiResult};
use steppe_engine::{apply, Config, Execution, Input, MapRun, MapRunStatus, MapRunUpdate};
use steppe_store::{ExecutionRow, ExecutionStatus};

/// The Map Run with this ARN and the execution that started it, or AWS's error for it.
pub fn find(app: &App, map_run_arn: &str) -> ApiResult<(ExecutionRow, MapRun)> {
    if arn::parse(map_run_arn)? != Arn::MapRun {
        return Err(ApiError::invalid_arn(map_run_arn));
    }
    let not_found = || ApiError::resource_not_found(map_run_arn);
    let id = arn::map_run_execution_id(map_run_arn).ok_or_else(not_found)?;
    let row = app.store.execution(id)?.ok_or_else(not_found)?;
    let map_run = of_execution(app, &row)?
        .into_iter()
        .find(|map_run| map_run.map_run_arn == map_run_arn)
        .ok_or_else(not_found)?;
    Ok((row, map_run))
}

/// The Map Runs of a stored execution, oldest first, as its committed inputs leave them.
pub fn of_execution(app: &App, row: &ExecutionRow) -> ApiResult<Vec<MapRun>> {
    let compiled = app.definitions.by_id(&row.revision_id).ok_or_else(|| {
        steppe_store::Error::Decode(format!("revision {} is unknown", row.revision_id))
    })?;
    let input = serde_json::from_str(&row.input).map_err(steppe_store::Error::from)?;
    let mut info = execution_info(row, &compiled.revision.role_arn, &app.arns.region);
    // The log replays the redrives, and the engine counts them again.
    info.redrive_count = 0;
    let mut execution = Execution::new(info, input, Config::standard(), row.seed);
    for logged in app.store.inputs(row.id)? {
        let input: Input = logged.input.into();
        let definition = &compiled.definition;
        guarded(|| apply(definition, &mut execution, input, logged.now_millis)).map_err(
            |reason| ApiError::internal(format!("the execution cannot be replayed: {reason}")),
        )?;
    }
    Ok(execution.map_runs().to_vec())
}

/// `UpdateMapRun`: applies `update` to the running Map Run `map_run_arn`.
pub async fn update(app: &App, map_run_arn: &str, update: MapRunUpdate) -> ApiResult<()> {
    let (row, map_run) = find(app, map_run_arn)?;
    if map_run.status != MapRunStatus::Running || row.status != ExecutionStatus::Running {
        return Err(ApiError::new(
            "ValidationException",
            format!(
                "Map Run {map_run_arn} is {} and cannot be updated",
                map_run.status.as_str()
            ),
        ));
    }
    let input = Input::UpdateMapRun {
        map_run_arn: map_run_arn.to_string(),
        update,
    };
    app.driver.deliver_and_wait(row.id, input).await?;
    Ok(())
}
