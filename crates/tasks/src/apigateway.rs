//! `arn:aws:states:::apigateway:invoke` (and `.waitForTaskToken`): a call to an API Gateway
//! REST or HTTP API, as AWS's developer guide ("Call API Gateway with Step Functions")
//! describes it.
//!
//! Parameters: `ApiEndpoint` (the API's host name; steppe also takes `http://host:port` so a
//! local API can stand in), `Method`, optional `Stage`, `Path`, `Headers` and
//! `QueryParameters` (each name with a list of values), `RequestBody` (JSON, sent as its text,
//! or a string) and `AuthType` (`NO_AUTH`, `IAM_ROLE`: signed with SigV4 for `execute-api`,
//! `RESOURCE_POLICY`). The result is `{Headers, ResponseBody, StatusCode, StatusText}`; a
//! status other than 2xx fails the task with `ApiGateway.<status>` and the response body as the
//! cause (the error prefix as AWS records it; the guide writes `APIGateway`).

use crate::destinations::Destinations;
use crate::services::{sign, Services};
use crate::transport::{self, HttpRequest, SendError};
use crate::{failed, TaskOutcome};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use steppe_engine::TaskInvocation;

/// The integration's resource.
pub const INVOKE_RESOURCE: &str = "arn:aws:states:::apigateway:invoke";

/// How long a call may take (the AWS SDK's default socket timeout is 50 s), unless the task's
/// own timeout is shorter.
const CALL_SECONDS_MAX: u64 = 60;

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Calls the API a task's parameters name.
pub fn invoke(
    services: &Services,
    destinations: &Destinations,
    task: &TaskInvocation,
) -> TaskOutcome {
    let (mut request, auth) = match build_request(&task.parameters) {
        Ok(built) => built,
        Err(outcome) => return outcome,
    };
    if auth == "IAM_ROLE" {
        if let Err(why) = sign(&mut request, "execute-api", services, SystemTime::now()) {
            return failed(
                "ApiGateway.SdkClientException",
                format!("Unable to sign the request: {why}"),
            );
        }
    }
    let seconds = task
        .timeout_seconds
        .map_or(CALL_SECONDS_MAX, |seconds| seconds.min(CALL_SECONDS_MAX));
    match transport::send(&request, Duration::from_secs(seconds), Some(destinations)) {
        Ok(response) if (200..300).contains(&response.status) => {
            TaskOutcome::Succeeded(crate::http::response_result(&response))
        }
        Ok(response) => failed(
            format!("ApiGateway.{}", response.status),
            String::from_utf8_lossy(&response.body).into_owned(),
        ),
        Err(SendError::Timeout(_)) => failed(steppe_asl::error_name::TIMEOUT, ""),
        Err(SendError::Connection(message)) => failed(
            "ApiGateway.SdkClientException",
            format!("Unable to execute HTTP request: {message}"),
        ),
    }
}

/// The request the parameters describe, and the `AuthType`.
pub fn build_request(parameters: &Value) -> Result<(HttpRequest, String), TaskOutcome> {
    let runtime = |message: String| failed(steppe_asl::error_name::RUNTIME, message);
    let text = |name: &str| parameters.get(name).and_then(Value::as_str);
    let endpoint = text("ApiEndpoint")
        .filter(|endpoint| !endpoint.is_empty())
        .ok_or_else(|| {
            runtime("The API Gateway Task needs the parameter 'ApiEndpoint' (a host name)".into())
        })?;
    let method = text("Method")
        .filter(|method| METHODS.contains(method))
        .ok_or_else(|| {
            runtime(format!(
                "The API Gateway Task needs the parameter 'Method', one of {}",
                METHODS.join(", ")
            ))
        })?;
    let auth = text("AuthType").unwrap_or("NO_AUTH");
    if !matches!(auth, "NO_AUTH" | "IAM_ROLE" | "RESOURCE_POLICY") {
        return Err(runtime(format!(
            "The API Gateway Task's 'AuthType' must be NO_AUTH, IAM_ROLE or RESOURCE_POLICY, not '{auth}'"
        )));
    }
    let mut url = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        endpoint.trim_end_matches('/').to_string()
    } else {
        format!("https://{endpoint}")
    };
    for part in [text("Stage"), text("Path")].into_iter().flatten() {
        let part = part.trim_matches('/');
        if !part.is_empty() {
            url.push('/');
            url.push_str(part);
        }
    }
    let query = listed(parameters.get("QueryParameters"));
    if !query.is_empty() {
        url.push('?');
        url.push_str(&crate::http::encode_pairs(&query));
    }
    let mut headers = listed(parameters.get("Headers"));
    let body = match parameters.get("RequestBody") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone().into_bytes()),
        Some(json) => {
            if !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("Content-Type".to_string(), "application/json".to_string()));
            }
            Some(json.to_string().into_bytes())
        }
    };
    let request = HttpRequest {
        method: method.to_string(),
        url,
        headers,
        body,
    };
    Ok((request, auth.to_string()))
}

/// `{"name": ["a", "b"]}` (or a single value) as name-value pairs, in order.
fn listed(map: Option<&Value>) -> Vec<(String, String)> {
    let Some(Value::Object(map)) = map else {
        return Vec::new();
    };
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    map.iter()
        .flat_map(|(name, values)| match values {
            Value::Array(values) => values
                .iter()
                .map(|value| (name.clone(), text(value)))
                .collect::<Vec<_>>(),
            value => vec![(name.clone(), text(value))],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_url_is_endpoint_stage_path_and_query() {
        let (request, auth) = build_request(&json!({
            "ApiEndpoint": "abc123.execute-api.us-east-1.amazonaws.com",
            "Method": "POST",
            "Stage": "prod",
            "Path": "/bills/add",
            "QueryParameters": {"billId": ["1", "2"], "q": ["a b"]},
            "Headers": {"TaskToken": ["t-1"]},
            "RequestBody": {"billId": "my-new-bill"}
        }))
        .unwrap();
        assert_eq!(auth, "NO_AUTH");
        assert_eq!(
            request.url,
            "https://abc123.execute-api.us-east-1.amazonaws.com/prod/bills/add?billId=1&billId=2&q=a%20b"
        );
        assert_eq!(
            request.headers,
            vec![
                ("TaskToken".to_string(), "t-1".to_string()),
                ("Content-Type".to_string(), "application/json".to_string()),
            ]
        );
        assert_eq!(request.body, Some(br#"{"billId":"my-new-bill"}"#.to_vec()));
        let (local, _) = build_request(&json!({
            "ApiEndpoint": "http://127.0.0.1:3000/", "Method": "GET", "Path": "health"
        }))
        .unwrap();
        assert_eq!(local.url, "http://127.0.0.1:3000/health");
    }

    #[test]
    fn bad_parameters_fail_with_states_runtime() {
        for parameters in [
            json!({"Method": "GET"}),
            json!({"ApiEndpoint": "a.example", "Method": "FETCH"}),
            json!({"ApiEndpoint": "a.example", "Method": "GET", "AuthType": "IAM_AUTH"}),
        ] {
            let outcome = build_request(&parameters).unwrap_err();
            assert!(
                matches!(&outcome, TaskOutcome::Failed { error, .. } if error == "States.Runtime"),
                "{parameters}: {outcome:?}"
            );
        }
    }
}
