//! The executions service: starting, stopping, describing and redriving executions, in
//! typed requests and answers, between the API's wire adapter (`ops::executions`) and the
//! driver (Standard) or the Express runner.
//!
//! Everything that starts or stops an execution goes through here: the API, nested
//! workflows (`nested.rs`, a child is started exactly as a client would start it) and
//! DeleteStateMachine's second half. Length limits of the wire's members are checked by the
//! wire adapter; everything else (names, targets, inputs, states) here, with AWS's errors.

use crate::app::App;
use crate::arn::{self, Arn, Arns};
use crate::driver::{self, execution_info};
use crate::error::{ApiError, ApiResult};
use crate::registry::{Compiled, Registry, Target};
use serde_json::Value;
use std::sync::Arc;
use steppe_engine::{Config, Execution, Input, Status};
use steppe_store::{ExecutionRow, ExecutionStatus, RedriveToken, StateMachineType, Write};

/// A start, as StartExecution and StartSyncExecution ask for one.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// The account and region it starts in: its target must be of them, and so is the
    /// execution (a nested child starts in its parent's).
    pub arns: Arns,
    /// A state machine, version or alias ARN; with a mock configuration,
    /// `ARN#TestCaseName` picks a test case, as in Step Functions Local.
    pub target_arn: String,
    /// The execution's name (a UUID when absent).
    pub name: Option<String>,
    /// The execution's input, JSON text.
    pub input: String,
    /// An X-Ray trace header to keep with the execution.
    pub trace_header: Option<String>,
}

/// An execution that was started (or found started by the same name and input).
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// Its ARN.
    pub execution_arn: String,
    /// When it started, epoch milliseconds.
    pub start_millis: i64,
}

/// An Express execution run to its end by StartSyncExecution.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// Its ARN.
    pub execution_arn: String,
    /// The state machine it ran.
    pub state_machine_arn: String,
    /// Its name.
    pub name: String,
    /// When it started, epoch milliseconds.
    pub start_millis: i64,
    /// When it ended, epoch milliseconds.
    pub stop_millis: i64,
    /// How it ended.
    pub status: Status,
    /// Its input, JSON text.
    pub input: String,
    /// Its output, if it succeeded.
    pub output: Option<Value>,
    /// Its error, if it failed.
    pub error: Option<String>,
    /// Its cause, if it failed.
    pub cause: Option<String>,
    /// The trace header it was started with.
    pub trace_header: Option<String>,
}

/// A stored Standard execution and whether it can be redriven now.
#[derive(Debug, Clone)]
pub struct Description {
    /// The stored execution.
    pub row: ExecutionRow,
    /// Why it cannot be redriven now (`None`: it can).
    pub not_redrivable: Option<String>,
}

/// A start's target, resolved.
struct Resolved<'a> {
    target: Target,
    compiled: Arc<Compiled>,
    start: &'a Start,
    input: Value,
    test_case: Option<&'a str>,
}

/// Checks a start and resolves its target in `registry`.
fn resolve<'a>(app: &App, registry: &Registry, start: &'a Start) -> ApiResult<Resolved<'a>> {
    // With a mock configuration, `ARN#TestCaseName` picks a test case, as in Step Functions
    // Local; without one, `#` is just part of an invalid ARN.
    let (target_arn, test_case) = match start.target_arn.split_once('#') {
        Some((arn, test_case)) if app.driver.integrations().mocks.is_some() => {
            (arn, Some(test_case))
        }
        _ => (start.target_arn.as_str(), None),
    };
    if let Some(name) = &start.name {
        arn::check_name(name)?;
    }
    arn::parse(target_arn)?;
    if !start.arns.owns(target_arn) {
        return Err(ApiError::state_machine_does_not_exist(target_arn));
    }
    let target = registry.resolve(target_arn, app.random_f64())?;
    if let Some(test_case) = test_case {
        app.driver
            .integrations()
            .check_test_case(&target.machine.name, test_case)?;
    }
    let input = parse_input(&start.input)?;
    let compiled = app
        .definitions
        .by_id(&target.revision_id)
        .ok_or_else(|| ApiError::internal("the state machine's definition is missing"))?;
    Ok(Resolved {
        target,
        compiled,
        start,
        input,
        test_case,
    })
}

