//! The steppe web console: a single-page app embedded in the binary, and its diagram endpoint.
//!
//! The page is plain HTML, CSS and JavaScript in `assets/` (no build step, nothing fetched
//! from the internet; `app.js` and the page modules it imports are ES modules). It talks to the same-origin AWS JSON 1.0 API like any other client,
//! plus these console endpoints under `/console/api/`:
//!
//! - `POST /console/api/graph` (answered here, by [`handle`]): body `{"definition": TEXT}`,
//!   answer `{"svg": ..., "graph": ...}` drawn by `steppe-graph`, the same drawing as
//!   `steppe graph --format svg`; an invalid definition answers 400 with `{"diagnostics": [...]}`.
//!   The page sends it with the header `X-Steppe-Console: 1`, which the server requires of
//!   every console POST, so that other sites' pages cannot send one.
//! - `GET /console/api/tasks` (answered by the server, which knows the pending tasks): see
//!   [`TASKS_PATH`].
//! - `GET /console/api/express-executions` (answered by the server, which keeps the recent
//!   Express executions): see [`EXPRESS_PATH`].
//! - `GET /console/api/stderr` (answered by the server, which runs Lambda commands): see
//!   [`STDERR_PATH`].
//! - `GET /console/api/executions` and `GET /console/api/state-machines` (answered by the
//!   server, which reads its store): see [`EXECUTIONS_PATH`] and [`MACHINES_PATH`].
//! - `GET /console/api/history` (answered by the server, which reads its store): see
//!   [`HISTORY_PATH`].
//!
//! A server mounts the console by sending every request under [`BASE`] to [`handle`],
//! after answering [`TASKS_PATH`], [`EXPRESS_PATH`], [`STDERR_PATH`], [`EXECUTIONS_PATH`],
//! [`MACHINES_PATH`] and [`HISTORY_PATH`] itself:
//!
//! ```
//! let page = steppe_console::handle("GET", "/console/", b"").expect("the console answers");
//! assert_eq!(page.status, 200);
//! assert_eq!(page.content_type, "text/html; charset=utf-8");
//! // Client-side routes get the page too, so that reloading a deep link works.
//! let deep = steppe_console::handle("GET", "/console/executions/arn:x", b"").expect("page");
//! assert_eq!(deep.body, page.body);
//! let graph = steppe_console::handle(
//!     "POST",
//!     "/console/api/graph",
//!     br#"{"definition": "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true}}}"}"#,
//! )
//! .expect("the console answers");
//! assert_eq!(graph.status, 200);
//! assert!(String::from_utf8_lossy(&graph.body).contains("data-state=\\\"A\\\""));
//! ```

#![forbid(unsafe_code)]

use serde_json::{json, Value};
use std::borrow::Cow;

/// Where the console is mounted.
pub const BASE: &str = "/console/";

/// The pending-task endpoint the server answers (GET).
///
/// Query: optional `executionArn`. Answer:
/// `{"tasks": [{"taskToken", "executionArn", "stateName", "resource", "activityArn"?,
/// "input" (JSON text), "scheduledDate" (epoch seconds), "heartbeatSeconds"?, "timeoutSeconds"?}]}`,
/// oldest first: every activity task not yet completed (whether or not a worker called
/// `GetActivityTask`) and every `.waitForTaskToken` task still waiting for its token.
pub const TASKS_PATH: &str = "/console/api/tasks";

/// The stderr endpoint the server answers (GET): the tails of what Lambda commands wrote to
/// stderr, which the server otherwise passes only to its own.
///
/// Query `executionArn`: `{"tails": [{"stateName", "invocation", "functionName", "stderr",
/// "truncated"}], "keptMax", "tailBytesMax"}`, oldest first: the last 4,096 bytes of each
/// command run of the execution that wrote to stderr, among the last 1,000 the server keeps
/// (in memory). `invocation` counts the state's TaskScheduled events before it, from 0.
pub const STDERR_PATH: &str = "/console/api/stderr";

/// The recent Express executions endpoint the server answers (GET).
///
/// AWS keeps no history of Express executions (its console reads them from CloudWatch Logs);
/// a steppe node keeps the last ones to end, in memory, and rebuilds their events on request.
/// Query `stateMachineArn` (optional): `{"executions": [{"executionArn", "stateMachineArn",
/// "name", "status", "startDate", "stopDate"}], "keptMax"}`, newest first.
/// Query `executionArn`: `{"execution": {...the same, "input", "output"?, "error"?, "cause"?,
/// "eventsKept", "eventsDropped"}, "events": [...]}` (GetExecutionHistory's shapes, the first
/// 1,000), or 404 when the node does not keep it.
pub const EXPRESS_PATH: &str = "/console/api/express-executions";

