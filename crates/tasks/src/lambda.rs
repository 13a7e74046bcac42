//! Lambda functions: the legacy function-ARN resource and the optimized `lambda:invoke`.
//!
//! A functions file maps a function name to a local command (event JSON on stdin, result JSON on
//! stdout) or to an endpoint speaking Lambda's Invoke API. Function errors become task failures
//! as Lambda reports unhandled errors: error = `errorType`, cause = the error object's JSON text.

use crate::command::{self, Finished};
use crate::transport::{self, HttpRequest, HttpResponse, SendError};
use crate::{failed, pointer_token, Error, TaskOutcome};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use steppe_engine::TaskInvocation;

/// The optimized Lambda integration's resource.
pub const INVOKE_RESOURCE: &str = "arn:aws:states:::lambda:invoke";

/// Region and account used in ARNs when the definition gives none.
const REGION_DEFAULT: &str = "us-east-1";
const ACCOUNT_DEFAULT: &str = "123456789012";

/// The functions a run can call, by name.
#[derive(Debug, Clone, Default)]
pub struct Functions {
    /// Function name → how to run it.
    pub functions: BTreeMap<String, Function>,
}

/// How to run one function.
#[derive(Debug, Clone, PartialEq)]
pub enum Function {
    /// A local command.
    Command {
        /// Program and arguments.
        argv: Vec<String>,
        /// Its working directory (the functions file's directory).
        cwd: PathBuf,
        /// Extra environment variables.
        env: Vec<(String, String)>,
    },
    /// A server speaking Lambda's Invoke API, e.g. `http://127.0.0.1:3001`.
    Endpoint(String),
}

/// What a function invocation produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Invoked {
    /// The function returned this payload.
    Payload(Value),
    /// The function failed (an unhandled error) with this error object.
    FunctionError(Value),
    /// The invocation itself failed (unknown function, unreachable endpoint, ...).
    Failed(TaskOutcome),
}

/// A function name taken apart: `name`, `name:qualifier`, `ACCOUNT:function:name` or a full ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionName {
    /// The bare name.
    pub name: String,
    /// Region from the ARN, else the local default.
    pub region: String,
    /// Account from the ARN, else the local default.
    pub account: String,
}

impl Functions {
    /// Reads a functions file (format in the crate README).
    pub fn load(path: &Path) -> Result<Functions, Error> {
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Functions::from_json(&crate::read_json(path)?, path, &base)
    }

    /// Checks a functions document already parsed; commands run in `base`.
    pub fn from_json(document: &Value, path: &Path, base: &Path) -> Result<Functions, Error> {
        let invalid = |pointer: String, message: &str| Error::Invalid {
            path: path.to_path_buf(),
            pointer,
            message: message.to_string(),
        };
        let Some(Value::Object(entries)) = document.get("functions") else {
            return Err(invalid(
                String::new(),
                "expected an object with a 'functions' object",
            ));
        };
        let mut functions = BTreeMap::new();
        for (name, spec) in entries {
            let pointer = format!("/functions/{}", pointer_token(name));
            functions.insert(
                name.clone(),
                parse_function(spec, &pointer, base, &invalid)?,
            );
        }
        Ok(Functions { functions })
    }
}

