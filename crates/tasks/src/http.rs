//! The HTTP Task, `arn:aws:states:::http:invoke`, with EventBridge connections configured locally.
//!
//! [`build_request`] turns the task's parameters (`ApiEndpoint`, `Method`, `Headers`,
//! `QueryParameters`, `RequestBody`, `Transform`, `Authentication.ConnectionArn`) into an
//! [`HttpRequest`]; [`response_outcome`] turns the [`HttpResponse`] into the task result
//! `{Headers, ResponseBody, StatusCode, StatusText}` or `States.Http.StatusCode.NNN`.
//! [`invoke`] sends it with the blocking client, failing with `States.Http.Socket` when no
//! response arrives within AWS's 60 s (or the task's shorter timeout); [`invoke_traced`] does
//! the same and also returns the [`Exchange`], the request and response TestState shows.

use crate::destinations::Destinations;
use crate::transport::{self, HttpRequest, HttpResponse, SendError};
use crate::{failed, pointer_token, Error, TaskOutcome};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use steppe_engine::TaskInvocation;

/// The HTTP Task's resource.
pub const INVOKE_RESOURCE: &str = "arn:aws:states:::http:invoke";

/// AWS's limit on one HTTP Task request, seconds.
pub const REQUEST_SECONDS_MAX: u64 = 60;

/// The error name for a request that got no response.
pub const SOCKET_ERROR: &str = "States.Http.Socket";

/// Locally configured EventBridge connections, by name or ARN.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    /// Connection name (or full ARN) → what it adds to requests.
    pub connections: BTreeMap<String, Connection>,
}

/// What a connection adds to each request: its authorization and invocation parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Connection {
    /// Headers, the authorization header included; they replace same-named task headers.
    pub headers: Vec<(String, String)>,
    /// Query-string parameters.
    pub query: Vec<(String, String)>,
    /// Body parameters, merged into an object body.
    pub body: Vec<(String, String)>,
    /// The hosts its secrets may go to (`Hosts`: names, or `*.domain` for its subdomains),
    /// lower case; empty: any.
    pub hosts: Vec<String>,
}

impl Connection {
    /// Whether the connection's secrets may be sent to `host`.
    pub fn sends_to(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.is_empty()
            || self
                .hosts
                .iter()
                .any(|allowed| match allowed.strip_prefix("*.") {
                    Some(domain) => host
                        .strip_suffix(domain)
                        .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
                    None => *allowed == host,
                })
    }
}

impl Connections {
    /// Reads a connections file (format in the crate README).
    pub fn load(path: &Path) -> Result<Connections, Error> {
        Connections::from_json(&crate::read_json(path)?, path)
    }

    /// Checks a connections document already parsed; `path` names it in messages.
    pub fn from_json(document: &Value, path: &Path) -> Result<Connections, Error> {
        let invalid = |pointer: String, message: &str| Error::Invalid {
            path: path.to_path_buf(),
            pointer,
            message: message.to_string(),
        };
        let Some(Value::Object(entries)) = document.get("connections") else {
            return Err(invalid(
                String::new(),
                "expected an object with a 'connections' object",
            ));
        };
        let mut connections = BTreeMap::new();
        for (name, spec) in entries {
            let pointer = format!("/connections/{}", pointer_token(name));
            connections.insert(name.clone(), parse_connection(spec, &pointer, &invalid)?);
        }
        Ok(Connections { connections })
    }

    /// The connection an ARN (`arn:aws:events:REGION:ACCOUNT:connection/NAME/ID`) or name refers to.
    pub fn find(&self, arn: &str) -> Option<&Connection> {
        self.connections.get(arn).or_else(|| {
            let name = arn.split_once(":connection/")?.1.split('/').next()?;
            self.connections.get(name)
        })
    }
}

