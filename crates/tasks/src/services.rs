//! AWS service integrations, sent to an AWS-compatible endpoint: the optimized
//! `arn:aws:states:::sqs:sendMessage`, `sns:publish`, `events:putEvents` and
//! `dynamodb:getItem|putItem|updateItem|deleteItem`, `ecs:runTask` (request-response and
//! `.waitForTaskToken`; not `.sync`), and `arn:aws:states:::aws-sdk:SERVICE:ACTION`
//! for the services in [`SERVICES`] (those speaking AWS's JSON or Query protocol).
//!
//! Step Functions Local does the same: it sends each service's calls to an endpoint you give
//! it (LocalStack, ElasticMQ, DynamoDB Local, or AWS itself). Requests are signed with
//! Signature Version 4 using the standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN` variables (LocalStack's `test`/`test` when they are unset), so real AWS
//! accepts them too.
//!
//! Building the request and reading the response are pure ([`request`], [`outcome`]); only
//! [`invoke`] does I/O.

use crate::transport::{self, HttpRequest, HttpResponse, SendError};
use crate::{failed, TaskOutcome};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use steppe_engine::TaskInvocation;

/// How a service is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0 or 1.1: `POST /`, `X-Amz-Target: PREFIX.Operation`, a JSON body.
    Json {
        /// `1.0` or `1.1`.
        version: &'static str,
        /// The `X-Amz-Target` prefix.
        target: &'static str,
    },
    /// AWS Query: a form-encoded `Action=Operation&Version=...` body, an XML response.
    Query {
        /// The API version.
        version: &'static str,
    },
}

/// A service steppe can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The name in `aws-sdk:NAME:action` resources (the AWS SDK's client name, lowercase).
    pub sdk_name: &'static str,
    /// The name in optimized `arn:aws:states:::NAME:action` resources, with their actions.
    pub optimized: Option<(&'static str, &'static [&'static str])>,
    /// The SigV4 signing name (and the name in `--service-endpoint NAME=URL`).
    pub signing_name: &'static str,
    /// The wire protocol.
    pub protocol: Protocol,
    /// The service's name in optimized integrations' error names (`SQS.…`).
    pub error_prefix: &'static str,
    /// The service's name in `aws-sdk` integrations' error names (`Sqs.…`).
    pub sdk_error_prefix: &'static str,
    /// The service name in AWS SDK for Java v1 error causes (`Service: AmazonSQS`).
    pub java_name: &'static str,
    /// The AWS SDK for Java v1 exception for errors it has no class for (`AmazonSQSException`).
    pub generic_class: &'static str,
    /// Whether the service's JSON members are camelCase on the wire (`stateMachineArn`):
    /// Step Functions shows every member in PascalCase, so names are converted both ways.
    pub camel_case: bool,
}

const fn json_service(
    sdk_name: &'static str,
    signing_name: &'static str,
    version: &'static str,
    target: &'static str,
    sdk_error_prefix: &'static str,
) -> Service {
    Service {
        sdk_name,
        optimized: None,
        signing_name,
        protocol: Protocol::Json { version, target },
        error_prefix: sdk_error_prefix,
        sdk_error_prefix,
        java_name: sdk_error_prefix,
        generic_class: sdk_error_prefix,
        camel_case: false,
    }
}

/// A JSON service whose members are camelCase on the wire.
const fn camel_json_service(
    sdk_name: &'static str,
    signing_name: &'static str,
    version: &'static str,
    target: &'static str,
    sdk_error_prefix: &'static str,
) -> Service {
    Service {
        camel_case: true,
        ..json_service(sdk_name, signing_name, version, target, sdk_error_prefix)
    }
}

/// The services steppe can call: the optimized integrations first, then `aws-sdk` services
/// that speak AWS's JSON protocol.
pub const SERVICES: &[Service] = &[
    Service {
        sdk_name: "sqs",
        optimized: Some(("sqs", &["sendMessage"])),
        signing_name: "sqs",
        protocol: Protocol::Json {
            version: "1.0",
            target: "AmazonSQS",
        },
        error_prefix: "SQS",
        sdk_error_prefix: "Sqs",
        java_name: "AmazonSQS",
        generic_class: "AmazonSQSException",
        camel_case: false,
    },
    Service {
        sdk_name: "sns",
        optimized: Some(("sns", &["publish"])),
        signing_name: "sns",
        protocol: Protocol::Query {
            version: "2010-03-31",
        },
        error_prefix: "SNS",
        sdk_error_prefix: "Sns",
        java_name: "AmazonSNS",
        generic_class: "AmazonSNSException",
        camel_case: false,
    },
    Service {
        sdk_name: "eventbridge",
        optimized: Some(("events", &["putEvents"])),
        signing_name: "events",
        protocol: Protocol::Json {
            version: "1.1",
            target: "AWSEvents",
        },
        error_prefix: "EventBridge",
        sdk_error_prefix: "EventBridge",
        java_name: "AmazonEventBridge",
        generic_class: "AmazonEventBridgeException",
        camel_case: false,
    },
    Service {
        sdk_name: "dynamodb",
        optimized: Some((
            "dynamodb",
            &["getItem", "putItem", "updateItem", "deleteItem"],
        )),
        signing_name: "dynamodb",
        protocol: Protocol::Json {
            version: "1.0",
            target: "DynamoDB_20120810",
        },
        error_prefix: "DynamoDB",
        sdk_error_prefix: "DynamoDb",
        java_name: "AmazonDynamoDBv2",
        generic_class: "AmazonDynamoDBException",
        camel_case: false,
    },
    camel_json_service("sfn", "states", "1.0", "AWSStepFunctions", "Sfn"),
    json_service("kinesis", "kinesis", "1.1", "Kinesis_20131202", "Kinesis"),
    json_service(
        "firehose",
        "firehose",
        "1.1",
        "Firehose_20150804",
        "Firehose",
    ),
    camel_json_service(
        "cloudwatchlogs",
        "logs",
        "1.1",
        "Logs_20140328",
        "CloudWatchLogs",
    ),
    json_service(
        "secretsmanager",
        "secretsmanager",
        "1.1",
        "secretsmanager",
        "SecretsManager",
    ),
    json_service("ssm", "ssm", "1.1", "AmazonSSM", "Ssm"),
    json_service("kms", "kms", "1.1", "TrentService", "Kms"),
    Service {
        sdk_name: "ecs",
        optimized: Some(("ecs", &["runTask"])),
        signing_name: "ecs",
        protocol: Protocol::Json {
            version: "1.1",
            target: "AmazonEC2ContainerServiceV20141113",
        },
        error_prefix: "ECS",
        sdk_error_prefix: "Ecs",
        java_name: "AmazonECS",
        generic_class: "AmazonECSException",
        camel_case: true,
    },
    json_service("glue", "glue", "1.1", "AWSGlue", "Glue"),
    json_service("athena", "athena", "1.1", "AmazonAthena", "Athena"),
    camel_json_service(
        "codebuild",
        "codebuild",
        "1.1",
        "CodeBuild_20161006",
        "CodeBuild",
    ),
];

/// A service call a Task's resource names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The service.
    pub service: &'static Service,
    /// `true` for an optimized integration, `false` for `aws-sdk`.
    pub optimized: bool,
}

