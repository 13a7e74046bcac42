//! The Map Runs service: the Map Runs of Standard executions, found by ARN, listed by
//! execution, and updated while they run.
//!
//! A Map Run is a record the engine keeps in its execution (`steppe_engine::map_run`), so
//! there is nothing to store: a Map Run is read by rebuilding its execution from the
//! committed input log (what a restart does), and `UpdateMapRun` is an input applied to the
//! execution like a stop request, durable in the same log. A Map Run ARN names its
//! execution (`arn::map_run_execution_id`), so no index is kept either.

use crate::app::App;
use crate::arn::{self, Arn, Arns};
use crate::driver::{execution_info, guarded};
use crate::error::{ApiError, ApiResult};
use steppe_asl::limits;
use steppe_engine::{
    apply, ChildId, Config, Execution, HistoryEvent, Input, MapRun, MapRunChild, MapRunStatus,
    MapRunUpdate, Status,
};
use steppe_store::{ExecutionRow, ExecutionStatus};

/// A child execution of a Map Run, as DescribeExecution and ListExecutions show it.
pub struct Child {
    /// `…:execution:<machine>/<label>:<name>` (`arn::map_run_child`).
    pub execution_arn: String,
    /// The name: the ARN's last part.
    pub name: String,
    /// `…:stateMachine:<machine>/<label>`.
    pub state_machine_arn: String,
    /// The Map Run it belongs to.
    pub map_run_arn: String,
    /// Its status, dates, item count and (for DescribeExecution) data.
    pub child: MapRunChild,
}

/// The Map Run with this ARN and the execution that started it, or AWS's error for it.
pub async fn find(app: &App, arns: &Arns, map_run_arn: &str) -> ApiResult<(ExecutionRow, MapRun)> {
    let (row, _, map_run) = find_with_data(app, arns, map_run_arn, false).await?;
    Ok((row, map_run))
}

/// The children of the Map Run `map_run_arn` that have started, in slot order.
pub async fn children(app: &App, arns: &Arns, map_run_arn: &str) -> ApiResult<Vec<Child>> {
    let (_, ordinal, map_run) = find_with_data(app, arns, map_run_arn, false).await?;
    Ok(map_run
        .children
        .into_iter()
        .enumerate()
        .filter_map(|(slot, child)| child.map(|child| (slot, child)))
        .filter_map(|(slot, child)| child_of(&map_run.map_run_arn, ordinal, slot, child))
        .collect())
}

/// The Map Run child `execution_arn` names, with its data; `Ok(None)` if the ARN is not
/// shaped as a child's, and `ExecutionDoesNotExist` if it is and there is no such child.
pub async fn find_child(app: &App, arns: &Arns, execution_arn: &str) -> ApiResult<Option<Child>> {
    let Some((execution_id, ordinal, slot)) = arn::parse_map_run_child(execution_arn) else {
        return Ok(None);
    };
    let missing = || ApiError::execution_does_not_exist(execution_arn);
    if !arns.owns(execution_arn) {
        return Err(missing());
    }
    let row = app
        .read(move |store| store.execution(execution_id))
        .await?
        .ok_or_else(missing)?;
    let mut map_runs = of_execution(app, &row, true).await?;
    if ordinal >= map_runs.len() {
        return Err(missing());
    }
    let map_run = map_runs.swap_remove(ordinal);
    let child = map_run
        .children
        .into_iter()
        .nth(slot)
        .flatten()
        .and_then(|child| child_of(&map_run.map_run_arn, ordinal, slot, child))
        .filter(|child| child.execution_arn == execution_arn)
        .ok_or_else(missing)?;
    Ok(Some(child))
}

fn child_of(map_run_arn: &str, ordinal: usize, slot: usize, child: MapRunChild) -> Option<Child> {
    let execution_arn = arn::map_run_child(map_run_arn, ordinal, slot)?;
    let name = execution_arn.rsplit(':').next()?.to_string();
    Some(Child {
        name,
        execution_arn,
        state_machine_arn: children_state_machine_arn(map_run_arn),
        map_run_arn: map_run_arn.to_string(),
        child,
    })
}

/// The state machine ARN a Map Run's children name: `…:stateMachine:<machine>/<label>`.
pub fn children_state_machine_arn(map_run_arn: &str) -> String {
    steppe_engine::map_run::children_state_machine_arn(map_run_arn)
}

/// The Map Run `map_run_arn`, its ordinal among its execution's Map Runs and the execution.
async fn find_with_data(
    app: &App,
    arns: &Arns,
    map_run_arn: &str,
    data: bool,
) -> ApiResult<(ExecutionRow, usize, MapRun)> {
    if arn::parse(map_run_arn)? != Arn::MapRun {
        return Err(ApiError::invalid_arn(map_run_arn));
    }
    let not_found = || ApiError::resource_not_found(map_run_arn);
    // A Map Run of another account or region does not exist for this caller.
    if !arns.owns(map_run_arn) {
        return Err(not_found());
    }
    let id = arn::map_run_execution_id(map_run_arn).ok_or_else(not_found)?;
    let row = app
        .read(move |store| store.execution(id))
        .await?
        .ok_or_else(not_found)?;
    let (ordinal, map_run) = of_execution(app, &row, data)
        .await?
        .into_iter()
        .enumerate()
        .find(|(_, map_run)| map_run.map_run_arn == map_run_arn)
        .ok_or_else(not_found)?;
    Ok((row, ordinal, map_run))
}