fn parse_connection(
    spec: &Value,
    pointer: &str,
    invalid: &dyn Fn(String, &str) -> Error,
) -> Result<Connection, Error> {
    let text = |value: Option<&Value>, pointer: String| -> Result<String, Error> {
        match value {
            Some(Value::String(text)) => Ok(text.clone()),
            // `{"env": "NAME"}` keeps secrets out of the file.
            Some(Value::Object(from)) if from.len() == 1 && from.contains_key("env") => {
                let name = from["env"].as_str().unwrap_or_default();
                std::env::var(name).map_err(|_| {
                    invalid(
                        pointer,
                        &format!("the environment variable '{name}' is not set"),
                    )
                })
            }
            _ => Err(invalid(
                pointer,
                "expected a string or {\"env\": \"VARIABLE\"}",
            )),
        }
    };
    let auth = spec.get("AuthParameters").cloned().unwrap_or(json!({}));
    let auth_pointer = format!("{pointer}/AuthParameters");
    let mut connection = Connection::default();
    match spec.get("AuthorizationType").and_then(Value::as_str) {
        Some("API_KEY") => {
            let params = auth.get("ApiKeyAuthParameters");
            let field = |name: &str| {
                let pointer = format!("{auth_pointer}/ApiKeyAuthParameters/{name}");
                text(params.and_then(|params| params.get(name)), pointer)
            };
            connection.headers.push((field("ApiKeyName")?, field("ApiKeyValue")?));
        }
        Some("BASIC") => {
            let params = auth.get("BasicAuthParameters");
            let field = |name: &str| {
                let pointer = format!("{auth_pointer}/BasicAuthParameters/{name}");
                text(params.and_then(|params| params.get(name)), pointer)
            };
            let credentials = format!("{}:{}", field("Username")?, field("Password")?);
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            connection.headers.push(("Authorization".to_string(), format!("Basic {encoded}")));
        }
        Some("NONE") | None => {}
        Some(other) => {
            return Err(invalid(
                format!("{pointer}/AuthorizationType"),
                &format!("'{other}' is not supported locally; use API_KEY, BASIC or an Authorization header in InvocationHttpParameters"),
            ))
        }
    }
    if let Some(hosts) = spec.get("Hosts") {
        let pointer = format!("{pointer}/Hosts");
        let hosts = hosts
            .as_array()
            .filter(|hosts| !hosts.is_empty())
            .ok_or_else(|| invalid(pointer.clone(), "expected a non-empty list of host names"))?;
        for (index, host) in hosts.iter().enumerate() {
            let host = host
                .as_str()
                .filter(|host| !host.is_empty())
                .ok_or_else(|| {
                    invalid(
                        format!("{pointer}/{index}"),
                        "expected a host name, or *.domain",
                    )
                })?;
            connection
                .hosts
                .push(host.trim_end_matches('.').to_ascii_lowercase());
        }
    }
    let invocation = auth.get("InvocationHttpParameters");
    for (field, target) in [
        ("HeaderParameters", &mut connection.headers),
        ("QueryStringParameters", &mut connection.query),
        ("BodyParameters", &mut connection.body),
    ] {
        let Some(list) = invocation.and_then(|params| params.get(field)) else {
            continue;
        };
        let pointer = format!("{auth_pointer}/InvocationHttpParameters/{field}");
        let list = list
            .as_array()
            .ok_or_else(|| invalid(pointer.clone(), "expected a list of {\"Key\", \"Value\"}"))?;
        for (index, entry) in list.iter().enumerate() {
            let key = text(entry.get("Key"), format!("{pointer}/{index}/Key"))?;
            let value = text(entry.get("Value"), format!("{pointer}/{index}/Value"))?;
            target.push((key, value));
        }
    }
    Ok(connection)
}

/// Whether a built request carries what the task's connection adds (its secrets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// The request as sent: the connection's headers, query and body parameters included.
    Include,
    /// The request less what the connection adds, and less the task's headers and body members
    /// the connection replaces: TestState shows this unless `revealSecrets` is true.
    Omit,
}

/// An HTTP Task's request and the response read for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The request, with or without the connection's secrets (see [`invoke_traced`]).
    pub request: HttpRequest,
    /// The response, `None` when none arrived (`States.Http.Socket`).
    pub response: Option<HttpResponse>,
}

/// Runs an HTTP Task with the blocking client.
pub fn invoke(
    connections: &Connections,
    destinations: &Destinations,
    task: &TaskInvocation,
    traceparent: Option<&str>,
) -> TaskOutcome {
    match build_request(&task.parameters, connections) {
        Ok(mut request) => {
            if let Some(traceparent) = traceparent {
                with_traceparent(&mut request, traceparent);
            }
            send_request(&request, destinations, task).0
        }
        Err(outcome) => outcome,
    }
}