/// The service call of a resource (without `.waitForTaskToken`), if it is one steppe knows.
pub fn call_of(resource: &str) -> Option<(Call, String)> {
    let rest = resource.strip_prefix("arn:aws:states:::")?;
    if let Some(rest) = rest.strip_prefix("aws-sdk:") {
        let (name, action) = rest.split_once(':')?;
        let service = SERVICES.iter().find(|service| service.sdk_name == name)?;
        let call = Call {
            service,
            optimized: false,
        };
        return (!action.is_empty()).then(|| (call, operation_name(action)));
    }
    let (name, action) = rest.split_once(':')?;
    let service = SERVICES.iter().find(|service| {
        service
            .optimized
            .is_some_and(|(optimized, actions)| optimized == name && actions.contains(&action))
    })?;
    let call = Call {
        service,
        optimized: true,
    };
    Some((call, operation_name(action)))
}

/// `sendMessage` → `SendMessage`.
fn operation_name(action: &str) -> String {
    let mut chars = action.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Amazon S3's signing name, and its name in `--service-endpoint s3=URL`. S3 speaks REST-XML,
/// not one of [`Protocol`]'s protocols, so it is not in [`SERVICES`]: `crate::s3` calls it.
pub const S3_SIGNING_NAME: &str = "s3";

/// Where service calls go and how they are signed.
#[derive(Debug, Clone, Default)]
pub struct Services {
    /// The endpoint of every service without one of its own (`--aws-endpoint`).
    pub default_endpoint: Option<String>,
    /// Endpoints by signing name (`--service-endpoint sqs=URL`).
    pub endpoints: BTreeMap<String, String>,
    /// The region requests are signed for.
    pub region: String,
    /// The credentials requests are signed with.
    pub credentials: Credentials,
    /// Buckets served from this folder's subfolders instead of an S3 endpoint (`--s3-dir`).
    pub s3_dir: Option<std::path::PathBuf>,
}

/// AWS credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The standard environment variables, or LocalStack's `test`/`test` when unset.
    pub fn from_env() -> Credentials {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Credentials {
                access_key_id,
                secret_access_key,
                session_token: var("AWS_SESSION_TOKEN"),
            },
            _ => Credentials {
                access_key_id: "test".to_string(),
                secret_access_key: "test".to_string(),
                session_token: None,
            },
        }
    }
}

/// A `--service-endpoint` value that is not `NAME=URL` with a known service name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not SERVICE=URL with SERVICE one of: {names}", names = signing_names().join(", "))]
pub struct BadEndpoint(pub String);

fn signing_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = SERVICES
        .iter()
        .map(|service| service.signing_name)
        .chain([S3_SIGNING_NAME])
        .collect();
    names.sort_unstable();
    names
}

