//! StartExecution, StartSyncExecution, DescribeExecution, StopExecution, ListExecutions,
//! GetExecutionHistory and RedriveExecution.

use crate::app::App;
use crate::arn::{self, Arn};
use crate::driver::{self, execution_info};
use crate::error::{ApiError, ApiResult};
use crate::registry::{Compiled, Registry, Target};
use crate::wire::{self, Request};
use serde_json::{json, Value};
use std::sync::Arc;
use steppe_engine::{Config, Execution, Input};
use steppe_store::{
    ExecutionQuery, ExecutionRow, ExecutionStatus, RedriveToken, StateMachineType, Write,
};

/// AWS's payload limit for `input` (and every state's input and output).
const PAYLOAD_CHARS_MAX: usize = steppe_asl::limits::PAYLOAD_BYTES_MAX;

struct StartRequest<'a> {
    target: Target,
    compiled: Arc<Compiled>,
    name: Option<&'a str>,
    input_text: &'a str,
    input: Value,
    trace_header: Option<&'a str>,
    /// The Step Functions Local mock test case (`stateMachineArn#TestCaseName`), if any.
    test_case: Option<&'a str>,
}

/// Reads a start request and resolves its target in `registry`.
fn start_request<'a>(
    app: &App,
    registry: &Registry,
    request: &'a Request,
) -> ApiResult<StartRequest<'a>> {
    let target_arn = request.required_len("stateMachineArn", 1, 256)?;
    // With a mock configuration, `ARN#TestCaseName` picks a test case, as in Step Functions
    // Local; without one, `#` is just part of an invalid ARN.
    let (target_arn, test_case) = match target_arn.split_once('#') {
        Some((arn, test_case)) if app.driver.integrations().mocks.is_some() => {
            (arn, Some(test_case))
        }
        _ => (target_arn, None),
    };
    let name = request.string_len("name", 1, 80)?;
    let input_text = request
        .string_len("input", 0, PAYLOAD_CHARS_MAX)?
        .unwrap_or("{}");
    let trace_header = request.string_len("traceHeader", 0, 256)?;
    if let Some(name) = name {
        arn::check_name(name)?;
    }
    let target = registry.resolve(target_arn, app.random_f64())?;
    if let Some(test_case) = test_case {
        app.driver
            .integrations()
            .check_test_case(&target.machine.name, test_case)?;
    }
    let input = parse_input(input_text)?;
    let compiled = app
        .definitions
        .by_id(&target.revision_id)
        .ok_or_else(|| ApiError::internal("the state machine's definition is missing"))?;
    Ok(StartRequest {
        target,
        compiled,
        name,
        input_text,
        input,
        trace_header,
        test_case,
    })
}