/// Adds a W3C `traceparent` header (the task's span in its execution's trace), unless the
/// task's own `Headers` already carry one: the definition's author decides.
pub fn with_traceparent(request: &mut HttpRequest, traceparent: &str) {
    let given = request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(TRACEPARENT_HEADER));
    if !given {
        request
            .headers
            .push((TRACEPARENT_HEADER.to_string(), traceparent.to_string()));
    }
}

/// The W3C Trace Context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Runs an HTTP Task as [`invoke`] does, and also returns the exchange, its request built per
/// `shown` (the request sent always includes the connection's secrets); no exchange when the
/// parameters describe no request.
pub fn invoke_traced(
    connections: &Connections,
    destinations: &Destinations,
    task: &TaskInvocation,
    shown: Secrets,
) -> (TaskOutcome, Option<Exchange>) {
    let requests = build_request(&task.parameters, connections).and_then(|request| {
        let shown = build_request_with(&task.parameters, connections, shown)?;
        Ok((request, shown))
    });
    let (request, shown) = match requests {
        Ok(requests) => requests,
        Err(outcome) => return (outcome, None),
    };
    let (outcome, response) = send_request(&request, destinations, task);
    let exchange = Exchange {
        request: shown,
        response,
    };
    (outcome, Some(exchange))
}

/// Sends a built request within the task's timeout (at most AWS's 60 s): the outcome, and the
/// response if one arrived.
fn send_request(
    request: &HttpRequest,
    destinations: &Destinations,
    task: &TaskInvocation,
) -> (TaskOutcome, Option<HttpResponse>) {
    let seconds = task.timeout_seconds.map_or(REQUEST_SECONDS_MAX, |seconds| {
        seconds.min(REQUEST_SECONDS_MAX)
    });
    match transport::send(request, Duration::from_secs(seconds), Some(destinations)) {
        Ok(response) => (response_outcome(&response), Some(response)),
        Err(SendError::Timeout(_)) => {
            let cause = format!(
                "The request to {} timed out after {seconds} seconds",
                request.url
            );
            (failed(SOCKET_ERROR, cause), None)
        }
        Err(SendError::Connection(message)) => {
            let cause = format!("The request to {} failed: {message}", request.url);
            (failed(SOCKET_ERROR, cause), None)
        }
    }
}

/// Builds the request an HTTP Task's parameters describe.
pub fn build_request(
    parameters: &Value,
    connections: &Connections,
) -> Result<HttpRequest, TaskOutcome> {
    build_request_with(parameters, connections, Secrets::Include)
}