impl Services {
    /// Services at `default_endpoint`, with `overrides` (`NAME=URL`) for some, signed for
    /// `region` with the environment's credentials.
    pub fn new(
        region: &str,
        default_endpoint: Option<&str>,
        overrides: &[String],
    ) -> Result<Services, BadEndpoint> {
        let mut endpoints = BTreeMap::new();
        for text in overrides {
            let (name, url) = text
                .split_once('=')
                .filter(|(name, url)| signing_names().contains(name) && !url.is_empty())
                .ok_or_else(|| BadEndpoint(text.clone()))?;
            endpoints.insert(name.to_string(), url.trim_end_matches('/').to_string());
        }
        Ok(Services {
            default_endpoint: default_endpoint.map(|url| url.trim_end_matches('/').to_string()),
            endpoints,
            region: region.to_string(),
            credentials: Credentials::from_env(),
            s3_dir: None,
        })
    }

    /// Where S3 calls go: the `--s3-dir` folders, else the S3 endpoint, if any.
    pub fn buckets(&self) -> Option<Box<dyn crate::s3::Buckets>> {
        if let Some(dir) = &self.s3_dir {
            return Some(Box::new(crate::s3::Folders::new(dir)));
        }
        let endpoint = self
            .endpoints
            .get(S3_SIGNING_NAME)
            .or(self.default_endpoint.as_ref())?;
        Some(Box::new(crate::s3::Remote::new(endpoint, self)))
    }

    /// Where a service's calls go, if anywhere.
    pub fn endpoint(&self, service: &Service) -> Option<&str> {
        self.endpoints
            .get(service.signing_name)
            .or(self.default_endpoint.as_ref())
            .map(String::as_str)
    }
}

/// How long a service call may take when the task's own timeout is longer (the AWS SDK's
/// default socket timeout is 50 s; a little more for the connection).
const CALL_SECONDS_MAX: u64 = 60;

/// Calls the service a task's resource names (its `.waitForTaskToken` suffix removed) on its
/// configured endpoint, for the execution `execution_arn`. `Err` says why it cannot be called
/// at all.
pub fn invoke(
    services: &Services,
    task: &TaskInvocation,
    execution_arn: Option<&str>,
) -> Result<TaskOutcome, String> {
    let resource = task
        .resource
        .strip_suffix(crate::CALLBACK_SUFFIX)
        .unwrap_or(&task.resource);
    // A call goes to its execution's region, as on AWS; a server reads the region from the
    // signature (steppe's own `aws-sdk:sfn:*`, LocalStack), so the call is signed for it.
    let regional;
    let services = match execution_arn.and_then(region_of) {
        Some(region) if region != services.region => {
            regional = Services {
                region: region.to_string(),
                ..services.clone()
            };
            &regional
        }
        _ => services,
    };
    if let Some(action) = crate::s3::action_of(resource) {
        let Some(buckets) = services.buckets() else {
            return Err(
                "no S3 is configured (--s3-dir DIR, --aws-endpoint URL, or --service-endpoint s3=URL)"
                    .to_string(),
            );
        };
        return Ok(crate::s3::invoke(
            buckets.as_ref(),
            action,
            &task.parameters,
        ));
    }
    let Some((call, operation)) = call_of(resource) else {
        return Err("steppe has no local integration for it".to_string());
    };
    let Some(endpoint) = services.endpoint(call.service) else {
        return Err(format!(
            "no endpoint is configured for the service '{}' (--aws-endpoint URL, or --service-endpoint {}=URL)",
            call.service.sdk_name, call.service.signing_name
        ));
    };
    let mut parameters = serialize_json_members(call.service, &operation, &task.parameters);
    if let (true, Some(execution_arn)) = (call.optimized, execution_arn) {
        add_event_resources(call.service, &mut parameters, execution_arn);
    }
    if call.service.camel_case {
        parameters = rename_members(parameters, |first| first.to_ascii_lowercase());
    }
    let mut request = request(call.service, &operation, &parameters, endpoint);
    if let Err(why) = sign(
        &mut request,
        call.service.signing_name,
        services,
        SystemTime::now(),
    ) {
        return Ok(failed(
            format!("{}.SdkClientException", prefix(call)),
            format!("Unable to sign the request: {why}"),
        ));
    }
    let seconds = task
        .timeout_seconds
        .map_or(CALL_SECONDS_MAX, |seconds| seconds.min(CALL_SECONDS_MAX));
    Ok(
        match transport::send(&request, Duration::from_secs(seconds), None) {
            Ok(response) => outcome(call, &operation, &response),
            Err(SendError::Timeout(_)) => failed(steppe_asl::error_name::TIMEOUT, ""),
            Err(SendError::Connection(message)) => failed(
                format!("{}.SdkClientException", prefix(call)),
                format!("Unable to execute HTTP request: {message}"),
            ),
        },
    )
}

fn prefix(call: Call) -> &'static str {
    if call.optimized {
        call.service.error_prefix
    } else {
        call.service.sdk_error_prefix
    }
}

