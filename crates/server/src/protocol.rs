//! The AWS JSON 1.0 protocol: `POST /` with `X-Amz-Target: AWSStepFunctions.<Operation>`.
//!
//! Requests whose `Host` names something other than `localhost`, an IP address or an
//! `--allowed-host` are refused (`hosts.rs`); the `sync-` host prefix (StartSyncExecution,
//! TestState) is accepted. With `--credentials` every signature is checked (`auth.rs`);
//! without, any SigV4 signature, or none, is accepted. Either way a request acts in the
//! account and region of its signature (`auth::scope`). Every request gets a JSON answer; an
//! operation that panics answers HTTP 500 `InternalFailure` and the server keeps running.

use crate::app::App;
use crate::error::ApiError;
use crate::metrics::Operation;
use crate::serve::read_body;
use crate::wire::Request;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// The header the console's own non-GET requests carry (see `console`).
#[cfg(feature = "console")]
const CONSOLE_HEADER: &str = "x-steppe-console";

/// The content type of every request and response.
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The router: the API at `/`, and the web console under `/console/`.
pub fn router(app: Arc<App>) -> Router {
    let router = Router::new()
        .route("/", post(handle).get(home))
        .route("/health", axum::routing::get(health))
        .route("/ready", axum::routing::get(ready))
        .route(
            "/steppe/clock",
            axum::routing::get(clock).post(advance_clock),
        )
        .route("/metrics", axum::routing::get(metrics));
    #[cfg(feature = "console")]
    let router = router
        .route("/console", axum::routing::any(console))
        .route("/console/", axum::routing::any(console))
        .route("/console/{*path}", axum::routing::any(console));
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            check_host,
        ))
        .with_state(app)
}

/// `GET /steppe/clock`: `{"now": epoch milliseconds, "timeScale": N}`; 404 without
/// `--time-scale`.
async fn clock(State(app): State<Arc<App>>) -> Response {
    let Some(control) = &app.clock_control else {
        return not_found().await;
    };
    let now = app.clock.now_millis();
    let body = serde_json::json!({"now": now, "timeScale": control.factor()});
    plain_json(StatusCode::OK, body.to_string())
}

/// The most `POST /steppe/clock` moves the clock at once: a year.
const CLOCK_ADVANCE_SECONDS_MAX: u64 = 366 * 24 * 60 * 60;

/// `POST /steppe/clock` with `{"advanceSeconds": S}`: moves the clock `S` seconds forward
/// (timers that fall due fire at once) and answers as `GET` does; 404 without `--time-scale`.
async fn advance_clock(
    State(app): State<Arc<App>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(control) = app.clock_control.clone() else {
        return not_found().await;
    };
    let bytes = match read_body(body, app.limits.body_read_timeout).await {
        Ok(bytes) => bytes,
        Err(error) => return respond(Err(error)),
    };
    if let Err(error) = verify_signature(&app, "POST", &uri, &headers, &bytes) {
        return respond(Err(error));
    }
    let seconds = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|body| body.get("advanceSeconds").and_then(Value::as_u64))
        .filter(|seconds| *seconds <= CLOCK_ADVANCE_SECONDS_MAX);
    let Some(seconds) = seconds else {
        return respond(Err(ApiError::new(
            "ValidationException",
            format!(
                "The body must be {{\"advanceSeconds\": S}} with S a whole number from 0 to \
                 {CLOCK_ADVANCE_SECONDS_MAX}"
            ),
        )));
    };
    control.advance((seconds * 1000) as i64);
    app.driver.clock_moved();
    app.clock_jumps.send_modify(|jumps| *jumps += 1);
    clock(State(app)).await
}

/// Who made a request: a client whose signature checks (see [`verify_signature`]), or
/// another node of the cluster showing the cluster's key, with the scope it acts in.
fn authenticated(
    app: &App,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Option<crate::auth::Caller>, Option<crate::arn::Arns>), ApiError> {
    match app.cluster.internal_scope(headers) {
        Some(scope) => Ok((None, Some(scope?))),
        None => Ok((verify_signature(app, "POST", uri, headers, body)?, None)),
    }
}