/// Builds the request an HTTP Task's parameters describe, with or without what its connection
/// adds.
pub fn build_request_with(
    parameters: &Value,
    connections: &Connections,
    secrets: Secrets,
) -> Result<HttpRequest, TaskOutcome> {
    let runtime = |message: String| failed(steppe_asl::error_name::RUNTIME, message);
    let field = |name: &str| parameters.get(name).and_then(Value::as_str);
    let endpoint = field("ApiEndpoint").ok_or_else(|| {
        runtime("The HTTP Task needs the parameter 'ApiEndpoint' (a string)".into())
    })?;
    let method = field("Method")
        .ok_or_else(|| runtime("The HTTP Task needs the parameter 'Method' (a string)".into()))?
        .to_ascii_uppercase();
    let connection_arn = ["Authentication", "InvocationConfig"]
        .iter()
        .find_map(|name| parameters.get(*name)?.get("ConnectionArn")?.as_str());
    let connection = match connection_arn {
        None => Connection::default(),
        Some(arn) => connections.find(arn).cloned().ok_or_else(|| {
            failed(
                steppe_asl::error_name::TASK_FAILED,
                format!("The connection '{arn}' is not configured locally: add it to the connections file (--connections)"),
            )
        })?,
    };
    if secrets == Secrets::Include && !connection.hosts.is_empty() {
        let host = endpoint
            .parse::<ureq::http::Uri>()
            .ok()
            .and_then(|uri| uri.host().map(str::to_string))
            .unwrap_or_default();
        if !connection.sends_to(&host) {
            return Err(failed(
                SOCKET_ERROR,
                format!(
                    "steppe does not send the connection's secrets to '{host}': its Hosts are {}",
                    connection.hosts.join(", ")
                ),
            ));
        }
    }
    let transform = parameters.get("Transform");
    let url_encoded = transform
        .and_then(|transform| transform.get("RequestBodyEncoding"))
        .and_then(Value::as_str)
        == Some("URL_ENCODED");
    let array_format = transform
        .and_then(|transform| transform.get("RequestEncodingOptions"))
        .and_then(|options| options.get("ArrayFormat"))
        .and_then(Value::as_str)
        .unwrap_or("INDICES");

    let mut query = Vec::new();
    if let Some(parameters) = parameters.get("QueryParameters") {
        flatten("", parameters, array_format, &mut query);
    }
    if secrets == Secrets::Include {
        query.extend(connection.query.iter().cloned());
    }
    let mut url = endpoint.to_string();
    if !query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&encode_pairs(&query));
    }

    let mut headers: Vec<(String, String)> = match parameters.get("Headers") {
        Some(Value::Object(given)) => given
            .iter()
            .map(|(name, value)| (name.clone(), scalar_text(value)))
            .collect(),
        _ => Vec::new(),
    };
    let body = match parameters.get("RequestBody") {
        None if connection.body.is_empty() => None,
        body => Some(request_body(
            body,
            &connection,
            secrets,
            url_encoded,
            array_format,
        )?),
    };
    if let Some((content_type, _)) = &body {
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".to_string(), content_type.to_string()));
        }
    }
    for (name, value) in &connection.headers {
        headers.retain(|(given, _)| !given.eq_ignore_ascii_case(name));
        if secrets == Secrets::Include {
            headers.push((name.clone(), value.clone()));
        }
    }
    Ok(HttpRequest {
        method,
        url,
        headers,
        body: body.map(|(_, bytes)| bytes),
    })
}

/// The body and its content type: the connection's body parameters are merged into an object
/// body (or, without secrets, the members they would set are left out).
fn request_body(
    body: Option<&Value>,
    connection: &Connection,
    secrets: Secrets,
    url_encoded: bool,
    array_format: &str,
) -> Result<(&'static str, Vec<u8>), TaskOutcome> {
    let mut body = body.cloned().unwrap_or_else(|| json!({}));
    if let Value::Object(object) = &mut body {
        for (key, value) in &connection.body {
            match secrets {
                Secrets::Include => object.insert(key.clone(), json!(value)),
                Secrets::Omit => object.remove(key),
            };
        }
    }
    if url_encoded {
        if !body.is_object() {
            return Err(failed(
                steppe_asl::error_name::RUNTIME,
                "The HTTP Task's RequestBody must be an object to be URL_ENCODED",
            ));
        }
        let mut pairs = Vec::new();
        flatten("", &body, array_format, &mut pairs);
        return Ok((
            "application/x-www-form-urlencoded",
            encode_pairs(&pairs).into_bytes(),
        ));
    }
    let bytes = match &body {
        Value::String(text) => text.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    };
    Ok(("application/json; charset=UTF-8", bytes))
}

/// Flattens a JSON value into form pairs: `a[b]=c`, arrays per `ArrayFormat`.
fn flatten(prefix: &str, value: &Value, array_format: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}[{key}]")
                };
                flatten(&name, value, array_format, out);
            }
        }
        Value::Array(items) => match array_format {
            "COMMAS" => {
                let joined: Vec<String> = items.iter().map(scalar_text).collect();
                out.push((prefix.to_string(), joined.join(",")));
            }
            "REPEAT" => items
                .iter()
                .for_each(|item| flatten(prefix, item, array_format, out)),
            "BRACKETS" => items
                .iter()
                .for_each(|item| flatten(&format!("{prefix}[]"), item, array_format, out)),
            _ => items.iter().enumerate().for_each(|(index, item)| {
                flatten(&format!("{prefix}[{index}]"), item, array_format, out)
            }),
        },
        scalar => out.push((prefix.to_string(), scalar_text(scalar))),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `key=value&...` with RFC 3986 unreserved characters kept and everything else