/// Resolves a start's target; when it fails on a shared store, catches up with what other
/// nodes wrote (the target may have been created through one a moment ago) and resolves it
/// again. Answers the registry, read-locked, with it.
async fn resolve_fresh<'a>(
    app: &'a App,
    start: &'a Start,
) -> ApiResult<(tokio::sync::RwLockReadGuard<'a, Registry>, Resolved<'a>)> {
    let registry = app.registry.read().await;
    let error = match resolve(app, &registry, start) {
        Ok(resolved) => return Ok((registry, resolved)),
        Err(error) => error,
    };
    drop(registry);
    if !app.cluster.shared() {
        return Err(error);
    }
    // Resolved again even when catching up read nothing: the node's watcher may have
    // applied the other node's write meanwhile.
    crate::resources::catch_up(app).await?;
    let registry = app.registry.read().await;
    let resolved = resolve(app, &registry, start)?;
    Ok((registry, resolved))
}

/// Starts an execution: a Standard one is committed before this answers; an Express one
/// runs in the background.
///
/// On a shared store the start commits only while its machine (and the version or alias
/// it resolved) is still active in the store (`Write::ExpectActive`): this node may not
/// have heard yet of a deletion another node made. A start refused so catches up with the
/// store and resolves its target again, which answers as AWS does (`StateMachineDeleting`,
/// `StateMachineDoesNotExist`), or starts once more when the target resolves elsewhere now
/// (an alias another node pointed at another version): at most
/// [`crate::limits::START_ATTEMPTS_MAX`] times.
pub async fn start(app: &App, start: &Start) -> ApiResult<Started> {
    let mut attempts = 1;
    loop {
        match start_once(app, start).await? {
            Attempt::Started(started) => return Ok(started),
            Attempt::Inactive if attempts < crate::limits::START_ATTEMPTS_MAX => {
                attempts += 1;
                crate::resources::catch_up(app).await?;
            }
            // Its target keeps changing under it: 503, which SDKs retry.
            Attempt::Inactive => {
                return Err(steppe_store::Error::Conflict(format!(
                    "{} changed through another node while it was started",
                    start.target_arn
                ))
                .into());
            }
        }
    }
}

/// What one attempt of [`start`] came to.
enum Attempt {
    Started(Started),
    /// Its target was no longer active in the store when it committed.
    Inactive,
}