/// With `--credentials`, checks the request's SigV4 signature (see `auth.rs`).
fn verify_signature(
    app: &App,
    method: &str,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<crate::auth::Caller>, ApiError> {
    let Some(credentials) = &app.credentials else {
        return Ok(None);
    };
    let signed = crate::auth::Signed {
        method,
        path_and_query: uri.path_and_query().map_or("/", |path| path.as_str()),
        headers: headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect(),
        body,
    };
    // Signatures carry real time, whatever the server's clock runs at (`--time-scale`).
    let real_now = steppe_runtime::Clock::now_millis(&steppe_runtime::SystemClock);
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_millis(real_now.max(0) as u64);
    credentials.verify(&signed, now).map(Some)
}

/// Refuses requests whose `Host` the server does not answer to (see `hosts.rs`).
async fn check_host(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request.headers().get(axum::http::header::HOST);
    if let Some(host) = host {
        let host = host.to_str().unwrap_or_default();
        if !app.hosts.permits(host) {
            let error = ApiError::new(
                "AccessDeniedException",
                format!(
                    "This server does not answer to the host '{host}' (a guard against DNS \
                     rebinding); start it with --allowed-host NAME to answer to another name"
                ),
            );
            return respond(Err(ApiError {
                status: 403,
                ..error
            }));
        }
    }
    next.run(request).await
}

/// The web console (`steppe-console`): its page, files and diagram endpoint; the server
/// answers the pending-task list itself (activity tasks and callback tokens).
#[cfg(feature = "console")]
async fn console(
    State(app): State<Arc<App>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // A page of another site can POST a form or `text/plain` to any address without asking
    // (a "simple" request); it cannot add a header of its own without the browser asking
    // this server first, which it does not allow. So the console's POSTs carry one.
    if method != axum::http::Method::GET && !headers.contains_key(CONSOLE_HEADER) {
        let error = ApiError::new(
            "AccessDeniedException",
            format!("The console's {method} requests carry the header {CONSOLE_HEADER}"),
        );
        return respond(Err(ApiError {
            status: 403,
            ..error
        }));
    }
    let body = match read_body(body, app.limits.body_read_timeout).await {
        Ok(bytes) => bytes,
        Err(error) => return respond(Err(error)),
    };
    // The page and its files hold no data; what the console's endpoints answer (task tokens
    // among it) is behind the same credentials as the API.
    // Its endpoints answer in the signer's account and region, as the API does; unsigned
    // (no --credentials), in the server's own.
    let mut arns = app.arns.clone();
    if uri.path().starts_with("/console/api/") {
        let scoped = verify_signature(&app, method.as_str(), &uri, &headers, &body)
            .and_then(|caller| request_scope(&app, caller.as_ref(), &headers));
        match scoped {
            Ok(scope) => arns = scope,
            Err(error) => return respond(Err(error)),
        }
    }
    let path = uri.path();
    let answer = if path == steppe_console::TASKS_PATH {
        let execution_arn = query_value(&uri, "executionArn");
        Some(
            match pending_tasks(&app, &arns, execution_arn.as_deref()).await {
                Ok(body) => console_json(200, &body),
                Err(error) => {
                    console_json(error.status, &serde_json::json!({"message": error.message}))
                }
            },
        )
    } else if path == steppe_console::STDERR_PATH {
        Some(match query_value(&uri, "executionArn") {
            None => console_json(
                400,
                &serde_json::json!({"message": "executionArn is required"}),
            ),
            Some(execution_arn) => console_json(200, &stderr_tails(&app, &arns, &execution_arn)),
        })
    } else if path == steppe_console::EXECUTIONS_PATH || path == steppe_console::MACHINES_PATH {
        Some(console_list(&app, &arns, path, &uri).await)
    } else if path == steppe_console::HISTORY_PATH {
        Some(console_history(&app, &arns, &uri).await)
    } else if path == steppe_console::EXPRESS_PATH {
        Some(match query_value(&uri, "executionArn") {
            Some(execution_arn) if !arns.owns(&execution_arn) => console_json(
                404,
                &serde_json::json!({"message": format!(
                    "This server keeps no ended Express execution '{execution_arn}' in {} {}",
                    arns.account, arns.region
                )}),
            ),
            Some(execution_arn) => match replayed(&app, &execution_arn).await {
                Some(body) => console_json(200, &body),
                None => console_json(
                    404,
                    &serde_json::json!({"message": format!(
                        "This server keeps no ended Express execution '{execution_arn}' (it keeps the last {} to end, in memory)",
                        app.limits.express_kept_max
                    )}),
                ),
            },
            None => {
                let machine_arn = query_value(&uri, "stateMachineArn");
                console_json(
                    200,
                    &express_executions(&app, &arns, machine_arn.as_deref()),
                )
            }
        })
    } else if method == axum::http::Method::POST {
        // Drawing is CPU work (bounded by the layout's vertex budget): off the async workers,
        // one at a time, so that API requests keep their cores.
        let _permit = app.compute.acquire().await;
        let path = path.to_string();
        let drawn = tokio::task::spawn_blocking(move || {
            steppe_console::handle(method.as_str(), &path, &body)
        })
        .await;
        match drawn {
            Ok(answer) => answer,
            Err(error) => {
                tracing::error!(%error, "drawing failed");
                return respond(Err(ApiError::internal("The drawing failed unexpectedly")));
            }
        }
    } else {
        steppe_console::handle(method.as_str(), path, &body)
    };
    let Some(answer) = answer else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK),
        answer.body.into_owned(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static(answer.content_type),
    );
    headers.insert(
        "cache-control",
        HeaderValue::from_static(answer.cache_control),
    );
    response
}