/// percent-encoded (a query string, or a form body as AWS's Query protocol expects it).
pub(crate) fn encode_pairs(pairs: &[(String, String)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(byte).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The task result for a response, or `States.Http.StatusCode.NNN` (cause: the same result's
/// JSON text) when the status is not 2xx.
pub fn response_outcome(response: &HttpResponse) -> TaskOutcome {
    let result = response_result(response);
    if (200..300).contains(&response.status) {
        TaskOutcome::Succeeded(result)
    } else {
        failed(
            format!("States.Http.StatusCode.{}", response.status),
            result.to_string(),
        )
    }
}

/// A response as the HTTP Task (and API Gateway's integration) returns it: `Headers` (each
/// a list of values), `ResponseBody` (JSON when the response says so, else text),
/// `StatusCode` and `StatusText`.
pub fn response_result(response: &HttpResponse) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    for (name, value) in &response.headers {
        let values = headers.entry(name.clone()).or_insert_with(|| json!([]));
        if let Value::Array(values) = values {
            values.push(json!(value));
        }
    }
    let is_json = response
        .header("content-type")
        .is_some_and(|content_type| content_type.to_ascii_lowercase().contains("json"));
    let text = String::from_utf8_lossy(&response.body);
    let body = match is_json {
        true => serde_json::from_str(&text).unwrap_or_else(|_| json!(text)),
        false => json!(text),
    };
    json!({
        "Headers": headers,
        "ResponseBody": body,
        "StatusCode": response.status,
        "StatusText": transport::reason_phrase(response.status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connections_secrets_go_only_to_the_hosts_it_lists() {
        let connections = Connections::from_json(
            &json!({"connections": {"scoped": {
                "AuthorizationType": "API_KEY",
                "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "s"}},
                "Hosts": ["api.example.com", "*.stripe.com"]
            }}}),
            Path::new("connections.json"),
        )
        .unwrap();
        let request = |url: &str| {
            build_request(
                &json!({"ApiEndpoint": url, "Method": "GET",
                        "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:1:connection/scoped/x"}}),
                &connections,
            )
        };
        for allowed in ["https://API.example.com/v1", "https://eu.api.stripe.com/x"] {
            let built = request(allowed).unwrap_or_else(|outcome| panic!("{allowed}: {outcome:?}"));
            assert!(built.headers.iter().any(|(name, _)| name == "x-key"));
        }
        for refused in [
            "https://evil.example/v1",
            "https://stripe.com/x",
            "https://api.example.com.evil.example/",
        ] {
            let Err(TaskOutcome::Failed { error, cause }) = request(refused) else {
                panic!("{refused} was allowed");
            };
            assert_eq!(error, SOCKET_ERROR);
            assert!(
                cause.contains("does not send the connection's secrets"),
                "{cause}"
            );
        }
        let invalid = Connections::from_json(
            &json!({"connections": {"bad": {"AuthorizationType": "NONE", "Hosts": []}}}),
            Path::new("connections.json"),
        );
        assert!(invalid.is_err());
    }

    fn connections() -> Connections {
        Connections::from_json(
            &json!({"connections": {
                "stripe": {
                    "AuthorizationType": "API_KEY",
                    "AuthParameters": {
                        "ApiKeyAuthParameters": {"ApiKeyName": "Authorization", "ApiKeyValue": "Bearer k"},
                        "InvocationHttpParameters": {
                            "QueryStringParameters": [{"Key": "v", "Value": "2"}],
                            "BodyParameters": [{"Key": "source", "Value": "steppe"}]
                        }
                    }
                },
                "basic": {"AuthorizationType": "BASIC",
                          "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": "p"}}}
            }}),
            Path::new("connections.json"),
        )
        .unwrap()
    }

    #[test]
    fn builds_url_headers_and_form_body() {
        let request = build_request(
            &json!({
                "ApiEndpoint": "https://api.example.com/charges",
                "Method": "post",
                "Headers": {"authorization": "mine", "X-Trace": 7},
                "QueryParameters": {"q": "a b", "tags": ["x", "y"]},
                "RequestBody": {"amount": 5, "items": ["p", "q"]},
                "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                              "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}},
                "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/stripe/0b1c"}
            }),
            &connections(),
        )
        .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.url,
            "https://api.example.com/charges?q=a%20b&tags%5B%5D=x&tags%5B%5D=y&v=2"
        );
        assert_eq!(
            request.headers,
            vec![
                ("X-Trace".to_string(), "7".to_string()),
                (
                    "Content-Type".to_string(),
                    "application/x-www-form-urlencoded".to_string()
                ),
                ("Authorization".to_string(), "Bearer k".to_string()),
            ]
        );
        assert_eq!(
            String::from_utf8(request.body.unwrap()).unwrap(),
            "amount=5&items%5B%5D=p&items%5B%5D=q&source=steppe"
        );
    }

    #[test]
    fn basic_auth_and_json_body() {
        let request = build_request(
            &json!({"ApiEndpoint": "http://h/x?a=1", "Method": "PUT", "RequestBody": {"k": [1]},
                    "Authentication": {"ConnectionArn": "basic"}}),
            &connections(),
        )
        .unwrap();
        assert_eq!(request.url, "http://h/x?a=1");
        assert!(request
            .headers
            .contains(&("Authorization".into(), "Basic dTpw".into())));
        assert_eq!(request.body.unwrap(), br#"{"k":[1]}"#);
    }

    #[test]
    fn without_secrets_the_connection_adds_nothing_and_what_it_replaces_is_left_out() {
        let parameters = json!({
            "ApiEndpoint": "https://api.example.com/charges",
            "Method": "POST",
            "Headers": {"authorization": "mine", "X-Trace": 7},
            "QueryParameters": {"q": "a"},
            "RequestBody": {"amount": 5, "source": "mine"},
            "Authentication": {"ConnectionArn": "stripe"}
        });
        let request = build_request_with(&parameters, &connections(), Secrets::Omit).unwrap();
        assert_eq!(request.url, "https://api.example.com/charges?q=a");
        assert_eq!(
            request.headers,
            vec![
                ("X-Trace".to_string(), "7".to_string()),
                (
                    "Content-Type".to_string(),
                    "application/json; charset=UTF-8".to_string()
                ),
            ]
        );
        assert_eq!(request.body.unwrap(), br#"{"amount":5}"#);
        let sent = build_request(&parameters, &connections()).unwrap();
        assert_eq!(sent.url, "https://api.example.com/charges?q=a&v=2");
        assert_eq!(sent.body.unwrap(), br#"{"amount":5,"source":"steppe"}"#);
    }

    #[test]
    fn missing_connection_and_parameters_fail() {
        let outcome = build_request(
            &json!({"ApiEndpoint": "http://h", "Method": "GET",
                    "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:1:connection/nope/1"}}),
            &connections(),
        );
        assert!(
            matches!(outcome, Err(TaskOutcome::Failed { cause, .. }) if cause.contains("connection/nope/1"))
        );
        let outcome = build_request(&json!({"Method": "GET"}), &connections());
        assert!(
            matches!(outcome, Err(TaskOutcome::Failed { error, .. }) if error == "States.Runtime")
        );
    }

    #[test]
    fn response_shape_and_status_errors() {
        let response = HttpResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("set-cookie".into(), "a".into()),
                ("set-cookie".into(), "b".into()),
            ],
            body: br#"{"id": 1}"#.to_vec(),
        };
        assert_eq!(
            response_outcome(&response),
            TaskOutcome::Succeeded(json!({
                "Headers": {"content-type": ["application/json"], "set-cookie": ["a", "b"]},
                "ResponseBody": {"id": 1},
                "StatusCode": 200,
                "StatusText": "OK"
            }))
        );
        let missing = HttpResponse {
            status: 404,
            headers: vec![],
            body: b"nope".to_vec(),
        };
        assert_eq!(
            response_outcome(&missing),
            failed(
                "States.Http.StatusCode.404",
                r#"{"Headers":{},"ResponseBody":"nope","StatusCode":404,"StatusText":"Not Found"}"#
            )
        );
    }
}
