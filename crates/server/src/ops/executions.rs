//! StartExecution, StartSyncExecution, DescribeExecution, StopExecution, ListExecutions,
//! GetExecutionHistory and RedriveExecution on the wire: members read and checked as AWS
//! checks them, the executions service (`crate::executions`) called, its answers written
//! in AWS's shapes. ListExecutions and GetExecutionHistory read the store directly.

use crate::app::App;
use crate::arn::{self, Arn};
use crate::error::{ApiError, ApiResult};
use crate::executions::{self, Description, Finished, Start, Started};
use crate::wire::{self, Request};
use serde_json::{json, Value};
use steppe_store::{ExecutionQuery, ExecutionRow, ExecutionStatus, StateMachineType};

/// AWS's payload limit for `input` (and every state's input and output).
const PAYLOAD_CHARS_MAX: usize = steppe_asl::limits::PAYLOAD_BYTES_MAX;

/// StartExecution's and StartSyncExecution's members.
pub fn start_of(request: &Request) -> ApiResult<Start> {
    let target_arn = request.required_len("stateMachineArn", 1, 256)?;
    let name = request.string_len("name", 1, 80)?;
    let input = request
        .string_len("input", 0, PAYLOAD_CHARS_MAX)?
        .unwrap_or("{}");
    let member = request.string_len("traceHeader", 0, 256)?;
    // AWS: "If both sources are provided, Step Functions will use the header value
    // (preferred) over the value in the request body." A header that would not fit the member
    // (more than 256 characters) is not used.
    let header = request
        .trace_header
        .as_deref()
        .filter(|header| header.chars().count() <= 256);
    Ok(Start {
        arns: request.arns.clone(),
        target_arn: target_arn.to_string(),
        name: name.map(str::to_string),
        input: input.to_string(),
        trace_header: header.or(member).map(str::to_string),
    })
}

/// StartExecution's answer.
pub fn started_json(started: &Started) -> Value {
    json!({
        "executionArn": started.execution_arn,
        "startDate": wire::timestamp(started.start_millis),
    })
}

pub async fn start(app: &App, request: &Request) -> ApiResult<Value> {
    let started = executions::start(app, &start_of(request)?).await?;
    Ok(started_json(&started))
}

pub async fn start_sync(app: &App, request: &Request) -> ApiResult<Value> {
    let finished = executions::start_sync(app, &start_of(request)?).await?;
    Ok(finished_json(&finished))
}

/// StartSyncExecution's answer.
pub fn finished_json(finished: &Finished) -> Value {
    let Finished {
        start_millis: start,
        stop_millis: stop,
        ..
    } = *finished;
    let mut response = json!({
        "executionArn": finished.execution_arn,
        "stateMachineArn": finished.state_machine_arn,
        "name": finished.name,
        "startDate": wire::timestamp(start),
        "stopDate": wire::timestamp(stop),
        "status": finished.status.as_str(),
        "input": finished.input,
        "inputDetails": {"included": true},
        "billingDetails": {
            "billedMemoryUsedInMB": 64,
            "billedDurationInMilliseconds": ((stop - start).max(1) + 99) / 100 * 100,
        },
    });
    if let Some(output) = &finished.output {
        response["output"] = json!(output.to_string());
        response["outputDetails"] = json!({"included": true});
    }
    if let Some(error) = &finished.error {
        response["error"] = json!(error);
    }
    if let Some(cause) = &finished.cause {
        response["cause"] = json!(cause);
    }
    if let Some(trace_header) = &finished.trace_header {
        response["traceHeader"] = json!(trace_header);
    }
    response
}

pub async fn describe(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("executionArn", 1, 256)?;
    let metadata_only = included_data_metadata_only(request)?;
    if let Some(child) = crate::map_runs::find_child(app, &request.arns, arn).await? {
        return Ok(super::map_runs::describe_child(&child, metadata_only));
    }
    let description = executions::describe(app, &request.arns, arn).await?;
    Ok(description_json(&description, metadata_only))
}

/// DescribeExecution's answer (without input and output when `metadata_only`).
pub fn description_json(description: &Description, metadata_only: bool) -> Value {
    let row = &description.row;
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
    match &description.not_redrivable {
        Some(reason) => {
            response["redriveStatus"] = json!("NOT_REDRIVABLE");
            response["redriveStatusReason"] = json!(reason);
        }
        None => response["redriveStatus"] = json!("REDRIVABLE"),
    }
    response
}