/// The console's list endpoints (`crate::console_api`): store reads, off the async workers,
/// one at a time with the other heavy requests.
#[cfg(feature = "console")]
async fn console_list(
    app: &Arc<App>,
    arns: &crate::arn::Arns,
    path: &str,
    uri: &axum::http::Uri,
) -> steppe_console::Response {
    let _permit = app.compute.acquire().await;
    // On a cluster, resources written through other nodes first (as the API's lists do).
    if let Err(error) = crate::resources::catch_up(app).await {
        return console_json(
            error.status,
            &serde_json::json!({ "message": error.message }),
        );
    }
    let app = app.clone();
    let arns = arns.clone();
    let executions = path == steppe_console::EXECUTIONS_PATH;
    let query = |key| query_value(uri, key);
    let request = crate::console_api::ExecutionsRequest {
        state_machine_arn: query("stateMachineArn"),
        status: query("statusFilter"),
        name: query("name"),
        max_results: query("maxResults"),
        next_token: query("nextToken"),
    };
    let answered = tokio::task::spawn_blocking(move || {
        if executions {
            crate::console_api::executions(&app, &arns, &request)
        } else {
            crate::console_api::state_machines(
                &app,
                &arns,
                request.max_results.as_deref(),
                request.next_token.as_deref(),
            )
        }
    })
    .await;
    match answered {
        Ok(Ok(body)) => console_json(200, &body),
        Ok(Err((status, message))) => {
            console_json(status, &serde_json::json!({ "message": message }))
        }
        Err(error) => {
            tracing::error!(%error, "a console list failed");
            console_json(
                500,
                &serde_json::json!({ "message": "The list failed unexpectedly" }),
            )
        }
    }
}

/// The console's history endpoint (`crate::console_api::history`): store reads, off the
/// async workers. It copies stored text and decodes nothing, less work than
/// GetExecutionHistory's pages, so unlike drawings it does not wait for `App::compute`.
#[cfg(feature = "console")]
async fn console_history(
    app: &Arc<App>,
    arns: &crate::arn::Arns,
    uri: &axum::http::Uri,
) -> steppe_console::Response {
    let Some(execution_arn) = query_value(uri, "executionArn") else {
        return console_json(
            400,
            &serde_json::json!({"message": "executionArn is required"}),
        );
    };
    let next_token = query_value(uri, "nextToken");
    let app = app.clone();
    let arns = arns.clone();
    let answered = tokio::task::spawn_blocking(move || {
        crate::console_api::history(&app, &arns, &execution_arn, next_token.as_deref())
    })
    .await;
    match answered {
        Ok(Ok(body)) => steppe_console::Response {
            status: 200,
            content_type: "application/json",
            body: std::borrow::Cow::Owned(body.into_bytes()),
            cache_control: "no-cache",
        },
        Ok(Err((status, message))) => {
            console_json(status, &serde_json::json!({ "message": message }))
        }
        Err(error) => {
            tracing::error!(%error, "a console history failed");
            console_json(
                500,
                &serde_json::json!({ "message": "The history failed unexpectedly" }),
            )
        }
    }
}