/// The string members that take any JSON value and send its compact JSON text, as Step
/// Functions does (SQS `MessageBody`, SNS `Message`, EventBridge entries' `Detail`, Step
/// Functions `Input` and `Output`); strings are sent as they are.
pub fn serialize_json_members(service: &Service, operation: &str, parameters: &Value) -> Value {
    let mut parameters = parameters.clone();
    let stringify = |value: &mut Value| {
        if !value.is_string() {
            *value = Value::String(value.to_string());
        }
    };
    let member = match (service.sdk_name, operation) {
        ("sqs", "SendMessage") => "MessageBody",
        ("sns", "Publish") => "Message",
        ("sfn", "StartExecution" | "StartSyncExecution") => "Input",
        ("sfn", "SendTaskSuccess") => "Output",
        ("eventbridge", "PutEvents") => {
            if let Some(Value::Array(entries)) = parameters.get_mut("Entries") {
                for detail in entries
                    .iter_mut()
                    .filter_map(|entry| entry.get_mut("Detail"))
                {
                    stringify(detail);
                }
            }
            return parameters;
        }
        _ => return parameters,
    };
    if let Some(value) = parameters.get_mut(member) {
        stringify(value);
    }
    parameters
}

/// Member names with the first letter changed by `change`, through objects and arrays.
fn rename_members(value: Value, change: fn(char) -> char) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(name, member)| {
                    let mut chars = name.chars();
                    let renamed = chars
                        .next()
                        .map(|first| change(first).to_string() + chars.as_str())
                        .unwrap_or_default();
                    (renamed, rename_members(member, change))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| rename_members(item, change))
                .collect(),
        ),
        other => other,
    }
}

/// `events:putEvents` appends the state machine's and the execution's ARNs to each entry's
/// `Resources`, after the entry's own.
pub fn add_event_resources(service: &Service, parameters: &mut Value, execution_arn: &str) {
    if service.sdk_name != "eventbridge" {
        return;
    }
    let Some(Value::Array(entries)) = parameters.get_mut("Entries") else {
        return;
    };
    let state_machine_arn = state_machine_arn(execution_arn);
    for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
        let resources = entry
            .entry("Resources")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(resources) = resources {
            resources.extend(state_machine_arn.iter().map(|arn| json!(arn)));
            resources.push(json!(execution_arn));
        }
    }
}

/// The state machine ARN of a Standard (`…:execution:MACHINE:NAME`) or Express
/// (`…:express:MACHINE:NAME:ID`) execution ARN.
fn state_machine_arn(execution_arn: &str) -> Option<String> {
    let parts: Vec<&str> = execution_arn.split(':').collect();
    match parts.as_slice() {
        [arn, partition, states, region, account, "execution" | "express", machine, ..] => Some(
            format!("{arn}:{partition}:{states}:{region}:{account}:stateMachine:{machine}"),
        ),
        _ => None,
    }
}

/// The HTTP request of one call, unsigned.
pub fn request(
    service: &Service,
    operation: &str,
    parameters: &Value,
    endpoint: &str,
) -> HttpRequest {
    let url = format!("{endpoint}/");
    match service.protocol {
        Protocol::Json { version, target } => HttpRequest {
            method: "POST".to_string(),
            url,
            headers: vec![
                (
                    "Content-Type".to_string(),
                    format!("application/x-amz-json-{version}"),
                ),
                ("X-Amz-Target".to_string(), format!("{target}.{operation}")),
            ],
            body: Some(parameters.to_string().into_bytes()),
        },
        Protocol::Query { version } => {
            let mut pairs = vec![
                ("Action".to_string(), operation.to_string()),
                ("Version".to_string(), version.to_string()),
            ];
            if let Value::Object(members) = parameters {
                for (name, value) in members {
                    query_pairs(name, name, value, &mut pairs);
                }
            }
            let body = crate::http::encode_pairs(&pairs);
            HttpRequest {
                method: "POST".to_string(),
                url,
                headers: vec![(
                    "Content-Type".to_string(),
                    "application/x-www-form-urlencoded; charset=utf-8".to_string(),
                )],
                body: Some(body.into_bytes()),
            }
        }
    }
}

/// Query-protocol members that are maps, with the names their keys and values take
/// (`MessageAttributes.entry.1.Name`); other objects are structures (`Parent.Child`).
const QUERY_MAPS: &[(&str, &str, &str)] = &[
    ("MessageAttributes", "Name", "Value"),
    ("Attributes", "key", "value"),
];

/// Flattens one member into Query pairs: lists as `NAME.member.N`, maps as
/// `NAME.entry.N.key`/`.value`, structures as `NAME.Child`.
fn query_pairs(member: &str, key: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                query_pairs(member, &format!("{key}.member.{}", index + 1), item, out);
            }
        }
        Value::Object(fields) => {
            if let Some((_, key_name, value_name)) =
                QUERY_MAPS.iter().find(|(name, _, _)| *name == member)
            {
                for (index, (entry_key, entry_value)) in fields.iter().enumerate() {
                    let entry = format!("{key}.entry.{}", index + 1);
                    out.push((format!("{entry}.{key_name}"), entry_key.clone()));
                    query_pairs(
                        value_name,
                        &format!("{entry}.{value_name}"),
                        entry_value,
                        out,
                    );
                }
            } else {
                for (name, field) in fields {
                    query_pairs(name, &format!("{key}.{name}"), field, out);
                }
            }
        }
        Value::String(text) => out.push((key.to_string(), text.clone())),
        other => out.push((key.to_string(), other.to_string())),
    }
}