fn parse_function(
    spec: &Value,
    pointer: &str,
    base: &Path,
    invalid: &dyn Fn(String, &str) -> Error,
) -> Result<Function, Error> {
    match (spec.get("command"), spec.get("endpoint")) {
        (Some(Value::Array(argv)), None) => {
            let argv: Option<Vec<String>> = argv
                .iter()
                .map(|arg| arg.as_str().map(str::to_string))
                .collect();
            let argv = argv.filter(|argv| !argv.is_empty()).ok_or_else(|| {
                invalid(
                    format!("{pointer}/command"),
                    "expected a non-empty list of strings",
                )
            })?;
            let env = match spec.get("env") {
                None => Vec::new(),
                Some(Value::Object(env)) => env
                    .iter()
                    .map(|(key, value)| match value {
                        Value::String(value) => Ok((key.clone(), value.clone())),
                        _ => Err(invalid(
                            format!("{pointer}/env/{}", pointer_token(key)),
                            "expected a string",
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(invalid(format!("{pointer}/env"), "expected an object")),
            };
            Ok(Function::Command {
                argv,
                cwd: base.to_path_buf(),
                env,
            })
        }
        (None, Some(Value::String(endpoint))) => {
            Ok(Function::Endpoint(endpoint.trim_end_matches('/').to_string()))
        }
        _ => Err(invalid(
            pointer.to_string(),
            "expected either {\"command\": [program, args...]} or {\"endpoint\": \"http://host:port\"}",
        )),
    }
}

/// The function name of a legacy Lambda resource `arn:aws:lambda:REGION:ACCOUNT:function:NAME`.
pub fn function_arn_name(resource: &str) -> Option<FunctionName> {
    resource
        .starts_with("arn:aws:lambda:")
        .then(|| parse_function_name(resource))
        .flatten()
}

/// Takes apart a `FunctionName` parameter (name, partial ARN or ARN, with optional qualifier).
pub fn parse_function_name(text: &str) -> Option<FunctionName> {
    let parts: Vec<&str> = text.split(':').collect();
    let (name, region, account) = match parts.as_slice() {
        ["arn", _partition, "lambda", region, account, "function", name, ..] => {
            (*name, *region, *account)
        }
        [account, "function", name, ..] => (*name, REGION_DEFAULT, *account),
        [name] | [name, _] => (*name, REGION_DEFAULT, ACCOUNT_DEFAULT),
        _ => return None,
    };
    (!name.is_empty()).then(|| FunctionName {
        name: name.to_string(),
        region: region.to_string(),
        account: account.to_string(),
    })
}

/// Runs a Lambda task of `execution_arn`: the legacy ARN or `lambda:invoke`.
pub fn invoke(
    functions: &Functions,
    task: &TaskInvocation,
    execution_arn: Option<&str>,
    traceparent: Option<&str>,
    stderr_tails: Option<&command::StderrTails>,
) -> TaskOutcome {
    // One id per invocation, as Lambda gives: the execution, the task and its attempt make it
    // unique, and the same again when a restart runs the task again.
    let request_id = crate::request_id(&format!(
        "{}#{}#{}#{}",
        execution_arn.unwrap_or_default(),
        task.state_name,
        task.task_id,
        task.invocation
    ));
    let (function_name, payload) = if task.resource == INVOKE_RESOURCE {
        match invoke_parameters(&task.parameters) {
            Ok(parsed) => parsed,
            Err(outcome) => return outcome,
        }
    } else {
        match function_arn_name(&task.resource) {
            Some(name) => (name, task.parameters.clone()),
            None => return failed(steppe_asl::error_name::TASK_FAILED, "not a Lambda resource"),
        }
    };
    let invoked = match functions.functions.get(&function_name.name) {
        None => Invoked::Failed(resource_not_found(&function_name, &request_id)),
        Some(function) => {
            let (invoked, stderr) = call(
                function,
                (&function_name.name, &payload),
                task,
                &request_id,
                traceparent,
            );
            if let (Some(tails), Some(execution_arn), Some(tail)) =
                (stderr_tails, execution_arn, stderr)
            {
                tails.keep(command::KeptTail {
                    execution_arn: execution_arn.to_string(),
                    state_name: task.state_name.clone(),
                    invocation: task.invocation,
                    function_name: function_name.name.clone(),
                    tail,
                });
            }
            invoked
        }
    };
    if task.resource == INVOKE_RESOURCE {
        invoke_outcome(invoked, &request_id)
    } else {
        legacy_outcome(invoked)
    }
}

/// Calls a function; `traceparent`, when the execution is traced, goes with the call: the
/// `traceparent` header of an Invoke request, the `TRACEPARENT` variable of a command. A
/// command that wrote to stderr also answers the end of it.
fn call(
    function: &Function,
    (name, payload): (&str, &Value),
    task: &TaskInvocation,
    request_id: &str,
    traceparent: Option<&str>,
) -> (Invoked, Option<command::StderrTail>) {
    let timeout = task.timeout_seconds.map(Duration::from_secs);
    match function {
        Function::Command { argv, cwd, env } => {
            let mut env = env.clone();
            env.push(("AWS_LAMBDA_FUNCTION_NAME".to_string(), name.to_string()));
            env.push(("AWS_REQUEST_ID".to_string(), request_id.to_string()));
            if let Some(traceparent) = traceparent {
                env.push(("TRACEPARENT".to_string(), traceparent.to_string()));
            }
            let stdin = payload.to_string().into_bytes();
            let run = command::Run {
                argv,
                cwd,
                env: &env,
                stdin: &stdin,
                timeout,
            };
            match command::run(run) {
                Ok(finished) => {
                    let stderr = finished.stderr().clone();
                    let written = !stderr.text.is_empty();
                    (
                        command_result(finished, name, request_id),
                        written.then_some(stderr),
                    )
                }
                Err(error) => (
                    Invoked::Failed(failed(
                        steppe_asl::error_name::TASK_FAILED,
                        format!(
                            "cannot run the command {argv:?} of the function '{name}': {error}"
                        ),
                    )),
                    None,
                ),
            }
        }
        Function::Endpoint(endpoint) => {
            let mut request = endpoint_request(endpoint, name, payload);
            if let Some(traceparent) = traceparent {
                crate::http::with_traceparent(&mut request, traceparent);
            }
            // Lambda's own limit is 900 s; the task's timeout, if shorter, wins.
            let timeout = timeout.unwrap_or(Duration::from_secs(900));
            let invoked = match transport::send(&request, timeout, None) {
                Ok(response) => endpoint_result(&response, name, request_id),
                Err(SendError::Timeout(_)) => Invoked::Failed(timed_out()),
                Err(SendError::Connection(message)) => Invoked::Failed(failed(
                    "Lambda.SdkClientException",
                    format!("Unable to execute HTTP request: {message}"),
                )),
            };
            (invoked, None)
        }
    }
}

fn timed_out() -> TaskOutcome {
    failed(steppe_asl::error_name::TIMEOUT, "")
}

/// Reads `FunctionName` and `Payload` from `lambda:invoke` parameters.
pub fn invoke_parameters(parameters: &Value) -> Result<(FunctionName, Value), TaskOutcome> {
    let name = parameters.get("FunctionName").and_then(Value::as_str);
    let Some(name) = name.and_then(parse_function_name) else {
        return Err(failed(
            steppe_asl::error_name::RUNTIME,
            "The lambda:invoke parameters need a 'FunctionName' naming a function (name, partial ARN or ARN)",
        ));
    };
    let payload = parameters.get("Payload").cloned().unwrap_or(json!({}));
    Ok((name, payload))
}

/// Lambda's answer for a function it does not know, as Step Functions reports it.
pub fn resource_not_found(function: &FunctionName, request_id: &str) -> TaskOutcome {
    failed(
        "Lambda.ResourceNotFoundException",
        format!(
            "Function not found: arn:aws:lambda:{}:{}:function:{} (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {request_id}; Proxy: null)",
            function.region, function.account, function.name
        ),
    )
}

/// Turns a finished command into a function result.
pub fn command_result(finished: Finished, name: &str, request_id: &str) -> Invoked {
    let (status, stdout) = match finished {
        Finished::TimedOut { .. } => return Invoked::Failed(timed_out()),
        Finished::Exited { status, stdout, .. } => (status, stdout),
    };
    let text = String::from_utf8_lossy(&stdout);
    let parsed: Option<Value> = if text.trim().is_empty() {
        Some(Value::Null)
    } else {
        serde_json::from_str(text.trim()).ok()
    };
    match parsed {
        Some(value) if is_error_object(&value) => Invoked::FunctionError(value),
        _ if !status.success() => Invoked::FunctionError(json!({
            "errorType": "Runtime.ExitError",
            "errorMessage": format!(
                "RequestId: {request_id} Error: Runtime exited with error: {}",
                exit_text(status)
            ),
        })),
        Some(value) => Invoked::Payload(value),
        None => Invoked::Failed(failed(
            steppe_asl::error_name::TASK_FAILED,
            format!(
                "The command of the function '{name}' printed text that is not JSON: {}",
                text.chars().take(200).collect::<String>()
            ),
        )),
    }
}

fn exit_text(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "signal".to_string(),
    }
}

fn is_error_object(value: &Value) -> bool {
    value.get("errorType").is_some_and(Value::is_string) && value.get("errorMessage").is_some()
}

/// The Invoke API request for an endpoint.
pub fn endpoint_request(endpoint: &str, name: &str, payload: &Value) -> HttpRequest {
    HttpRequest {
        method: "POST".to_string(),
        url: format!("{endpoint}/2015-03-31/functions/{name}/invocations"),
        headers: vec![
            ("content-type".to_string(), "application/json".to_string()),
            (
                "x-amz-invocation-type".to_string(),
                "RequestResponse".to_string(),
            ),
        ],
        body: Some(payload.to_string().into_bytes()),
    }
}

/// Reads an Invoke API response.
pub fn endpoint_result(response: &HttpResponse, name: &str, request_id: &str) -> Invoked {
    let body: Value = if response.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice(&response.body) {
            Ok(body) => body,
            Err(_) => Value::String(String::from_utf8_lossy(&response.body).into_owned()),
        }
    };
    if response.status == 404 {
        let function = FunctionName {
            name: name.to_string(),
            region: REGION_DEFAULT.to_string(),
            account: ACCOUNT_DEFAULT.to_string(),
        };
        return Invoked::Failed(resource_not_found(&function, request_id));
    }
    if !(200..300).contains(&response.status) {
        let error_code = response
            .header("x-amzn-errortype")
            .map(|value| value.split(':').next().unwrap_or(value))
            .unwrap_or("ServiceException");
        return Invoked::Failed(failed(
            format!("Lambda.{error_code}"),
            format!(
                "{} (Service: AWSLambda; Status Code: {}; Error Code: {error_code}; Request ID: {request_id}; Proxy: null)",
                body.get("Message").or_else(|| body.get("message")).and_then(Value::as_str).unwrap_or(""),
                response.status
            ),
        ));
    }
    if response.header("x-amz-function-error").is_some() {
        return Invoked::FunctionError(body);
    }
    Invoked::Payload(body)
}

/// The function error as a task failure: error = `errorType`, cause = the error object's text.
fn function_error(error_object: &Value) -> TaskOutcome {
    let error = error_object
        .get("errorType")
        .and_then(Value::as_str)
        .unwrap_or("Lambda.Unknown");
    failed(error, error_object.to_string())
}

/// The task outcome of the legacy function-ARN resource: the payload as is.
pub fn legacy_outcome(invoked: Invoked) -> TaskOutcome {
    match invoked {
        Invoked::Payload(payload) => TaskOutcome::Succeeded(payload),
        Invoked::FunctionError(error_object) => function_error(&error_object),
        Invoked::Failed(outcome) => outcome,
    }
}

/// The task outcome of `lambda:invoke`: the payload wrapped in Lambda's Invoke response.
pub fn invoke_outcome(invoked: Invoked, request_id: &str) -> TaskOutcome {
    match invoked {
        Invoked::Payload(payload) => TaskOutcome::Succeeded(invoke_result(payload, request_id)),
        Invoked::FunctionError(error_object) => function_error(&error_object),
        Invoked::Failed(outcome) => outcome,
    }
}

/// The `lambda:invoke` result in AWS's shape (the `Date` and trace headers are left out: they
/// would need the clock and randomness).
pub fn invoke_result(payload: Value, request_id: &str) -> Value {
    let length = payload.to_string().len().to_string();
    let metadata = sdk_http_metadata(&[
        ("Connection", "keep-alive"),
        ("Content-Length", length.as_str()),
        ("Content-Type", "application/json"),
        ("X-Amz-Executed-Version", "$LATEST"),
        ("x-amzn-Remapped-Content-Length", "0"),
        ("x-amzn-RequestId", request_id),
    ]);
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": metadata,
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200
    })
}