/// `{"tails": [...], ...}` as `steppe_console::STDERR_PATH` describes it: none for an
/// execution outside the caller's scope.
#[cfg(feature = "console")]
fn stderr_tails(app: &App, arns: &crate::arn::Arns, execution_arn: &str) -> Value {
    use steppe_tasks::command::{STDERR_TAILS_KEPT_MAX, STDERR_TAIL_BYTES_MAX};
    let tails: Vec<Value> = if arns.owns(execution_arn) {
        app.stderr_tails
            .of_execution(execution_arn)
            .into_iter()
            .map(|kept| {
                serde_json::json!({
                    "stateName": kept.state_name,
                    "invocation": kept.invocation,
                    "functionName": kept.function_name,
                    "stderr": kept.tail.text,
                    "truncated": kept.tail.truncated,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    serde_json::json!({
        "tails": tails,
        "keptMax": STDERR_TAILS_KEPT_MAX,
        "tailBytesMax": STDERR_TAIL_BYTES_MAX,
    })
}

/// `{"tasks": [...]}` as `steppe_console::TASKS_PATH` describes it, oldest first: on a
/// shared store every node's, read from the store (off the async workers), otherwise this
/// server's, which it knows in memory.
#[cfg(feature = "console")]
async fn pending_tasks(
    app: &App,
    arns: &crate::arn::Arns,
    execution_arn: Option<&str>,
) -> crate::error::ApiResult<Value> {
    let limit = crate::limits::PENDING_TASKS_LISTED_MAX;
    let open = if app.cluster.shared() {
        let store = app.store.clone();
        let prefix = format!("arn:aws:states:{}:{}:", arns.region, arns.account);
        let execution_arn = execution_arn.map(str::to_string);
        let stored = tokio::task::spawn_blocking(move || {
            store.open_tasks(&prefix, execution_arn.as_deref(), limit)
        })
        .await
        .map_err(|_| ApiError::internal("reading the open tasks failed"))??;
        stored.map(|rows| {
            rows.into_iter()
                .map(|row| crate::tasks::OpenTask {
                    execution_id: row.execution_id,
                    execution_arn: row.execution_arn,
                    record: row.record,
                    trace: None,
                })
                .collect::<Vec<_>>()
        })
    } else {
        None
    };
    let open = open.unwrap_or_else(|| app.tasks.pending(arns, execution_arn, limit));
    let tasks: Vec<Value> = open
        .into_iter()
        .map(|task| {
            let record = &task.record;
            let mut item = serde_json::json!({
                "taskToken": record.task_token,
                "executionArn": task.execution_arn,
                "stateName": record.state_name,
                "resource": record.resource,
                "input": record.parameters.to_string(),
                "scheduledDate": crate::wire::timestamp(record.scheduled_millis),
            });
            if let Some(activity_arn) = task.activity_arn() {
                item["activityArn"] = serde_json::json!(activity_arn);
            }
            if let Some(seconds) = record.heartbeat_seconds {
                item["heartbeatSeconds"] = serde_json::json!(seconds);
            }
            if let Some(seconds) = record.timeout_seconds {
                item["timeoutSeconds"] = serde_json::json!(seconds);
            }
            item
        })
        .collect();
    Ok(serde_json::json!({ "tasks": tasks }))
}

/// `{"executions": [...], "keptMax"}` as `steppe_console::EXPRESS_PATH` describes it, newest
/// first.
#[cfg(feature = "console")]
fn express_executions(
    app: &App,
    arns: &crate::arn::Arns,
    state_machine_arn: Option<&str>,
) -> Value {
    let kept_max = app.limits.express_kept_max;
    let executions: Vec<Value> = app
        .express_recent
        .list(arns, state_machine_arn, kept_max)
        .iter()
        .map(|ended| express_summary(ended))
        .collect();
    serde_json::json!({ "executions": executions, "keptMax": kept_max })
}

/// [`express_execution`], whose replay is CPU work (up to `EXPRESS_INPUTS_KEPT_MAX` inputs):
/// off the async workers, one at a time with the other heavy requests.
#[cfg(feature = "console")]
async fn replayed(app: &Arc<App>, execution_arn: &str) -> Option<Value> {
    let _permit = app.compute.acquire().await;
    let (app, execution_arn) = (app.clone(), execution_arn.to_string());
    tokio::task::spawn_blocking(move || express_execution(&app, &execution_arn))
        .await
        .unwrap_or_else(|error| {
            eprintln!("steppe: replaying an Express execution failed: {error}");
            None
        })
}

/// `{"execution": {...}, "events": [...]}` for one kept Express execution: DescribeExecution's
/// and GetExecutionHistory's shapes.
#[cfg(feature = "console")]
fn express_execution(app: &App, execution_arn: &str) -> Option<Value> {
    let ended = app.express_recent.find(execution_arn)?;
    let mut execution = express_summary(&ended);
    execution["input"] = serde_json::json!(ended.input);
    if let Some(output) = &ended.output {
        execution["output"] = serde_json::json!(output);
    }
    if let Some(error) = &ended.error {
        if let Some(name) = &error.error {
            execution["error"] = serde_json::json!(name);
        }
        if let Some(cause) = &error.cause {
            execution["cause"] = serde_json::json!(cause);
        }
    }
    // Rebuilt by replaying its inputs: the runner recorded no history.
    let (events, dropped) = match &ended.replay {
        Some(replay) => replay.events(&ended.input),
        None => (Vec::new(), 0),
    };
    execution["eventsDropped"] = serde_json::json!(dropped);
    execution["eventsKept"] = serde_json::json!(ended.replay.is_some());
    let events: Vec<Value> = events
        .iter()
        .map(|event| {
            let mut event = event.to_json();
            if let Some(millis) = event.get("timestamp").and_then(Value::as_i64) {
                event["timestamp"] = crate::wire::timestamp(millis);
            }
            event
        })
        .collect();
    Some(serde_json::json!({ "execution": execution, "events": events }))
}

#[cfg(feature = "console")]
fn express_summary(ended: &crate::express::Ended) -> Value {
    serde_json::json!({
        "executionArn": ended.execution_arn,
        "stateMachineArn": ended.state_machine_arn,
        "name": ended.name,
        "status": ended.status.as_str(),
        "startDate": crate::wire::timestamp(ended.start_millis),
        "stopDate": crate::wire::timestamp(ended.stop_millis),
    })
}

#[cfg(feature = "console")]
fn console_json(status: u16, body: &Value) -> steppe_console::Response {
    steppe_console::Response {
        status,
        content_type: "application/json",
        body: std::borrow::Cow::Owned(body.to_string().into_bytes()),
        cache_control: "no-cache",
    }
}

/// The decoded value of `key` in the request's query, if any.
#[cfg(feature = "console")]
fn query_value(uri: &axum::http::Uri, key: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == key).then(|| percent_decode(value))
    })
}

/// Decodes `%XX` escapes and `+` in a query value.
#[cfg(feature = "console")]
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /`: a browser pointed at the server lands on the console.
async fn home() -> Response {
    let mut response = StatusCode::FOUND.into_response();
    response
        .headers_mut()
        .insert("location", HeaderValue::from_static("/console/"));
    response
}

/// `GET /health`: the process answers.
async fn health() -> Response {
    plain_json(StatusCode::OK, r#"{"status":"ok"}"#.to_string())
}

/// `GET /ready`: the store answers a read, so requests can be served (503 otherwise).
async fn ready(State(app): State<Arc<App>>) -> Response {
    let store = app.store.clone();
    let read = tokio::task::spawn_blocking(move || store.execution(0)).await;
    let failure = match read {
        Ok(Ok(_)) => return plain_json(StatusCode::OK, r#"{"status":"ready"}"#.to_string()),
        Ok(Err(error)) => error.to_string(),
        Err(error) => error.to_string(),
    };
    plain_json(
        StatusCode::SERVICE_UNAVAILABLE,
        serde_json::json!({"status": "unavailable", "reason": failure}).to_string(),
    )
}

/// `GET /metrics`: the Prometheus text exposition format (404 with `--metrics off`).
async fn metrics(State(app): State<Arc<App>>) -> Response {
    if !app.metrics.is_enabled() {
        return (StatusCode::NOT_FOUND, "metrics are off (--metrics off)\n").into_response();
    }
    let express_running = app
        .express
        .running
        .load(std::sync::atomic::Ordering::Acquire);
    let (depths, unlisted) = activity_queue_depths(&app).await;
    let text = app.metrics.encode(express_running, depths, unlisted);
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    response
}

/// Every activity's waiting tasks, and those of activities left out: on a shared store,
/// the whole cluster's, read from the store (the deepest
/// [`crate::metrics::ACTIVITY_QUEUES_REPORTED_MAX`] and the total, off the async workers),
/// with the activities this node knows at 0 besides; on another store, or while the store
/// does not answer (logged), this node's own.
async fn activity_queue_depths(app: &App) -> (Vec<(String, usize)>, usize) {
    let local = app.tasks.activity_queue_depths();
    if !app.cluster.shared() {
        return (local, 0);
    }
    let store = app.store.clone();
    let limit = crate::metrics::ACTIVITY_QUEUES_REPORTED_MAX;
    let waiting = match tokio::task::spawn_blocking(move || store.waiting_activity_tasks(limit))
        .await
    {
        Ok(Ok(Some(waiting))) => waiting,
        Ok(Ok(None)) => return (local, 0),
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot read the cluster's activity queues; reporting this node's");
            return (local, 0);
        }
        Err(_) => return (local, 0),
    };
    let listed: u64 = waiting.deepest.iter().map(|(_, depth)| depth).sum();
    let mut depths: std::collections::HashMap<String, usize> = local
        .into_iter()
        .map(|(activity, _)| (activity, 0))
        .collect();
    for (activity, depth) in waiting.deepest {
        depths.insert(activity, usize::try_from(depth).unwrap_or(usize::MAX));
    }
    let unlisted = usize::try_from(waiting.total.saturating_sub(listed)).unwrap_or(usize::MAX);
    (depths.into_iter().collect(), unlisted)
}

fn plain_json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

async fn not_found() -> Response {
    respond(Err(ApiError {
        code: "UnknownOperationException",
        message: "Requests go to POST / with an X-Amz-Target header".into(),
        status: 404,
    }))
}

/// `POST /`: one API call, answered, counted in the metrics and logged (one line at `INFO`
/// with the operation, HTTP status, milliseconds and AWS error code).
async fn handle(
    State(app): State<Arc<App>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let name = target.strip_prefix("AWSStepFunctions.");
    let operation = Operation::of(name.unwrap_or_default());
    let result = match read_body(body, app.limits.body_read_timeout).await {
        Err(error) => Err(error),
        Ok(bytes) => match authenticated(&app, &uri, &headers, &bytes) {
            Err(error) => Err(error),
            Ok((caller, internal)) => match name {
                Some(name) => routed(&app, name, bytes, (caller, internal), &headers).await,
                None => Err(ApiError::new(
                    "UnknownOperationException",
                    format!("Unknown operation: '{target}'"),
                )),
            },
        },
    };
    let (status, error_code) = match &result {
        Ok(Answer::Relayed(relayed)) => (relayed.status, None),
        Ok(Answer::Here(_)) => (200, None),
        Err(error) => (error.status, Some(error.code)),
    };
    let elapsed = started.elapsed();
    app.metrics.request(operation, status, elapsed);
    // The fields are evaluated only when the level is on.
    tracing::info!(
        target: "steppe::api",
        operation = operation.label(),
        status,
        ms = elapsed.as_micros() as f64 / 1000.0,
        error = error_code,
    );
    match result {
        Ok(Answer::Relayed(relayed)) => relay(relayed),
        Ok(Answer::Here(value)) => respond(Ok(value)),
        Err(error) => respond(Err(error)),
    }
}

/// An API call's answer: made here, or by the node that runs its execution.
enum Answer {
    Here(Value),
    Relayed(crate::cluster::Relayed),
}

/// Runs an API call here, or forwards it to the node of the cluster that runs the execution
/// it is for (see `cluster.rs`).
async fn routed(
    app: &Arc<App>,
    name: &str,
    bytes: Bytes,
    (caller, internal): (Option<crate::auth::Caller>, Option<crate::arn::Arns>),
    headers: &HeaderMap,
) -> Result<Answer, ApiError> {
    let forwarded = headers.contains_key(crate::cluster::FORWARDED_HEADER);
    let original = if app.cluster.shared() {
        let original = Arc::new(crate::cluster::Original {
            headers: headers.clone(),
            body: bytes.clone(),
        });
        if !forwarded {
            if let Some(node) = app.cluster.route(name, &bytes).await? {
                let relayed = app.cluster.forward(&node, &original, None).await?;
                return Ok(Answer::Relayed(relayed));
            }
        }
        Some(original)
    } else {
        None
    };
    let mut request = match internal {
        Some(arns) => parse_body(&bytes, arns)?,
        None => prepared(app, &bytes, caller, headers)?,
    };
    request.original = original;
    request.forwarded = forwarded;
    if forwarded {
        request.claimed = crate::cluster::claimed_task(headers);
    }
    call(app, name.to_string(), request).await.map(Answer::Here)
}

/// Another node's answer, as it gave it.
fn relay(relayed: crate::cluster::Relayed) -> Response {
    let status = StatusCode::from_u16(relayed.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, relayed.body).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(request_id) = HeaderValue::from_str(&request_id()) {
        headers.insert("x-amzn-requestid", request_id);
    }
    response
}

/// X-Ray's trace header, which AWS services read from every request: StartExecution and
/// StartSyncExecution prefer it to their `traceHeader` member.
const TRACE_HEADER: &str = "x-amzn-trace-id";

/// A request read from its body and headers, in the account and region of its signature
/// (see `auth::scope`).
fn prepared(
    app: &App,
    bytes: &Bytes,
    caller: Option<crate::auth::Caller>,
    headers: &HeaderMap,
) -> Result<Request, ApiError> {
    let arns = request_scope(app, caller.as_ref(), headers)?;
    let mut request = parse_body(bytes, arns)?;
    request.caller = caller;
    request.trace_header = headers
        .get(TRACE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    Ok(request)
}

/// Runs an API call.
async fn call(app: &Arc<App>, operation: String, request: Request) -> Result<Value, ApiError> {
    let app = app.clone();
    // Run the operation in its own task so that a panic answers 500 instead of dropping the
    // connection. Only a long poll ends with its request when the client goes away (freeing
    // its poller slot); other operations run to the end, as their commit and the registry
    // must not part ways.
    let cancel_with_request = operation == "GetActivityTask";
    let running = if is_compute_heavy(&operation) {
        // Compiling a large definition or running TestState's states is CPU work: on the
        // blocking pool, one at a time, so the async workers keep serving everything else.
        tokio::spawn(async move {
            let _permit = app.compute.clone().acquire_owned().await;
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                runtime.block_on(crate::ops::dispatch(&app, &operation, request))
            })
            .await
            .unwrap_or_else(|join_error| std::panic::resume_unwind(join_error.into_panic()))
        })
    } else {
        tokio::spawn(async move { crate::ops::dispatch(&app, &operation, request).await })
    };
    let outcome = if cancel_with_request {
        let mut running = AbortOnDrop(running);
        (&mut running.0).await
    } else {
        running.await
    };
    outcome.unwrap_or_else(|join_error| {
        tracing::error!(error = %join_error, "an operation failed");
        Err(ApiError::internal("The operation failed unexpectedly"))
    })
}

/// Operations whose work grows with the definition or the states they run, rather than with
/// what they read or write.
fn is_compute_heavy(operation: &str) -> bool {
    matches!(
        operation,
        "CreateStateMachine"
            | "UpdateStateMachine"
            | "ValidateStateMachineDefinition"
            | "TestState"
    )
}

/// The account and region a request acts in: its signer's (see `auth::scope`).
fn request_scope(
    app: &App,
    caller: Option<&crate::auth::Caller>,
    headers: &HeaderMap,
) -> Result<crate::arn::Arns, ApiError> {
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    crate::auth::scope(&app.arns, caller, authorization)
}

fn parse_body(bytes: &Bytes, arns: crate::arn::Arns) -> Result<Request, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Request::new(Value::Null, arns);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|error| {
        ApiError::serialization(format!("The request body is not valid JSON: {error}"))
    })?;
    Request::new(value, arns)
}

fn respond(result: Result<Value, ApiError>) -> Response {
    let (status, body) = match result {
        Ok(value) => (StatusCode::OK, value),
        Err(error) => (
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
            error.body(),
        ),
    };
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(request_id) = HeaderValue::from_str(&request_id()) {
        headers.insert("x-amzn-requestid", request_id);
    }
    response
}

/// A request id for `x-amzn-RequestId`, in UUID shape as AWS's: a random prefix drawn once
/// per process and a counter, so ids are unique without a lock.
fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        prefix >> 32,
        (prefix >> 16) & 0xffff,
        (prefix >> 4) & 0xfff,
        (count >> 48) & 0xfff,
        count & 0xffff_ffff_ffff
    )
}

/// Aborts a task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