/// The region of a Step Functions ARN (`arn:aws:states:REGION:…`), if it names one.
fn region_of(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some("states"), Some(region)) if !region.is_empty() => Some(region),
        _ => None,
    }
}

/// Signs `request` with SigV4 for the service `signing_name` (`sqs`, `execute-api`, ...),
/// adding the signature headers.
pub fn sign(
    request: &mut HttpRequest,
    signing_name: &str,
    services: &Services,
    time: SystemTime,
) -> Result<(), String> {
    let settings = aws_sigv4::http_request::SigningSettings::default();
    sign_with(request, signing_name, services, time, settings)
}

/// Signs `request` for Amazon S3, which differs from other services: the path is encoded once
/// and not normalized, and the payload's SHA-256 travels in `x-amz-content-sha256`.
pub fn sign_s3(
    request: &mut HttpRequest,
    services: &Services,
    time: SystemTime,
) -> Result<(), String> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SigningSettings, UriPathNormalizationMode,
    };
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    sign_with(request, "s3", services, time, settings)
}

fn sign_with(
    request: &mut HttpRequest,
    signing_name: &str,
    services: &Services,
    time: SystemTime,
    settings: aws_sigv4::http_request::SigningSettings,
) -> Result<(), String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest};
    let credentials = &services.credentials;
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        credentials.session_token.clone(),
        None,
        "steppe",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&services.region)
        .name(signing_name)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|error| error.to_string())?
        .into();
    let body = request.body.as_deref().unwrap_or_default();
    let signable = SignableRequest::new(
        &request.method,
        &request.url,
        request
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|error| error.to_string())?;
    let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|error| error.to_string())?
        .into_parts();
    let added: Vec<(String, String)> = instructions
        .headers()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    request.headers.extend(added);
    Ok(())
}

/// The task outcome of a service's response.
pub fn outcome(call: Call, operation: &str, response: &HttpResponse) -> TaskOutcome {
    let request_id = response
        .header("x-amzn-RequestId")
        .or_else(|| response.header("x-amz-request-id"))
        .map(str::to_string);
    let body = match call.service.protocol {
        Protocol::Json { .. } => json_body(response),
        Protocol::Query { .. } => query_body(response, operation),
    };
    let body = match body {
        Ok(body) => body,
        Err(why) => {
            return failed(
                format!("{}.SdkClientException", prefix(call)),
                format!(
                    "Unable to unmarshall response ({why}). Response code: {}",
                    response.status
                ),
            )
        }
    };
    if !(200..300).contains(&response.status) {
        let request_id = request_id.or(body.request_id).unwrap_or_default();
        return service_error(call, response.status, &body.error, &request_id);
    }
    let request_id = request_id.or(body.request_id).unwrap_or_default();
    let value = if call.service.camel_case {
        rename_members(body.value, |first| first.to_ascii_uppercase())
    } else {
        body.value
    };
    let mut output = match value {
        Value::Object(members) => members,
        Value::Null => Map::new(),
        other => {
            let mut wrapped = Map::new();
            wrapped.insert("Result".to_string(), other);
            wrapped
        }
    };
    if !call.optimized {
        return TaskOutcome::Succeeded(Value::Object(output));
    }
    if call.service.sdk_name == "eventbridge" {
        // `events:putEvents` answers without SDK metadata, and fails when any entry failed,
        // with the whole response as the cause.
        let output = Value::Object(output);
        if output["FailedEntryCount"].as_u64().unwrap_or(0) > 0 {
            return failed("EventBridge.FailedEntry", output.to_string());
        }
        return TaskOutcome::Succeeded(output);
    }
    output.insert("SdkHttpMetadata".to_string(), http_metadata(response));
    output.insert(
        "SdkResponseMetadata".to_string(),
        json!({ "RequestId": request_id }),
    );
    // AWS's optimized results list their members alphabetically.
    output.sort_keys();
    TaskOutcome::Succeeded(Value::Object(output))
}

/// A service error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ServiceError {
    /// The error's type (the SDK class name, `Exception` aside): `QueueDoesNotExist`.
    type_name: String,
    /// The error code as the AWS SDK for Java v1 reports it (for SQS, the Query-protocol
    /// code: `AWS.SimpleQueueService.NonExistentQueue`).
    code: String,
    message: String,
}

/// A response body read: the value on success, the error otherwise, and any request id it
/// carries.
#[derive(Debug, Default)]
struct Body {
    value: Value,
    error: ServiceError,
    request_id: Option<String>,
}

fn json_body(response: &HttpResponse) -> Result<Body, String> {
    let value: Value = if response.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&response.body).map_err(|error| error.to_string())?
    };
    let text = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| value.get(*name).and_then(Value::as_str))
            .unwrap_or_default()
            .to_string()
    };
    // `__type` is `com.amazonaws.sqs#QueueDoesNotExist` or `ResourceNotFoundException`; the
    // header `x-amzn-query-error: CODE;Sender` gives SQS's legacy code.
    let type_name = text(&["__type", "code"]);
    let type_name = type_name.rsplit('#').next().unwrap_or_default();
    let type_name = type_name.split(':').next().unwrap_or_default().to_string();
    let code = response
        .header("x-amzn-query-error")
        .map(|value| value.split(';').next().unwrap_or(value).to_string())
        .unwrap_or_else(|| type_name.clone());
    Ok(Body {
        error: ServiceError {
            type_name,
            code,
            message: text(&["message", "Message", "errorMessage"]),
        },
        value,
        request_id: None,
    })
}