/// The executions list the server answers (GET): what ListExecutions cannot do in one
/// request.
///
/// Query: `stateMachineArn` (optional: without it, every Standard state machine's, merged
/// with the Express executions the node keeps in memory, as [`EXPRESS_PATH`] lists them),
/// `statusFilter`, `name` (a case-insensitive part of the name, at most 80 characters),
/// `maxResults` (1 to 100, default 25), `nextToken`. Answer: `{"executions": [ListExecutions'
/// items with "stateMachineName"], "nextToken"?, "total", "totalIsLowerBound",
/// "searchIsPartial"}`, newest first. `total` counts the matching executions among at most
/// 10,000 read (`totalIsLowerBound` when there are more); a name search reads at most 10,000
/// executions of each state machine per page (`searchIsPartial` when it stopped there).
pub const EXECUTIONS_PATH: &str = "/console/api/executions";

/// The state machine list the server answers (GET): ListStateMachines with execution counts.
///
/// Query: `maxResults` (1 to 100, default 100), `nextToken`. Answer: `{"stateMachines":
/// [ListStateMachines' items, Standard ones with "running", "failed" (each counted up to
/// 10,000) and "runningIsLowerBound", "failedIsLowerBound"], "nextToken"?}`.
pub const MACHINES_PATH: &str = "/console/api/state-machines";

/// The history endpoint the server answers (GET): a whole execution history in one request,
/// where GetExecutionHistory answers pages of at most 1,000 events one after another.
///
/// Query `executionArn`, `nextToken` (optional): `{"events": [GetExecutionHistory's events
/// with `includeExecutionData`, oldest first], "nextToken"?}`, at most 25,000 events (AWS's
/// limit on a Standard execution's history) and 16 MiB of them past the first; a Map Run
/// child's own history as GetExecutionHistory gives it.
pub const HISTORY_PATH: &str = "/console/api/history";

/// The diagram endpoint this crate answers (POST).
pub const GRAPH_PATH: &str = "/console/api/graph";

/// One embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The `Content-Type` to send.
    pub content_type: &'static str,
    /// The file's bytes.
    pub bytes: &'static [u8],
}

/// An answer to a console request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` to send.
    pub content_type: &'static str,
    /// The body.
    pub body: Cow<'static, [u8]>,
    /// The `Cache-Control` to send.
    pub cache_control: &'static str,
}

const INDEX: Asset = Asset {
    content_type: "text/html; charset=utf-8",
    bytes: include_bytes!("../assets/index.html"),
};

const FILES: &[(&str, Asset)] = &[
    ("index.html", INDEX),
    (
        "app.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/app.js"),
        },
    ),
    (
        "core.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/core.js"),
        },
    ),
    (
        "diagram.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/diagram.js"),
        },
    ),
    (
        "machines.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/machines.js"),
        },
    ),
    (
        "execution.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/execution.js"),
        },
    ),
    (
        "authoring.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/authoring.js"),
        },
    ),
    (
        "map-runs.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/map-runs.js"),
        },
    ),
    (
        "dialogs.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/dialogs.js"),
        },
    ),
    (
        "tasks.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/tasks.js"),
        },
    ),
    (
        "history.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/history.js"),
        },
    ),
    (
        "sigv4.js",
        Asset {
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../assets/sigv4.js"),
        },
    ),
    (
        "style.css",
        Asset {
            content_type: "text/css; charset=utf-8",
            bytes: include_bytes!("../assets/style.css"),
        },
    ),
    (
        "favicon.svg",
        Asset {
            content_type: "image/svg+xml",
            bytes: include_bytes!("../assets/favicon.svg"),
        },
    ),
];

/// The embedded file at `path` (relative to [`BASE`], e.g. `app.js`); any other path that is
/// not under `api/` and has no file extension is a client-side route and gets `index.html`.
pub fn asset(path: &str) -> Option<Asset> {
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        return Some(INDEX);
    }
    if let Some((_, asset)) = FILES.iter().find(|(name, _)| *name == path) {
        return Some(*asset);
    }
    let last = path.rsplit('/').next().unwrap_or(path);
    let is_file = last.contains('.') && !last.starts_with("arn:");
    if path.starts_with("api/") || is_file {
        return None;
    }
    Some(INDEX)
}

/// Answers a request under [`BASE`]: the page and its files (`GET`/`HEAD`) and the diagram
/// endpoint. `None` means "not mine": [`TASKS_PATH`] and anything unknown under `api/`.
pub fn handle(method: &str, path: &str, body: &[u8]) -> Option<Response> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    if path == GRAPH_PATH {
        return Some(match method {
            "POST" => graph(body),
            _ => error(405, "use POST"),
        });
    }
    let relative = path.strip_prefix(BASE.trim_end_matches('/'))?;
    if !matches!(method, "GET" | "HEAD") {
        return None;
    }
    let file = asset(relative)?;
    Some(Response {
        status: 200,
        content_type: file.content_type,
        body: Cow::Borrowed(file.bytes),
        cache_control: "no-cache",
    })
}