pub async fn start(app: &App, request: &Request) -> ApiResult<Value> {
    // Held (shared with other starts) until the execution is committed: DeleteStateMachine,
    // which takes it to write, either comes first, and the start finds the machine DELETING
    // or gone, or comes after, and finds the execution running.
    let registry = app.registry.read().await;
    let start = start_request(app, &registry, request)?;
    if start.target.machine.machine_type == StateMachineType::Express {
        drop(registry);
        return start_express(app, start);
    }
    let name = start.name.map_or_else(|| app.uuid(), str::to_string);
    let arn = app.arns.execution(&start.target.machine.name, &name);
    if let Some(existing) = app.store.execution_by_arn(&arn)? {
        return idempotent_start(&existing, start.input_text);
    }
    let now = app.now_millis();
    let row = ExecutionRow {
        id: app.store.allocate_execution_id()?,
        arn: arn.clone(),
        name,
        state_machine_arn: start.target.machine.arn.clone(),
        version_arn: start.target.version_arn.clone(),
        alias_arn: start.target.alias_arn.clone(),
        revision_id: start.target.revision_id.clone(),
        seed: app.random_u64(),
        input: start.input_text.to_string(),
        trace_header: start.trace_header.map(str::to_string),
        status: ExecutionStatus::Running,
        start_millis: now,
        stop_millis: None,
        output: None,
        error: None,
        cause: None,
        redrive_count: 0,
        redrive_millis: None,
        test_case: start.test_case.map(str::to_string),
    };
    let info = execution_info(&row, &start.compiled.revision.role_arn, &app.arns.region);
    let execution = Execution::new(info, start.input, Config::standard(), row.seed);
    let started = app
        .driver
        .start(row, execution, start.compiled.definition.clone())
        .await;
    drop(registry);
    match started {
        Ok(_) => Ok(json!({"executionArn": arn, "startDate": wire::timestamp(now)})),
        Err(driver::Error::Store(steppe_store::Error::Conflict(_))) => {
            match app.store.execution_by_arn(&arn)? {
                // Another request started the same name first.
                Some(existing) => idempotent_start(&existing, start.input_text),
                None => Err(ApiError::internal("the execution could not be started")),
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// AWS: the same name and input while the first is running answers the first start;
/// anything else is `ExecutionAlreadyExists`.
fn idempotent_start(existing: &ExecutionRow, input_text: &str) -> ApiResult<Value> {
    if existing.status == ExecutionStatus::Running && existing.input == input_text {
        return Ok(json!({
            "executionArn": existing.arn,
            "startDate": wire::timestamp(existing.start_millis),
        }));
    }
    Err(ApiError::new(
        "ExecutionAlreadyExists",
        format!("Execution Already Exists: '{}'", existing.arn),
    ))
}

fn start_express(app: &App, start: StartRequest<'_>) -> ApiResult<Value> {
    let name = start.name.map_or_else(|| app.uuid(), str::to_string);
    let arn = app
        .arns
        .express(&start.target.machine.name, &name, &app.uuid());
    let now = app.now_millis();
    let runner = express_runner(app, &start)?;
    let execution = express_execution(app, &start, &arn, &name, now);
    tokio::spawn(async move {
        let mut execution = execution;
        runner.run(&mut execution, now).await;
    });
    Ok(json!({"executionArn": arn, "startDate": wire::timestamp(now)}))
}

/// A runner for an Express execution, if fewer than the limit run now.
fn express_runner(app: &App, start: &StartRequest<'_>) -> ApiResult<crate::express::Runner> {
    let admitted = app
        .express
        .admit(app.limits.express_running_max)
        .ok_or_else(ApiError::throttling)?;
    Ok(crate::express::Runner {
        admitted,
        integrations: app.driver.integrations().clone(),
        clock: app.clock.clone(),
        definition: start.compiled.definition.clone(),
        test_case: start.test_case.map(str::to_string),
        metrics: app.metrics.clone(),
    })
}

fn express_execution(
    app: &App,
    start: &StartRequest<'_>,
    arn: &str,
    name: &str,
    now: i64,
) -> Execution {
    let info = steppe_engine::ExecutionInfo {
        execution_arn: arn.to_string(),
        name: name.to_string(),
        state_machine_arn: start.target.machine.arn.clone(),
        state_machine_name: start.target.machine.name.clone(),
        role_arn: start.compiled.revision.role_arn.clone(),
        region: app.arns.region.clone(),
        start_time_millis: now,
        redrive_count: 0,
    };
    Execution::new(
        info,
        start.input.clone(),
        Config::express(),
        app.random_u64(),
    )
}

pub async fn start_sync(app: &App, request: &Request) -> ApiResult<Value> {
    let start = start_request(app, &*app.registry.read().await, request)?;
    if start.target.machine.machine_type != StateMachineType::Express {
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        ));
    }
    let name = start.name.map_or_else(|| app.uuid(), str::to_string);
    let arn = app
        .arns
        .express(&start.target.machine.name, &name, &app.uuid());
    let now = app.now_millis();
    let runner = express_runner(app, &start)?;
    let mut execution = express_execution(app, &start, &arn, &name, now);
    runner.run(&mut execution, now).await;
    let stop = execution.stop_time_millis.unwrap_or(now);
    let mut response = json!({
        "executionArn": arn,
        "stateMachineArn": start.target.machine.arn,
        "name": name,
        "startDate": wire::timestamp(now),
        "stopDate": wire::timestamp(stop),
        "status": execution.status.as_str(),
        "input": start.input_text,
        "inputDetails": {"included": true},
        "billingDetails": {
            "billedMemoryUsedInMB": 64,
            "billedDurationInMilliseconds": ((stop - now).max(1) + 99) / 100 * 100,
        },
    });
    if let Some(output) = &execution.output {
        response["output"] = json!(output.to_string());
        response["outputDetails"] = json!({"included": true});
    }
    if let Some(error) = &execution.error {
        if let Some(name) = &error.error {
            response["error"] = json!(name);
        }
        if let Some(cause) = &error.cause {
            response["cause"] = json!(cause);
        }
    }
    if let Some(trace_header) = start.trace_header {
        response["traceHeader"] = json!(trace_header);
    }
    Ok(response)
}

/// The stored Standard execution with this ARN, or AWS's error for it.
pub fn find(app: &App, execution_arn: &str) -> ApiResult<ExecutionRow> {
    match arn::parse(execution_arn)? {
        Arn::Execution => {}
        Arn::Express => return Err(ApiError::express_arn()),
        _ => return Err(ApiError::invalid_arn(execution_arn)),
    }
    app.store
        .execution_by_arn(execution_arn)?
        .ok_or_else(|| ApiError::execution_does_not_exist(execution_arn))
}

pub async fn describe(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("executionArn", 1, 256)?;
    let metadata_only = included_data_metadata_only(request)?;
    let row = find(app, arn)?;
    let mut response = json!({
        "executionArn": row.arn,
        "stateMachineArn": row.state_machine_arn,
        "name": row.name,
        "status": row.status.as_str(),
        "startDate": wire::timestamp(row.start_millis),
        "redriveCount": row.redrive_count,
    });
    if metadata_only {
        response["inputDetails"] = json!({"included": false});
    } else {
        response["input"] = json!(row.input);
        response["inputDetails"] = json!({"included": true});
    }
    if let Some(stop) = row.stop_millis {
        response["stopDate"] = wire::timestamp(stop);
    }
    if let Some(output) = &row.output {
        if metadata_only {
            response["outputDetails"] = json!({"included": false});
        } else {
            response["output"] = json!(output);
            response["outputDetails"] = json!({"included": true});
        }
    }
    if let Some(error) = &row.error {
        response["error"] = json!(error);
    }
    if let Some(cause) = &row.cause {
        response["cause"] = json!(cause);
    }
    if let Some(version) = &row.version_arn {
        response["stateMachineVersionArn"] = json!(version);
    }
    if let Some(alias) = &row.alias_arn {
        response["stateMachineAliasArn"] = json!(alias);
    }
    if let Some(trace_header) = &row.trace_header {
        response["traceHeader"] = json!(trace_header);
    }
    if let Some(redrive) = row.redrive_millis {
        response["redriveDate"] = wire::timestamp(redrive);
    }
    let refusal = not_redrivable(&*app.registry.read().await, &row, app.now_millis());
    match refusal {
        Some(reason) => {
            response["redriveStatus"] = json!("NOT_REDRIVABLE");
            response["redriveStatusReason"] = json!(reason);
        }
        None => response["redriveStatus"] = json!("REDRIVABLE"),
    }
    Ok(response)
}

fn included_data_metadata_only(request: &Request) -> ApiResult<bool> {
    match request.string("includedData")? {
        None | Some("ALL_DATA") => Ok(false),
        Some("METADATA_ONLY") => Ok(true),
        Some(other) => Err(ApiError::validation(
            &format!("'{other}'"),
            "includedData",
            "Member must satisfy enum value set: [ALL_DATA, METADATA_ONLY]",
        )),
    }
}

pub async fn stop(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("executionArn", 1, 256)?;
    let error = request.string_len("error", 0, 256)?;
    let cause = request.string_len("cause", 0, 32_768)?;
    let row = find(app, arn)?;
    if row.status != ExecutionStatus::Running {
        return Ok(
            json!({"stopDate": wire::timestamp(row.stop_millis.unwrap_or(row.start_millis))}),
        );
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
        return Ok(json!({"stopDate": wire::timestamp(applied.now_millis)}));
    }
    // It ended while the request waited.
    let row = find(app, arn)?;
    Ok(json!({"stopDate": wire::timestamp(row.stop_millis.unwrap_or(applied.now_millis))}))
}

pub async fn list(app: &App, request: &Request) -> ApiResult<Value> {
    let machine_arn = request.string_len("stateMachineArn", 1, 256)?;
    let map_run_arn = request.string_len("mapRunArn", 1, 2000)?;
    let limit = request.max_results(1000, 100)?;
    let status = match request.string("statusFilter")? {
        None => None,
        Some(text) => Some(text.parse::<ExecutionStatus>().map_err(|_| {
            ApiError::validation(
                &format!("'{text}'"),
                "statusFilter",
                "Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]",
            )
        })?),
    };
    let redriven = match request.string("redriveFilter")? {
        None => None,
        Some("REDRIVEN") => Some(true),
        Some("NOT_REDRIVEN") => Some(false),
        Some(other) => {
            return Err(ApiError::validation(
                &format!("'{other}'"),
                "redriveFilter",
                "Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]",
            ))
        }
    };
    let after = match request.string_len("nextToken", 1, 3096)? {
        None => None,
        Some(token) => Some(decode_cursor(token).ok_or_else(|| ApiError::invalid_token(token))?),
    };
    let machine_arn = match (machine_arn, map_run_arn) {
        (Some(arn), None) => arn,
        (None, Some(arn)) => {
            arn::parse(arn)?;
            return Err(ApiError::resource_not_found(arn));
        }
        _ => {
            return Err(ApiError::new(
                "ValidationException",
                "Must provide a StateMachine ARN or a MapRun ARN",
            ))
        }
    };
    let Arn::StateMachine { qualifier, .. } = arn::parse(machine_arn)? else {
        return Err(ApiError::invalid_arn(machine_arn));
    };
    let mut query = ExecutionQuery {
        status,
        redriven,
        after,
        limit: limit + 1,
        ..ExecutionQuery::default()
    };
    {
        let registry = app.registry.read().await;
        let machine = match &qualifier {
            None => registry.machine(machine_arn)?,
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => {
                let version = registry
                    .versions
                    .get(machine_arn)
                    .ok_or_else(|| ApiError::state_machine_does_not_exist(machine_arn))?;
                query.version_arn = Some(version.arn.clone());
                registry.machine(&version.state_machine_arn)?
            }
            Some(_) => {
                let alias = registry
                    .aliases
                    .get(machine_arn)
                    .ok_or_else(|| ApiError::resource_not_found(machine_arn))?;
                query.alias_arn = Some(alias.arn.clone());
                registry.machine(&alias.state_machine_arn)?
            }
        };
        if machine.machine_type == StateMachineType::Express {
            return Err(ApiError::new(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            ));
        }
        query.state_machine_arn = machine.arn.clone();
    }
    let mut rows = app.store.list_executions(&query)?;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .map(|last| encode_cursor(last.start_millis, last.id))
    } else {
        None
    };
    let executions: Vec<Value> = rows.iter().map(list_item).collect();
    let mut response = json!({ "executions": executions });
    if let Some(next) = next {
        response["nextToken"] = json!(next);
    }
    Ok(response)
}

fn list_item(row: &ExecutionRow) -> Value {
    let mut item = json!({
        "executionArn": row.arn,
        "stateMachineArn": row.state_machine_arn,
        "name": row.name,
        "status": row.status.as_str(),
        "startDate": wire::timestamp(row.start_millis),
    });
    if let Some(stop) = row.stop_millis {
        item["stopDate"] = wire::timestamp(stop);
    }
    if let Some(version) = &row.version_arn {
        item["stateMachineVersionArn"] = json!(version);
    }
    if let Some(alias) = &row.alias_arn {
        item["stateMachineAliasArn"] = json!(alias);
    }
    if row.redrive_count > 0 {
        item["redriveCount"] = json!(row.redrive_count);
    }
    item
}

fn encode_cursor(start_millis: i64, id: u64) -> String {
    format!("steppe-executions-{start_millis:x}-{id:x}")
}

fn decode_cursor(token: &str) -> Option<(i64, u64)> {
    let rest = token.strip_prefix("steppe-executions-")?;
    let (start, id) = rest.split_once('-')?;
    Some((
        i64::from_str_radix(start, 16).ok()?,
        u64::from_str_radix(id, 16).ok()?,
    ))
}

pub async fn history(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("executionArn", 1, 256)?;
    let limit = request.max_results(1000, 100)?;
    let reverse = request.boolean("reverseOrder")?.unwrap_or(false);
    let include_data = request.boolean("includeExecutionData")?.unwrap_or(true);
    let after = match request.string_len("nextToken", 1, 1024)? {
        None => 0,
        Some(token) => token
            .strip_prefix("steppe-events-")
            .and_then(|id| u64::from_str_radix(id, 16).ok())
            .ok_or_else(|| ApiError::invalid_token(token))?,
    };
    let row = find(app, arn)?;
    let mut stored = app.store.history(row.id, after, reverse, limit + 1)?;
    let next = if stored.len() > limit {
        stored.truncate(limit);
        stored.last().map(|e| format!("steppe-events-{:x}", e.id))
    } else {
        None
    };
    let events = stored
        .iter()
        .map(|event| {
            let mut value: Value = serde_json::from_str(&event.json)?;
            if let Some(millis) = value.get("timestamp").and_then(Value::as_i64) {
                value["timestamp"] = wire::timestamp(millis);
            }
            if !include_data {
                strip_data(&mut value);
            }
            Ok(value)
        })
        .collect::<Result<Vec<Value>, serde_json::Error>>()
        .map_err(|e| ApiError::internal(format!("a stored event would not decode: {e}")))?;
    let mut response = json!({ "events": events });
    if let Some(next) = next {
        response["nextToken"] = json!(next);
    }
    Ok(response)
}

/// Removes inputs and outputs from an event's details (`includeExecutionData: false`).
fn strip_data(event: &mut Value) {
    if let Some(map) = event.as_object_mut() {
        for (key, details) in map.iter_mut() {
            if !key.ends_with("EventDetails") {
                continue;
            }
            if let Some(details) = details.as_object_mut() {
                details.remove("input");
                details.remove("output");
                details.remove("inputDetails");
                details.remove("outputDetails");
            }
        }
    }
}

pub async fn redrive(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("executionArn", 1, 256)?;
    let client_token = request.string_len("clientToken", 1, 64)?;
    let row = find(app, arn)?;
    let now = app.now_millis();
    if let Some(token) = client_token {
        if let Some(redrive_millis) = remembered_redrive(app, row.id, token, now)? {
            return Ok(json!({"redriveDate": wire::timestamp(redrive_millis)}));
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
    let after = find(app, arn)?;
    match after.redrive_millis {
        Some(redrive_millis) if after.redrive_count > row.redrive_count => {
            Ok(json!({"redriveDate": wire::timestamp(redrive_millis)}))
        }
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
fn remembered_redrive(
    app: &App,
    execution_id: u64,
    token: &str,
    now: i64,
) -> ApiResult<Option<i64>> {
    let tokens = app.store.redrive_tokens(execution_id)?;
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
fn not_redrivable(registry: &Registry, row: &ExecutionRow, now_millis: i64) -> Option<String> {
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