fn query_body(response: &HttpResponse, operation: &str) -> Result<Body, String> {
    let text = std::str::from_utf8(&response.body).map_err(|error| error.to_string())?;
    if text.trim().is_empty() {
        return Ok(Body::default());
    }
    let document = roxmltree::Document::parse(text).map_err(|error| error.to_string())?;
    let root = document.root_element();
    let child = xml_child;
    let child_text = |node: Option<roxmltree::Node<'_, '_>>, name: &str| {
        node.and_then(|node| xml_child(node, name))
            .and_then(|node| node.text())
            .map(|text| text.trim().to_string())
    };
    let request_id = child_text(child(root, "ResponseMetadata"), "RequestId")
        .or_else(|| child_text(Some(root), "RequestId"));
    if root.tag_name().name() == "ErrorResponse" {
        let error = child(root, "Error");
        let code = child_text(error, "Code").unwrap_or_default();
        return Ok(Body {
            value: Value::Null,
            error: ServiceError {
                type_name: code.clone(),
                code,
                message: child_text(error, "Message").unwrap_or_default(),
            },
            request_id,
        });
    }
    let value = child(root, &format!("{operation}Result"))
        .map(xml_value)
        .unwrap_or(Value::Null);
    Ok(Body {
        value,
        error: ServiceError::default(),
        request_id,
    })
}

/// The first child element named `name`.
fn xml_child<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children()
        .find(|child| child.is_element() && child.tag_name().name() == name)
}

/// An XML element as JSON: text for a leaf, an array for `member` lists, an object for
/// `entry` maps (`key`/`value`) and for structures. Without the service's model every scalar
/// stays a string.
fn xml_value(node: roxmltree::Node<'_, '_>) -> Value {
    let children: Vec<_> = node.children().filter(|child| child.is_element()).collect();
    if children.is_empty() {
        return json!(node.text().map(str::trim).unwrap_or_default());
    }
    if children
        .iter()
        .all(|child| child.tag_name().name() == "member")
    {
        return Value::Array(children.into_iter().map(xml_value).collect());
    }
    if children
        .iter()
        .all(|child| child.tag_name().name() == "entry")
    {
        let map = children
            .into_iter()
            .filter_map(|entry| {
                let key = xml_child(entry, "key")
                    .or_else(|| xml_child(entry, "Name"))?
                    .text()?
                    .trim()
                    .to_string();
                let value = xml_child(entry, "value")
                    .or_else(|| xml_child(entry, "Value"))
                    .map_or(Value::Null, xml_value);
                Some((key, value))
            })
            .collect();
        return Value::Object(map);
    }
    Value::Object(
        children
            .into_iter()
            .map(|child| (child.tag_name().name().to_string(), xml_value(child)))
            .collect(),
    )
}

/// A failed call as Step Functions reports it. Optimized integrations name the AWS SDK for
/// Java v1 exception class after the service (`SQS.QueueDoesNotExistException`), or the
/// service's generic class for codes the SDK has no class for (`SQS.AmazonSQSException` for
/// `MissingParameter`), with the v1 cause text; `aws-sdk` integrations do the same with the
/// v2 names (`DynamoDb.ConditionalCheckFailedException`, `DynamoDb.DynamoDbException`) and
/// cause text.
fn service_error(call: Call, status: u16, error: &ServiceError, request_id: &str) -> TaskOutcome {
    let service = call.service;
    let class = match modeled_class(&error.type_name) {
        Some(class) => class,
        None if call.optimized => service.generic_class.to_string(),
        None => format!("{}Exception", service.sdk_error_prefix),
    };
    if call.optimized {
        failed(
            format!("{}.{class}", service.error_prefix),
            format!(
                "{} (Service: {}; Status Code: {status}; Error Code: {}; Request ID: {request_id}; Proxy: null)",
                error.message, service.java_name, error.code
            ),
        )
    } else {
        failed(
            format!("{}.{class}", service.sdk_error_prefix),
            format!(
                "{} (Service: {}, Status Code: {status}, Request ID: {request_id})",
                error.message, service.sdk_error_prefix
            ),
        )
    }
}

/// Error codes every AWS service may answer, which the SDKs have no class of their own for:
/// they surface as the service's generic exception.
const COMMON_ERRORS: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "IncompleteSignature",
    "InternalFailure",
    "InvalidAction",
    "InvalidClientTokenId",
    "InvalidParameterCombination",
    "InvalidQueryParameter",
    "MalformedQueryString",
    "MissingAction",
    "MissingAuthenticationToken",
    "MissingParameter",
    "NotAuthorized",
    "OptInRequired",
    "RequestExpired",
    "SerializationException",
    "ServiceUnavailable",
    "ThrottlingException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "ValidationError",
    "ValidationException",
];