/// Whether `includedData` asks for metadata only (`METADATA_ONLY`).
pub fn included_data_metadata_only(request: &Request) -> ApiResult<bool> {
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
    let child = crate::map_runs::stop_child(app, &request.arns, arn, error, cause).await?;
    let stop_millis = match child {
        Some(stop_millis) => stop_millis,
        None => executions::stop(app, &request.arns, arn, error, cause).await?,
    };
    Ok(json!({"stopDate": wire::timestamp(stop_millis)}))
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
    let machine_arn = match (machine_arn, map_run_arn) {
        (Some(arn), None) => arn,
        (None, Some(arn)) => {
            let filter = (status.map(|status| status.as_str()), redriven);
            let offset = request.offset_token()?;
            return super::map_runs::list_children(app, request, arn, filter, offset, limit).await;
        }
        _ => {
            return Err(ApiError::new(
                "ValidationException",
                "Must provide a StateMachine ARN or a MapRun ARN",
            ))
        }
    };
    let after = match request.string_len("nextToken", 1, 3096)? {
        None => None,
        Some(token) => Some(decode_cursor(token).ok_or_else(|| ApiError::invalid_token(token))?),
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
        let owned = request.arns.owns(machine_arn);
        let machine = match &qualifier {
            None if !owned => return Err(ApiError::state_machine_does_not_exist(machine_arn)),
            None => registry.machine(machine_arn)?,
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => {
                let version = registry
                    .versions
                    .get(machine_arn)
                    .filter(|_| owned)
                    .ok_or_else(|| ApiError::state_machine_does_not_exist(machine_arn))?;
                query.version_arn = Some(version.arn.clone());
                registry.machine(&version.state_machine_arn)?
            }
            Some(_) => {
                let alias = registry
                    .aliases
                    .get(machine_arn)
                    .filter(|_| owned)
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
    let mut rows = {
        let query = query.clone();
        app.read(move |store| store.list_executions(&query)).await?
    };
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
    let page = match crate::map_runs::child_history(app, &request.arns, arn).await? {
        Some(events) => child_history_page(events, after, reverse, limit + 1),
        None => {
            let row = executions::find(app, &request.arns, arn).await?;
            app.read(move |store| store.history(row.id, after, reverse, limit + 1))
                .await?
                .iter()
                .map(|event| (event.id, serde_json::from_str(&event.json)))
                .collect()
        }
    };
    let mut events = page
        .into_iter()
        .map(|(id, value)| {
            let mut value: Value = value?;
            if let Some(millis) = value.get("timestamp").and_then(Value::as_i64) {
                value["timestamp"] = wire::timestamp(millis);
            }
            if !include_data {
                strip_data(&mut value);
            }
            Ok((id, value))
        })
        .collect::<Result<Vec<(u64, Value)>, serde_json::Error>>()
        .map_err(|e| ApiError::internal(format!("a stored event would not decode: {e}")))?;
    let next = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|(id, _)| format!("steppe-events-{id:x}"))
    } else {
        None
    };
    let events: Vec<Value> = events.into_iter().map(|(_, value)| value).collect();
    let mut response = json!({ "events": events });
    if let Some(next) = next {
        response["nextToken"] = json!(next);
    }
    Ok(response)
}

/// One page of a Map Run child's history (rebuilt whole by a replay), as the store pages a
/// stored one: at most `limit` events after event `after` (0: from the first, or the last
/// when `reverse`).
fn child_history_page(
    events: Vec<steppe_engine::HistoryEvent>,
    after: u64,
    reverse: bool,
    limit: usize,
) -> Vec<(u64, serde_json::Result<Value>)> {
    let follows = |id: u64| match (after, reverse) {
        (0, _) => true,
        (after, false) => id > after,
        (after, true) => id < after,
    };
    let page = |event: &steppe_engine::HistoryEvent| (event.id, Ok(event.to_json()));
    if reverse {
        let newest_first = events.iter().rev().filter(|event| follows(event.id));
        newest_first.take(limit).map(page).collect()
    } else {
        let oldest_first = events.iter().filter(|event| follows(event.id));
        oldest_first.take(limit).map(page).collect()
    }
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
    let redrive_millis = executions::redrive(app, &request.arns, arn, client_token).await?;
    Ok(json!({"redriveDate": wire::timestamp(redrive_millis)}))
}