/// The `SdkHttpMetadata` AWS's Java SDK adds to a service integration's result: the response
/// headers, once as values and once as one-element lists, and status 200.
pub fn sdk_http_metadata(headers: &[(&str, &str)]) -> Value {
    let headers: Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), json!(value)))
        .collect();
    let all_headers: Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.clone(), json!([value])))
        .collect();
    json!({"AllHttpHeaders": all_headers, "HttpHeaders": headers, "HttpStatusCode": 200})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_form() {
        let name =
            |text| parse_function_name(text).map(|name| (name.name, name.region, name.account));
        let local = |n: &str| {
            Some((
                n.to_string(),
                "us-east-1".to_string(),
                "123456789012".to_string(),
            ))
        };
        assert_eq!(name("greet"), local("greet"));
        assert_eq!(name("greet:prod"), local("greet"));
        assert_eq!(
            name("111122223333:function:greet"),
            Some(("greet".into(), "us-east-1".into(), "111122223333".into()))
        );
        assert_eq!(
            name("arn:aws:lambda:eu-west-1:111122223333:function:greet:$LATEST"),
            Some(("greet".into(), "eu-west-1".into(), "111122223333".into()))
        );
        assert_eq!(function_arn_name("arn:aws:states:::lambda:invoke"), None);
    }

    #[test]
    fn endpoint_function_error_and_not_found() {
        let response = |status, headers: Vec<(&str, &str)>, body: &str| HttpResponse {
            status,
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            endpoint_result(&response(200, vec![], r#"{"a":1}"#), "f", "id"),
            Invoked::Payload(json!({"a": 1}))
        );
        let error = r#"{"errorMessage":"boom","errorType":"ValueError"}"#;
        let invoked = endpoint_result(
            &response(200, vec![("x-amz-function-error", "Unhandled")], error),
            "f",
            "id",
        );
        assert_eq!(legacy_outcome(invoked), failed("ValueError", error));
        let missing = legacy_outcome(endpoint_result(&response(404, vec![], "{}"), "f", "id"));
        assert_eq!(
            missing,
            failed(
                "Lambda.ResourceNotFoundException",
                "Function not found: arn:aws:lambda:us-east-1:123456789012:function:f (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: id; Proxy: null)"
            )
        );
    }

    #[test]
    fn functions_file_errors_name_the_pointer() {
        let error = Functions::from_json(
            &json!({"functions": {"f": {"command": []}}}),
            Path::new("functions.json"),
            Path::new("."),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "functions.json at '/functions/f/command': expected a non-empty list of strings"
        );
    }
}
