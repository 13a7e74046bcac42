//! TestState's Task states: answered by the request's `mock`, or by the server's own
//! integrations (Lambda functions, the HTTP Task, ...), each task called once per request;
//! and, at `TRACE`, the HTTP Task's request and response as inspection data.
//!
//! AWS's API reference: "TestState only supports the following when a mock is specified:
//! Activity tasks, .sync or .waitForTaskToken service integration patterns, Parallel, or Map
//! states." Without a mock, AWS refuses Map and Parallel states with a recorded
//! `InvalidDefinition` (`refuse_recorded` in `test_state.rs`); its answer for the task
//! patterns is neither documented nor recorded, so [`refuse_unmocked`] answers with the same
//! code and a message of ours.
//!
//! `revealSecrets`: "For HTTP Tasks, a secret includes the data that an EventBridge connection
//! adds to modify the HTTP request headers, query parameters, and body. Step Functions doesn't
//! omit any information included in the state definition or the HTTP response." So without it
//! the request shown leaves out the connection's headers, query and body parameters (and the
//! task's headers and body members they replace). The request and response are AWS's
//! `InspectionDataRequest` and `InspectionDataResponse`, all strings; the text of `protocol`
//! and `headers` is not documented, so ours is the URL's scheme and `[Name: value, ...]`.

use super::Mock;
use crate::error::{ApiError, ApiResult};
use crate::integrations::Integrations;
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use steppe_engine::TaskInvocation;
use steppe_runtime::{TaskHandler, TaskOutcome};
use steppe_tasks::http::{self, Exchange, Secrets};
use steppe_tasks::transport::{self, HttpRequest, HttpResponse};

/// Refuses a Task state AWS tests only with a mock: an activity, or a `.sync` or
/// `.waitForTaskToken` service integration.
pub(super) fn refuse_unmocked(state: &Map<String, Value>) -> ApiResult<()> {
    let resource = state
        .get("Resource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let refused = if crate::tasks::is_activity(resource) {
        "Activity tasks".to_string()
    } else if crate::tasks::is_callback(resource) {
        "the '.waitForTaskToken' service integration pattern".to_string()
    } else if let Some(pattern) = sync_pattern(resource) {
        format!("the '{pattern}' service integration pattern")
    } else {
        return Ok(());
    };
    // Not AWS's words (see the module docs); the code is the one AWS gives unmocked Map and
    // Parallel states.
    Err(ApiError::new(
        "InvalidDefinition",
        format!("TestState API does not support {refused} without a mock"),
    ))
}

/// `.sync` or `.sync:N`, when a service integration's resource ends with it.
fn sync_pattern(resource: &str) -> Option<&str> {
    let start = resource.rfind(".sync")?;
    let pattern = &resource[start..];
    let version = pattern.strip_prefix(".sync")?;
    let versioned = version
        .strip_prefix(':')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let integration = resource.contains(":states:::");
    (integration && (version.is_empty() || versioned)).then_some(pattern)
}

/// The server's integrations, as one TestState request calls them.
///
/// The tested state runs several times (the first run, a catcher's run, ...); a task is called
/// on its first run and its outcome replayed on the others, so a Lambda function runs once and
/// an HTTP endpoint gets one request. Tasks are told apart by state name and invocation (a
/// Map state runs one state many times), which the engine numbers the same in every run.
pub(super) struct Calls {
    integrations: Arc<Integrations>,
    /// What the HTTP Task's request shows of the connection's secrets.
    shown: Secrets,
    memo: RefCell<Memo>,
}

#[derive(Default)]
struct Memo {
    /// Outcomes by state name and invocation.
    outcomes: HashMap<(String, u64), TaskOutcome>,
    /// The first HTTP Task's request and response.
    exchange: Option<Exchange>,
}

impl Calls {
    pub(super) fn new(integrations: Arc<Integrations>, reveal_secrets: bool) -> Calls {
        Calls {
            integrations,
            shown: if reveal_secrets {
                Secrets::Include
            } else {
                Secrets::Omit
            },
            memo: RefCell::default(),
        }
    }

    /// The outcome of the first task of the state named `state_name`, once it ran.
    pub(super) fn outcome(&self, state_name: &str) -> Option<TaskOutcome> {
        let key = (state_name.to_string(), 0);
        self.memo.borrow().outcomes.get(&key).cloned()
    }

    /// The HTTP Task's request and response as `TRACE` shows them, once it ran.
    pub(super) fn trace(&self) -> Option<(Value, Option<Value>)> {
        let memo = self.memo.borrow();
        let exchange = memo.exchange.as_ref()?;
        let response = exchange
            .response
            .as_ref()
            .map(|response| shown_response(response, scheme(&exchange.request.url)));
        Some((shown_request(&exchange.request), response))
    }