/// One attempt of [`start`].
async fn start_once(app: &App, start: &Start) -> ApiResult<Attempt> {
    // Held (shared with other starts) until the execution is committed: DeleteStateMachine,
    // which takes it to write, either comes first, and the start finds the machine DELETING
    // or gone, or comes after, and finds the execution running.
    let (registry, resolved) = resolve_fresh(app, start).await?;
    if resolved.target.machine.machine_type == StateMachineType::Express {
        drop(registry);
        return start_express(app, &resolved).map(Attempt::Started);
    }
    let name = start.name.clone().unwrap_or_else(|| app.uuid());
    let arn = start.arns.execution(&resolved.target.machine.name, &name);
    let (existing, id) = {
        let arn = arn.clone();
        app.read(move |store| match store.execution_by_arn(&arn)? {
            Some(existing) => Ok((Some(existing), 0)),
            None => Ok((None, store.allocate_execution_id()?)),
        })
        .await?
    };
    if let Some(existing) = existing {
        return idempotent_start(&existing, &start.input).map(Attempt::Started);
    }
    let now = app.now_millis();
    let row = ExecutionRow {
        id,
        arn: arn.clone(),
        name,
        state_machine_arn: resolved.target.machine.arn.clone(),
        version_arn: resolved.target.version_arn.clone(),
        alias_arn: resolved.target.alias_arn.clone(),
        revision_id: resolved.target.revision_id.clone(),
        seed: app.random_u64(),
        input: start.input.clone(),
        trace_header: start.trace_header.clone(),
        status: ExecutionStatus::Running,
        start_millis: now,
        stop_millis: None,
        output: None,
        error: None,
        cause: None,
        redrive_count: 0,
        redrive_millis: None,
        test_case: resolved.test_case.map(str::to_string),
    };
    let conditions = if app.cluster.shared() {
        active_conditions(&resolved.target)
    } else {
        // One server: its registry's lock orders starts and deletions already.
        Vec::new()
    };
    let info = execution_info(&row, &resolved.compiled.revision.role_arn);
    let execution = Execution::new(info, resolved.input, Config::standard(), row.seed);
    let started = app
        .driver
        .start(
            row,
            conditions,
            execution,
            resolved.compiled.definition.clone(),
        )
        .await;
    drop(registry);
    match started {
        Ok(_) => Ok(Attempt::Started(Started {
            execution_arn: arn,
            start_millis: now,
        })),
        Err(driver::Error::Store(steppe_store::Error::Conflict(_))) => {
            let read = arn.clone();
            match app.read(move |store| store.execution_by_arn(&read)).await? {
                // Another request started the same name first.
                Some(existing) => idempotent_start(&existing, &start.input).map(Attempt::Started),
                // Or the target was deleted (or began to be) through another node.
                None if app.cluster.shared() => Ok(Attempt::Inactive),
                None => Err(ApiError::internal("the execution could not be started")),
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// The conditions a start of `target` commits under: its machine, version and alias still
/// active in the store.
fn active_conditions(target: &Target) -> Vec<Write> {
    std::iter::once(&target.machine.arn)
        .chain(&target.version_arn)
        .chain(&target.alias_arn)
        .map(|key| Write::ExpectActive { key: key.clone() })
        .collect()
}

/// AWS: the same name and input while the first is running answers the first start;
/// anything else is `ExecutionAlreadyExists`.
fn idempotent_start(existing: &ExecutionRow, input: &str) -> ApiResult<Started> {
    if existing.status == ExecutionStatus::Running && existing.input == input {
        return Ok(Started {
            execution_arn: existing.arn.clone(),
            start_millis: existing.start_millis,
        });
    }
    Err(ApiError::new(
        "ExecutionAlreadyExists",
        format!("Execution Already Exists: '{}'", existing.arn),
    ))
}

fn start_express(app: &App, resolved: &Resolved<'_>) -> ApiResult<Started> {
    let (arn, name) = express_names(app, resolved);
    let now = app.now_millis();
    let seed = app.random_u64();
    let runner = express_runner(app, resolved, &arn, seed)?;
    let execution = express_execution(resolved, (&arn, &name), now, &runner);
    tokio::spawn(async move {
        let mut execution = execution;
        runner.run(&mut execution, now).await;
    });
    Ok(Started {
        execution_arn: arn,
        start_millis: now,
    })
}

/// An Express execution's ARN and name.
fn express_names(app: &App, resolved: &Resolved<'_>) -> (String, String) {
    let name = resolved.start.name.clone().unwrap_or_else(|| app.uuid());
    let arn = resolved
        .start
        .arns
        .express(&resolved.target.machine.name, &name, &app.uuid());
    (arn, name)
}

/// A runner for an Express execution, if fewer than the limit run now.
fn express_runner(
    app: &App,
    resolved: &Resolved<'_>,
    arn: &str,
    seed: u64,
) -> ApiResult<crate::express::Runner> {
    let admitted = app
        .express
        .admit(app.limits.express_running_max)
        .ok_or_else(ApiError::throttling)?;
    Ok(crate::express::Runner {
        admitted,
        integrations: app.driver.integrations().clone(),
        clock: app.clock.clone(),
        definition: resolved.compiled.definition.clone(),
        test_case: resolved.test_case.map(str::to_string),
        clock_jumps: app.clock_jumps.subscribe(),
        metrics: app.metrics.clone(),
        recent: app.express_recent.clone(),
        trace: app.driver.integrations().traces.begin(
            arn,
            &resolved.target.machine.arn,
            resolved.start.trace_header.as_deref(),
            resolved.compiled.definition.clone(),
        ),
        seed,
        // Kept only with the execution, for the console.
        input: if app.express_recent.keeps() {
            resolved.start.input.clone()
        } else {
            String::new()
        },
        execution_log: app.driver.integrations().execution_log.session(
            &resolved.target.machine.arn,
            arn,
            None,
        ),
    })
}

/// An Express execution; one that is traced, or whose machine logs its executions, records
/// its history events, which its spans and log events are made from (with the execution's
/// data in them only when they are logged).
fn express_execution(
    resolved: &Resolved<'_>,
    (arn, name): (&str, &str),
    now: i64,
    runner: &crate::express::Runner,
) -> Execution {
    let info = steppe_engine::ExecutionInfo {
        execution_arn: arn.to_string(),
        name: name.to_string(),
        state_machine_arn: resolved.target.machine.arn.clone(),
        state_machine_name: resolved.target.machine.name.clone(),
        role_arn: resolved.compiled.revision.role_arn.clone(),
        region: resolved.start.arns.region.clone(),
        start_time_millis: now,
        redrive_count: 0,
        id: 0,
    };
    let config = Config {
        record_history: runner.trace.is_some() || runner.execution_log.is_some(),
        // Spans need the events, not the execution's data in them: only log events show it.
        history_payloads: runner.execution_log.is_some(),
        ..Config::express()
    };
    Execution::new(info, resolved.input.clone(), config, runner.seed)
}

/// Runs an Express execution to its end (StartSyncExecution).
pub async fn start_sync(app: &App, start: &Start) -> ApiResult<Finished> {
    let (registry, resolved) = resolve_fresh(app, start).await?;
    drop(registry);
    if resolved.target.machine.machine_type != StateMachineType::Express {
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        ));
    }
    let (arn, name) = express_names(app, &resolved);
    let now = app.now_millis();
    let seed = app.random_u64();
    let runner = express_runner(app, &resolved, &arn, seed)?;
    let mut execution = express_execution(&resolved, (&arn, &name), now, &runner);
    runner.run(&mut execution, now).await;
    let (error, cause) = match execution.error {
        Some(error) => (error.error, error.cause),
        None => (None, None),
    };
    Ok(Finished {
        execution_arn: arn,
        state_machine_arn: resolved.target.machine.arn.clone(),
        name,
        start_millis: now,
        stop_millis: execution.stop_time_millis.unwrap_or(now),
        status: execution.status,
        input: start.input.clone(),
        output: execution.output,
        error,
        cause,
        trace_header: start.trace_header.clone(),
    })
}

/// The stored Standard execution with this ARN in `arns`' account and region, or AWS's error
/// for it.
pub async fn find(app: &App, arns: &Arns, execution_arn: &str) -> ApiResult<ExecutionRow> {
    check_execution_arn(arns, execution_arn)?;
    let arn = execution_arn.to_string();
    app.read(move |store| store.execution_by_arn(&arn))
        .await?
        .ok_or_else(|| ApiError::execution_does_not_exist(execution_arn))
}

/// [`find`], for callers already on the blocking pool (the console's history).
pub fn find_blocking(app: &App, arns: &Arns, execution_arn: &str) -> ApiResult<ExecutionRow> {
    check_execution_arn(arns, execution_arn)?;
    app.store
        .execution_by_arn(execution_arn)?
        .ok_or_else(|| ApiError::execution_does_not_exist(execution_arn))
}

/// Refuses what is no Standard execution's ARN of `arns`' account and region.
fn check_execution_arn(arns: &Arns, execution_arn: &str) -> ApiResult<()> {
    match arn::parse(execution_arn)? {
        Arn::Execution => {}
        Arn::Express => return Err(ApiError::express_arn()),
        _ => return Err(ApiError::invalid_arn(execution_arn)),
    }
    if !arns.owns(execution_arn) {
        return Err(ApiError::execution_does_not_exist(execution_arn));
    }
    Ok(())
}

/// A Standard execution as stored, with whether it can be redriven now.
pub async fn describe(app: &App, arns: &Arns, execution_arn: &str) -> ApiResult<Description> {
    let row = find(app, arns, execution_arn).await?;
    let not_redrivable = not_redrivable(&*app.registry.read().await, &row, app.now_millis());
    Ok(Description {
        row,
        not_redrivable,
    })
}

/// Stops a Standard execution (nothing happens to one that has ended); answers when it
/// stopped (or ended), epoch milliseconds.
pub async fn stop(
    app: &App,
    arns: &Arns,
    execution_arn: &str,
    error: Option<&str>,
    cause: Option<&str>,
) -> ApiResult<i64> {
    let row = find(app, arns, execution_arn).await?;
    if row.status != ExecutionStatus::Running {
        return Ok(row.stop_millis.unwrap_or(row.start_millis));
    }
    let applied = app
        .driver
        .deliver_and_wait(
            row.id,
            Input::Stop {
                error: error.map(str::to_string),
                cause: cause.map(str::to_string),
            },
        )
        .await?;
    if applied.applied {
        return Ok(applied.now_millis);
    }
    // It ended while the request waited.
    let row = find(app, arns, execution_arn).await?;
    Ok(row.stop_millis.unwrap_or(applied.now_millis))
}

/// Redrives a failed, timed-out or aborted Standard execution; answers the redrive's time,
/// epoch milliseconds (for a `client_token` used in the last 15 minutes, the first one's).
pub async fn redrive(
    app: &App,
    arns: &Arns,
    execution_arn: &str,
    client_token: Option<&str>,
) -> ApiResult<i64> {
    let row = find(app, arns, execution_arn).await?;
    let now = app.now_millis();
    if let Some(token) = client_token {
        if let Some(redrive_millis) = remembered_redrive(app, row.id, token, now).await? {
            return Ok(redrive_millis);
        }
    }
    // Held until the redrive is committed: DeleteStateMachine (which takes it to write)
    // either comes first, and the redrive is refused, or finds the execution running again.
    let registry = app.registry.read().await;
    if let Some(reason) = not_redrivable(&registry, &row, now) {
        return Err(ApiError::new("ExecutionNotRedrivable", reason));
    }
    // The token commits with the redrive, so a restart still answers it.
    let writes = client_token
        .map(|token| Write::RedriveToken {
            execution_id: row.id,
            token: RedriveToken {
                client_token: token.to_string(),
                redrive_millis: now,
            },
        })
        .into_iter()
        .collect();
    app.driver
        .deliver_with_writes_and_wait(row.id, Input::Redrive, now, writes)
        .await?;
    drop(registry);
    // The engine ignores a redrive it cannot carry out (an execution that hit the history
    // limit); the stored count says whether this one took.
    let after = find(app, arns, execution_arn).await?;
    match after.redrive_millis {
        Some(redrive_millis) if after.redrive_count > row.redrive_count => Ok(redrive_millis),
        _ => Err(ApiError::new(
            "ExecutionNotRedrivable",
            format!("Execution is {} and cannot be redriven", row.status),
        )),
    }
}

/// How long AWS answers a redrive's client token again (it keeps the last 10: the store's
/// `REDRIVE_TOKENS_KEPT`).
const REDRIVE_TOKEN_MILLIS: i64 = 15 * 60 * 1000;

/// The redrive date answered for `token` on the execution, if the token was first used in
/// the last 15 minutes.
async fn remembered_redrive(
    app: &App,
    execution_id: u64,
    token: &str,
    now: i64,
) -> ApiResult<Option<i64>> {
    let tokens = app
        .read(move |store| store.redrive_tokens(execution_id))
        .await?;
    Ok(tokens
        .iter()
        .find(|kept| {
            kept.client_token == token && now - kept.redrive_millis <= REDRIVE_TOKEN_MILLIS
        })
        .map(|kept| kept.redrive_millis))
}

/// How long after it ended AWS lets an execution be redriven.
const REDRIVE_PERIOD_MILLIS: i64 = 14 * 24 * 60 * 60 * 1000;

/// Why an execution cannot be redriven now, if it cannot: DescribeExecution's
/// `redriveStatusReason` and RedriveExecution's `ExecutionNotRedrivable` message alike.
///
/// The wording is AWS's (DescribeExecution's `redriveStatusReason` reference lists "State
/// machine is in DELETING status", "Execution is RUNNING and cannot be redriven", "Execution is
/// SUCCEEDED and cannot be redriven", "Execution redrivable period exceeded", ...), except
/// for a state machine whose deletion has finished (or whose name a newer machine took),
/// for which AWS documents no reason: its executions are not redriven either, since their
/// machine is gone.
pub(crate) fn not_redrivable(
    registry: &Registry,
    row: &ExecutionRow,
    now_millis: i64,
) -> Option<String> {
    if matches!(
        row.status,
        ExecutionStatus::Running | ExecutionStatus::Succeeded
    ) {
        return Some(format!(
            "Execution is {} and cannot be redriven",
            row.status
        ));
    }
    if row.error.as_deref() == Some(steppe_asl::error_name::RUNTIME)
        && row
            .cause
            .as_deref()
            .is_some_and(|cause| cause.starts_with(steppe_engine::HISTORY_LIMIT_CAUSE))
    {
        return Some("Execution history event limit exceeded".to_string());
    }
    match registry.state_machines.get(&row.state_machine_arn) {
        Some(machine) if machine.creation_millis > row.start_millis => {
            return Some(MACHINE_DELETED.to_string())
        }
        Some(machine) if machine.deleting => {
            return Some("State machine is in DELETING status".to_string())
        }
        Some(_) => {}
        None => return Some(MACHINE_DELETED.to_string()),
    }
    if row
        .stop_millis
        .is_some_and(|stop| now_millis - stop > REDRIVE_PERIOD_MILLIS)
    {
        return Some("Execution redrivable period exceeded".to_string());
    }
    None
}

/// Why an execution of a deleted state machine cannot be redriven (no AWS wording known).
const MACHINE_DELETED: &str = "State machine has been deleted";

/// Parses an execution input, answering `InvalidExecutionInput` in AWS's (Jackson's) wording
/// where we know it.
pub fn parse_input(text: &str) -> ApiResult<Value> {
    serde_json::from_str(text).map_err(|error| {
        ApiError::new(
            "InvalidExecutionInput",
            format!(
                "Invalid State Machine Execution Input: '{}'",
                jackson_message(text, &error)
            ),
        )
    })
}

fn jackson_message(text: &str, error: &serde_json::Error) -> String {
    let message = error.to_string();
    let offending = text
        .lines()
        .nth(error.line().saturating_sub(1))
        .and_then(|line| line.chars().nth(error.column().saturating_sub(1)));
    match (error.classify(), offending) {
        (serde_json::error::Category::Eof, _) => "Unexpected end-of-input".to_string(),
        (_, Some(c)) if message.starts_with("key must be a string") => format!(
            "Unexpected character ('{c}' (code {})): was expecting double-quote to start field name",
            c as u32
        ),
        (_, Some(c)) if message.starts_with("expected value") => format!(
            "Unexpected character ('{c}' (code {})): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
            c as u32
        ),
        _ => message,
    }
}