/// `POST /console/api/graph`: draws a definition.
pub fn graph(body: &[u8]) -> Response {
    let request: Value = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(parse) => return error(400, &format!("the body is not JSON: {parse}")),
    };
    let Some(text) = request.get("definition").and_then(Value::as_str) else {
        return error(400, "the body needs a \"definition\" string");
    };
    match steppe_asl::compile(text) {
        Ok(definition) => {
            let model = steppe_graph::Graph::from_definition(&definition);
            match steppe_graph::render(&model, steppe_graph::Format::Svg) {
                Ok(svg) => json_response(200, &json!({"svg": svg, "graph": model.to_json()})),
                Err(too_large) => error(413, &too_large.to_string()),
            }
        }
        Err(diagnostics) => {
            let diagnostics: Vec<Value> = diagnostics
                .iter()
                .map(|diagnostic| {
                    json!({
                        "code": diagnostic.code.as_str(),
                        "location": diagnostic.location,
                        "message": diagnostic.message,
                        "severity": diagnostic.severity.as_str(),
                    })
                })
                .collect();
            json_response(400, &json!({"diagnostics": diagnostics}))
        }
    }
}

fn error(status: u16, message: &str) -> Response {
    json_response(status, &json!({"message": message}))
}

fn json_response(status: u16, value: &Value) -> Response {
    Response {
        status,
        content_type: "application/json",
        body: Cow::Owned(value.to_string().into_bytes()),
        cache_control: "no-store",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_have_their_types_and_routes_fall_back_to_the_page() {
        assert_eq!(
            asset("app.js").map(|a| a.content_type),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(
            asset("style.css").map(|a| a.content_type),
            Some("text/css; charset=utf-8")
        );
        assert_eq!(
            asset("state-machines/arn:aws:states:us-east-1:1:stateMachine:x"),
            Some(INDEX)
        );
        assert_eq!(asset("tasks"), Some(INDEX));
        assert_eq!(asset("missing.js"), None);
        assert_eq!(asset("api/unknown"), None);
    }

    #[test]
    fn the_page_loads_only_local_files() {
        let page = std::str::from_utf8(INDEX.bytes).expect("utf-8");
        assert!(!page.contains("http://") && !page.contains("https://"));
        for (name, file) in FILES {
            let text = String::from_utf8_lossy(file.bytes);
            // The SVG namespace is an identifier, not a fetch.
            let fetches = text
                .matches("https://")
                .count()
                .saturating_sub(text.matches("http://www.w3.org").count());
            assert_eq!(fetches, 0, "{name} mentions an internet address");
        }
        for file in ["app.js", "history.js", "sigv4.js", "style.css"] {
            assert!(page.contains(file), "index.html does not load {file}");
        }
    }

    /// The page modules import one another by relative path: each one imported is served.
    #[test]
    fn every_module_a_module_imports_is_served() {
        let mut imported = 0;
        for (name, file) in FILES.iter().filter(|(name, _)| name.ends_with(".js")) {
            let text = std::str::from_utf8(file.bytes).expect("utf-8");
            for line in text.lines().filter(|line| line.starts_with("import ")) {
                let path = line
                    .split("from \"./")
                    .nth(1)
                    .and_then(|rest| rest.strip_suffix("\";"))
                    .unwrap_or_else(|| panic!("{name}: an import not of ./FILE: {line}"));
                assert!(
                    asset(path).is_some(),
                    "{name} imports {path}, which is not served"
                );
                imported += 1;
            }
        }
        assert!(
            imported > 8,
            "app.js and the page modules import each other"
        );
    }

    #[test]
    fn graph_answers_svg_and_model_or_diagnostics() {
        let definition = r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::activity:x","Next":"B"},"B":{"Type":"Succeed"}}}"#;
        let body = json!({"definition": definition}).to_string();
        let response = handle("POST", GRAPH_PATH, body.as_bytes()).expect("answered");
        assert_eq!(response.status, 200);
        let value: Value = serde_json::from_slice(&response.body).expect("json");
        assert!(value["svg"]
            .as_str()
            .expect("svg")
            .contains(r#"data-state="B""#));
        assert_eq!(value["graph"]["nodes"][1]["type"], "Task");
        let bad = json!({"definition": r#"{"StartAt":"A","States":{}}"#}).to_string();
        let response = handle("POST", GRAPH_PATH, bad.as_bytes()).expect("answered");
        assert_eq!(response.status, 400);
        let value: Value = serde_json::from_slice(&response.body).expect("json");
        assert_eq!(value["diagnostics"][0]["code"], "MISSING_TRANSITION_TARGET");
        assert_eq!(
            handle("POST", GRAPH_PATH, b"nope").map(|r| r.status),
            Some(400)
        );
        assert_eq!(handle("GET", GRAPH_PATH, b"").map(|r| r.status), Some(405));
    }

    #[test]
    fn the_tasks_and_express_endpoints_are_left_to_the_server() {
        assert_eq!(handle("GET", TASKS_PATH, b""), None);
        assert_eq!(handle("GET", STDERR_PATH, b""), None);
        assert_eq!(handle("GET", EXPRESS_PATH, b""), None);
        assert_eq!(handle("GET", EXECUTIONS_PATH, b""), None);
        assert_eq!(handle("GET", MACHINES_PATH, b""), None);
        assert_eq!(handle("GET", "/elsewhere", b""), None);
    }
}