/// The SDK exception class of a service error type (`QueueDoesNotExist` →
/// `QueueDoesNotExistException`), or `None` for the common errors and unknown types.
fn modeled_class(type_name: &str) -> Option<String> {
    if type_name.is_empty() || COMMON_ERRORS.contains(&type_name) {
        return None;
    }
    Some(if type_name.ends_with("Exception") {
        type_name.to_string()
    } else {
        format!("{type_name}Exception")
    })
}

/// The response's headers as AWS's Java SDK reports them in `SdkHttpMetadata`.
fn http_metadata(response: &HttpResponse) -> Value {
    let canonical = |name: &str| match name.to_ascii_lowercase().as_str() {
        "content-length" => "Content-Length".to_string(),
        "content-type" => "Content-Type".to_string(),
        "date" => "Date".to_string(),
        "x-amzn-requestid" => "x-amzn-RequestId".to_string(),
        lower => lower.to_string(),
    };
    let mut headers: Vec<(String, &str)> = response
        .headers
        .iter()
        .map(|(name, value)| (canonical(name), value.as_str()))
        .collect();
    headers.sort_by_key(|(name, _)| name.to_ascii_lowercase());
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), *value))
        .collect();
    crate::lambda::sdk_http_metadata(&pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn call(resource: &str) -> (Call, String) {
        call_of(resource).expect("a service resource")
    }

    #[test]
    fn resources_name_a_service_and_an_operation() {
        let (sqs, operation) = call("arn:aws:states:::sqs:sendMessage");
        assert_eq!((sqs.service.sdk_name, sqs.optimized), ("sqs", true));
        assert_eq!(operation, "SendMessage");
        let (events, operation) = call("arn:aws:states:::events:putEvents");
        assert_eq!(
            (events.service.signing_name, operation.as_str()),
            ("events", "PutEvents")
        );
        let (sdk, operation) = call("arn:aws:states:::aws-sdk:dynamodb:transactWriteItems");
        assert_eq!((sdk.service.sdk_name, sdk.optimized), ("dynamodb", false));
        assert_eq!(operation, "TransactWriteItems");
        // Optimized integrations have their own short list of actions.
        assert_eq!(call_of("arn:aws:states:::sqs:receiveMessage"), None);
        assert_eq!(call_of("arn:aws:states:::aws-sdk:s3:getObject"), None);
        assert_eq!(call_of("arn:aws:states:::aws-sdk:sqs:"), None);
        assert_eq!(call_of("arn:aws:states:::lambda:invoke"), None);
    }

    #[test]
    fn json_values_of_string_members_are_sent_as_text() {
        let (sqs, operation) = call("arn:aws:states:::sqs:sendMessage");
        let parameters = json!({"QueueUrl": "q", "MessageBody": {"a": [1, 2]}});
        assert_eq!(
            serialize_json_members(sqs.service, &operation, &parameters),
            json!({"QueueUrl": "q", "MessageBody": "{\"a\":[1,2]}"})
        );
        let (events, operation) = call("arn:aws:states:::events:putEvents");
        let parameters =
            json!({"Entries": [{"Detail": {"x": 1}, "Source": "s"}, {"Detail": "text"}]});
        assert_eq!(
            serialize_json_members(events.service, &operation, &parameters),
            json!({"Entries": [{"Detail": "{\"x\":1}", "Source": "s"}, {"Detail": "text"}]})
        );
    }

    #[test]
    fn json_protocol_requests_carry_the_target() {
        let (sqs, operation) = call("arn:aws:states:::aws-sdk:sqs:getQueueUrl");
        let built = request(
            sqs.service,
            &operation,
            &json!({"QueueName": "q"}),
            "http://aws:4566",
        );
        assert_eq!(built.url, "http://aws:4566/");
        assert_eq!(
            built.headers,
            vec![
                (
                    "Content-Type".to_string(),
                    "application/x-amz-json-1.0".to_string()
                ),
                (
                    "X-Amz-Target".to_string(),
                    "AmazonSQS.GetQueueUrl".to_string()
                ),
            ]
        );
        assert_eq!(built.body, Some(br#"{"QueueName":"q"}"#.to_vec()));
    }

    #[test]
    fn query_protocol_requests_flatten_lists_maps_and_structures() {
        let (sns, operation) = call("arn:aws:states:::aws-sdk:sns:createTopic");
        let parameters = json!({
            "Name": "orders & more",
            "Attributes": {"FifoTopic": "true"},
            "Tags": [{"Key": "team", "Value": "a"}]
        });
        let built = request(sns.service, &operation, &parameters, "http://aws");
        let body = String::from_utf8(built.body.unwrap()).unwrap();
        assert_eq!(
            body,
            "Action=CreateTopic&Version=2010-03-31&Name=orders%20%26%20more&Attributes.entry.1.key=FifoTopic&Attributes.entry.1.value=true&Tags.member.1.Key=team&Tags.member.1.Value=a"
        );
    }

    #[test]
    fn requests_are_signed_for_the_service_and_region() {
        let (sqs, operation) = call("arn:aws:states:::sqs:sendMessage");
        let mut built = request(sqs.service, &operation, &json!({}), "http://aws:4566");
        let services = Services {
            region: "eu-west-1".to_string(),
            credentials: Credentials {
                access_key_id: "AKID".to_string(),
                secret_access_key: "secret".to_string(),
                session_token: Some("token".to_string()),
            },
            ..Services::default()
        };
        // 2024-01-01T00:00:00Z
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        sign(&mut built, sqs.service.signing_name, &services, time).unwrap();
        let header = |name: &str| {
            built
                .headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        let authorization = header("authorization").unwrap();
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/sqs/aws4_request, SignedHeaders="
            ),
            "{authorization}"
        );
        assert_eq!(header("x-amz-date").as_deref(), Some("20240101T000000Z"));
        assert_eq!(header("x-amz-security-token").as_deref(), Some("token"));
    }

    #[test]
    fn json_errors_become_service_named_failures() {
        let error = response(
            400,
            &[
                ("x-amzn-RequestId", "r-1"),
                (
                    "x-amzn-query-error",
                    "AWS.SimpleQueueService.NonExistentQueue;Sender",
                ),
            ],
            r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
        );
        let (sqs, operation) = call("arn:aws:states:::sqs:sendMessage");
        assert_eq!(
            outcome(sqs, &operation, &error),
            failed(
                "SQS.QueueDoesNotExistException",
                "The specified queue does not exist. (Service: AmazonSQS; Status Code: 400; Error Code: AWS.SimpleQueueService.NonExistentQueue; Request ID: r-1; Proxy: null)"
            )
        );
        // A code the SDK has no class for: the generic one (AWS's recording).
        let missing = response(
            400,
            &[
                ("x-amzn-RequestId", "r-0"),
                ("x-amzn-query-error", "MissingParameter;Sender"),
            ],
            r#"{"__type":"com.amazonaws.sqs#MissingParameter","message":"The request must contain the parameter MessageBody."}"#,
        );
        assert_eq!(
            outcome(sqs, &operation, &missing),
            failed(
                "SQS.AmazonSQSException",
                "The request must contain the parameter MessageBody. (Service: AmazonSQS; Status Code: 400; Error Code: MissingParameter; Request ID: r-0; Proxy: null)"
            )
        );
        let (sdk, operation) = call("arn:aws:states:::aws-sdk:dynamodb:putItem");
        let error = response(
            400,
            &[("x-amzn-RequestId", "r-2")],
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
        );
        assert_eq!(
            outcome(sdk, &operation, &error),
            failed(
                "DynamoDb.ConditionalCheckFailedException",
                "The conditional request failed (Service: DynamoDb, Status Code: 400, Request ID: r-2)"
            )
        );
        let invalid = response(
            400,
            &[("x-amzn-RequestId", "r-5")],
            r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null"}"#,
        );
        assert_eq!(
            outcome(sdk, &operation, &invalid),
            failed(
                "DynamoDb.DynamoDbException",
                "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null (Service: DynamoDb, Status Code: 400, Request ID: r-5)"
            )
        );
        let garbage = response(200, &[], "<html>");
        assert!(matches!(
            outcome(sdk, &operation, &garbage),
            TaskOutcome::Failed { error, .. } if error == "DynamoDb.SdkClientException"
        ));
    }

    #[test]
    fn query_responses_become_json() {
        let (sns, operation) = call("arn:aws:states:::aws-sdk:sns:listTopics");
        let body = "<ListTopicsResponse><ListTopicsResult><Topics><member><TopicArn>arn:1</TopicArn></member><member><TopicArn>arn:2</TopicArn></member></Topics></ListTopicsResult><ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata></ListTopicsResponse>";
        assert_eq!(
            outcome(sns, &operation, &response(200, &[], body)),
            TaskOutcome::Succeeded(
                json!({"Topics": [{"TopicArn": "arn:1"}, {"TopicArn": "arn:2"}]})
            )
        );
        let error = "<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>r-4</RequestId></ErrorResponse>";
        let (sns, operation) = call("arn:aws:states:::sns:publish");
        assert_eq!(
            outcome(sns, &operation, &response(404, &[], error)),
            failed(
                "SNS.NotFoundException",
                "Topic does not exist (Service: AmazonSNS; Status Code: 404; Error Code: NotFound; Request ID: r-4; Proxy: null)"
            )
        );
    }

    #[test]
    fn endpoints_by_service_then_the_default() {
        let services = Services::new(
            "us-east-1",
            Some("http://localstack:4566/"),
            &["sqs=http://elasticmq:9324".to_string()],
        )
        .unwrap();
        let service = |resource: &str| call(resource).0.service;
        assert_eq!(
            services.endpoint(service("arn:aws:states:::sqs:sendMessage")),
            Some("http://elasticmq:9324")
        );
        assert_eq!(
            services.endpoint(service("arn:aws:states:::sns:publish")),
            Some("http://localstack:4566")
        );
        assert!(Services::new("us-east-1", None, &["sqs".to_string()]).is_err());
        assert!(Services::new("us-east-1", None, &["nope=http://x".to_string()]).is_err());
    }
}