/// The Map Runs of a stored execution, oldest first, as its committed inputs leave them;
/// with `data`, with their children's inputs, outputs and errors.
pub async fn of_execution(app: &App, row: &ExecutionRow, data: bool) -> ApiResult<Vec<MapRun>> {
    let config = Config {
        map_run_children_data: data,
        ..Config::standard()
    };
    let execution = replay(app, row, config, |_| {}).await?;
    Ok(execution.map_runs().to_vec())
}

/// Rebuilds a stored execution from its committed inputs with `config`, handing each
/// transition's events to `events`.
async fn replay(
    app: &App,
    row: &ExecutionRow,
    config: Config,
    mut events: impl FnMut(Vec<HistoryEvent>),
) -> ApiResult<Execution> {
    let compiled = app.definitions.by_id(&row.revision_id).ok_or_else(|| {
        steppe_store::Error::Decode(format!("revision {} is unknown", row.revision_id))
    })?;
    let input = serde_json::from_str(&row.input).map_err(steppe_store::Error::from)?;
    let mut info = execution_info(row, &compiled.revision.role_arn);
    // The log replays the redrives, and the engine counts them again.
    info.redrive_count = 0;
    let mut execution = Execution::new(info, input, config, row.seed);
    let id = row.id;
    for logged in app.read(move |store| store.inputs(id)).await? {
        let input: Input = logged.input.into();
        let definition = &compiled.definition;
        let transition = guarded(|| apply(definition, &mut execution, input, logged.now_millis))
            .map_err(|reason| {
                ApiError::internal(format!("the execution cannot be replayed: {reason}"))
            })?;
        events(transition.events);
    }
    Ok(execution)
}

/// The history of the Map Run child `execution_arn` names, as its parent's committed inputs
/// write it (a child's history is numbered from 1, as any execution's); `Ok(None)` if the
/// ARN is not shaped as a child's. At most `HISTORY_EVENTS_MAX` events (AWS's limit for one
/// execution's history, which a child reaching it fails at) and the failure.
pub async fn child_history(
    app: &App,
    arns: &Arns,
    execution_arn: &str,
) -> ApiResult<Option<Vec<HistoryEvent>>> {
    let Some((row, child)) = find_child_row(app, arns, execution_arn).await? else {
        return Ok(None);
    };
    let config = Config {
        child_history: Some(child),
        ..Config::standard()
    };
    // A child that reaches the limit fails with one event more, as an execution does.
    let max = limits::HISTORY_EVENTS_MAX as usize + 1;
    let mut history = Vec::new();
    let execution = replay(app, &row, config, |events| {
        let room = max.saturating_sub(history.len());
        history.extend(events.into_iter().take(room));
    })
    .await?;
    let exists = execution
        .map_runs()
        .get(child.map_run)
        .filter(|map_run| matches!(map_run.children.get(child.slot), Some(Some(_))))
        .and_then(|map_run| arn::map_run_child(&map_run.map_run_arn, child.map_run, child.slot))
        .is_some_and(|arn| arn == execution_arn);
    if !exists {
        return Err(ApiError::execution_does_not_exist(execution_arn));
    }
    Ok(Some(history))
}

/// `StopExecution` of the Map Run child `execution_arn` names: stops it if it runs, and
/// answers when it stopped (or ended), epoch milliseconds; `Ok(None)` if the ARN is not
/// shaped as a child's.
pub async fn stop_child(
    app: &App,
    arns: &Arns,
    execution_arn: &str,
    error: Option<&str>,
    cause: Option<&str>,
) -> ApiResult<Option<i64>> {
    let Some(found) = find_child(app, arns, execution_arn).await? else {
        return Ok(None);
    };
    if found.child.status != Status::Running {
        return Ok(Some(
            found.child.stop_millis.unwrap_or(found.child.start_millis),
        ));
    }
    let Some((row, child)) = find_child_row(app, arns, execution_arn).await? else {
        return Ok(None);
    };
    let input = Input::StopMapRunChild {
        child,
        error: error.map(str::to_string),
        cause: cause.map(str::to_string),
    };
    let applied = app.driver.deliver_and_wait(row.id, input).await?;
    if applied.applied {
        return Ok(Some(applied.now_millis));
    }
    // Its parent ended while the request waited, and ended it.
    let ended = find_child(app, arns, execution_arn).await?;
    Ok(Some(
        ended
            .and_then(|ended| ended.child.stop_millis)
            .unwrap_or(applied.now_millis),
    ))
}

/// The parent execution of the Map Run child `execution_arn` names, and which child it is;
/// `Ok(None)` if the ARN is not shaped as a child's, `ExecutionDoesNotExist` if there is no
/// such parent in `arns`' account and region.
async fn find_child_row(
    app: &App,
    arns: &Arns,
    execution_arn: &str,
) -> ApiResult<Option<(ExecutionRow, ChildId)>> {
    let Some((execution_id, ordinal, slot)) = arn::parse_map_run_child(execution_arn) else {
        return Ok(None);
    };
    let missing = || ApiError::execution_does_not_exist(execution_arn);
    if !arns.owns(execution_arn) {
        return Err(missing());
    }
    let row = app
        .read(move |store| store.execution(execution_id))
        .await?
        .ok_or_else(missing)?;
    let child = ChildId {
        map_run: ordinal,
        slot,
    };
    Ok(Some((row, child)))
}

/// `UpdateMapRun`: applies `update` to the running Map Run `map_run_arn`.
pub async fn update(
    app: &App,
    arns: &Arns,
    map_run_arn: &str,
    update: MapRunUpdate,
) -> ApiResult<()> {
    let (row, map_run) = find(app, arns, map_run_arn).await?;
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