    fn invoke(&self, task: &TaskInvocation) -> TaskOutcome {
        let key = (task.state_name.clone(), task.invocation);
        if let Some(outcome) = self.memo.borrow().outcomes.get(&key) {
            return outcome.clone();
        }
        let (outcome, exchange) = if task.resource == http::INVOKE_RESOURCE {
            http::invoke_traced(
                &self.integrations.connections,
                &self.integrations.destinations,
                task,
                self.shown,
            )
        } else {
            (self.integrations.invoke_blocking(task), None)
        };
        let mut memo = self.memo.borrow_mut();
        if memo.exchange.is_none() {
            memo.exchange = exchange;
        }
        memo.outcomes.insert(key, outcome.clone());
        outcome
    }
}

/// The task handler of one run of the tested state: the mock answers every task, else the
/// integrations do, once per task and request.
pub(super) struct Tasks<'a> {
    pub(super) mock: &'a Option<Mock>,
    pub(super) calls: &'a Calls,
}

impl TaskHandler for Tasks<'_> {
    fn invoke(&mut self, task: &TaskInvocation) -> TaskOutcome {
        match self.mock {
            Some(Mock::Result(value)) => TaskOutcome::Succeeded(value.clone()),
            Some(Mock::Error { error, cause }) => TaskOutcome::Failed {
                error: error.clone(),
                cause: cause.clone(),
            },
            None => self.calls.invoke(task),
        }
    }
}

/// AWS's `InspectionDataRequest`.
fn shown_request(request: &HttpRequest) -> Value {
    let mut shown = json!({
        "protocol": scheme(&request.url),
        "method": request.method,
        "url": request.url,
        "headers": header_text(&request.headers),
    });
    if let Some(body) = &request.body {
        shown["body"] = json!(String::from_utf8_lossy(body));
    }
    shown
}

/// AWS's `InspectionDataResponse` (its status code is a string too).
fn shown_response(response: &HttpResponse, protocol: &str) -> Value {
    json!({
        "protocol": protocol,
        "statusCode": response.status.to_string(),
        "statusMessage": transport::reason_phrase(response.status),
        "headers": header_text(&response.headers),
        "body": String::from_utf8_lossy(&response.body),
    })
}

/// `http` or `https`.
fn scheme(url: &str) -> &str {
    url.split_once("://").map_or("", |(scheme, _)| scheme)
}

/// `[Name: value, Other: value]`.
fn header_text(headers: &[(String, String)]) -> String {
    let shown: Vec<String> = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    format!("[{}]", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(resource: &str) -> Option<String> {
        let state = json!({"Type": "Task", "Resource": resource, "End": true});
        refuse_unmocked(state.as_object().unwrap())
            .err()
            .map(|error| error.body()["message"].as_str().unwrap().to_string())
    }

    #[test]
    fn activities_and_waiting_patterns_need_a_mock() {
        let activity = "arn:aws:states:us-east-1:123456789012:activity:work";
        assert_eq!(
            refusal(activity).unwrap(),
            "TestState API does not support Activity tasks without a mock"
        );
        assert!(refusal("arn:aws:states:::sqs:sendMessage.waitForTaskToken")
            .unwrap()
            .contains("'.waitForTaskToken'"));
        assert!(refusal("arn:aws:states:::states:startExecution.sync:2")
            .unwrap()
            .contains("'.sync:2'"));
        assert!(refusal("arn:aws:states:::ecs:runTask.sync")
            .unwrap()
            .contains("'.sync'"));
        assert_eq!(refusal("arn:aws:states:::lambda:invoke"), None);
        let function = "arn:aws:lambda:us-east-1:123456789012:function:a.sync-job";
        assert_eq!(refusal(function), None);
        assert_eq!(refusal("arn:aws:states:::http:invoke"), None);
    }

    #[test]
    fn requests_and_responses_are_shown_as_aws_strings() {
        let request = HttpRequest {
            method: "POST".into(),
            url: "https://api.example.com/x?a=1".into(),
            headers: vec![("A".into(), "1".into()), ("B".into(), "2".into())],
            body: Some(b"{}".to_vec()),
        };
        assert_eq!(
            shown_request(&request),
            json!({"protocol": "https", "method": "POST", "url": "https://api.example.com/x?a=1",
                   "headers": "[A: 1, B: 2]", "body": "{}"})
        );
        let response = HttpResponse {
            status: 404,
            headers: vec![],
            body: b"nope".to_vec(),
        };
        assert_eq!(
            shown_response(&response, "https"),
            json!({"protocol": "https", "statusCode": "404", "statusMessage": "Not Found",
                   "headers": "[]", "body": "nope"})
        );
    }
}
