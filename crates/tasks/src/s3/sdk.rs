//! `arn:aws:states:::aws-sdk:s3:ACTION`: getObject, putObject, headObject, copyObject,
//! deleteObject, listObjectsV2, createBucket and listBuckets, on either [`Buckets`] backend.
//!
//! Parameters and results use the AWS SDK's member names in PascalCase, as Step Functions'
//! `aws-sdk` integrations do (`Bucket`, `Key`; `ETag`, `LastModified`, `Contents`). A failed
//! call is `S3.<Code>Exception` for the errors the SDK models (`S3.NoSuchKeyException`),
//! `S3.S3Exception` for the rest, with the AWS SDK for Java v2 cause text
//! (`... (Service: S3, Status Code: 404, Request ID: ...)`); no answer at all is
//! `S3.SdkClientException`. Parameters steppe does not carry out are refused by name, never
//! ignored.

use super::{Buckets, Error, List, ObjectInfo, LIST_KEYS_MAX};
use crate::{failed, TaskOutcome};
use serde_json::{json, Map, Value};
use std::io::Read;
use steppe_asl::{error_name, limits};

/// The actions steppe carries out, with the parameters each takes (`Bucket` aside).
const ACTIONS: &[(&str, &[&str])] = &[
    ("getObject", &["Key"]),
    ("headObject", &["Key"]),
    ("putObject", &["Key", "Body", "ContentType"]),
    ("copyObject", &["Key", "CopySource"]),
    ("deleteObject", &["Key"]),
    (
        "listObjectsV2",
        &["Prefix", "MaxKeys", "ContinuationToken", "StartAfter"],
    ),
    ("createBucket", &[]),
    ("listBuckets", &[]),
];

/// S3 error codes the AWS SDK for Java v2 has exception classes for.
const MODELED_ERRORS: &[&str] = &[
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "InvalidObjectState",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchUpload",
    "ObjectAlreadyInActiveTierError",
    "ObjectNotInActiveTierError",
];

/// Whether `resource` is an `aws-sdk:s3:*` resource (any action).
pub(crate) fn action_of(resource: &str) -> Option<&str> {
    resource.strip_prefix("arn:aws:states:::aws-sdk:s3:")
}

/// Carries out `aws-sdk:s3:ACTION` with the task's `parameters` on `buckets`.
pub fn invoke(buckets: &dyn Buckets, action: &str, parameters: &Value) -> TaskOutcome {
    let Some((_, members)) = ACTIONS.iter().find(|(name, _)| *name == action) else {
        let names: Vec<&str> = ACTIONS.iter().map(|(name, _)| *name).collect();
        return failed(
            error_name::TASK_FAILED,
            format!(
                "steppe does not support the action 's3:{action}' yet; it supports: {}",
                names.join(", ")
            ),
        );
    };
    let empty = Map::new();
    let given = parameters.as_object().unwrap_or(&empty);
    for name in given.keys() {
        let takes_bucket = action != "listBuckets";
        if !(members.contains(&name.as_str()) || (takes_bucket && name == "Bucket")) {
            return failed(
                error_name::TASK_FAILED,
                format!("steppe does not support the parameter '{name}' of s3:{action} yet"),
            );
        }
    }
    match call(buckets, action, given) {
        Ok(output) => TaskOutcome::Succeeded(output),
        Err(Refusal::Missing(name)) => failed(
            error_name::TASK_FAILED,
            format!("The parameter '{name}' of s3:{action} is required and must be a string"),
        ),
        Err(Refusal::S3(error)) => outcome_of_error(&error),
    }
}

/// Why a call produced no result.
enum Refusal {
    /// A required string parameter is missing.
    Missing(&'static str),
    /// S3 answered with an error, or not at all.
    S3(Error),
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Refusal {
        Refusal::S3(error)
    }
}

fn call(buckets: &dyn Buckets, action: &str, given: &Map<String, Value>) -> Result<Value, Refusal> {
    let text = |name: &'static str| {
        given
            .get(name)
            .and_then(Value::as_str)
            .ok_or(Refusal::Missing(name))
    };
    Ok(match action {
        "getObject" => {
            let object = buckets.get_object(text("Bucket")?, text("Key")?)?;
            // One byte past the payload limit is enough for the engine to refuse the result.
            let mut body = Vec::new();
            object
                .body
                .take(limits::PAYLOAD_BYTES_MAX as u64 + 1)
                .read_to_end(&mut body)
                .map_err(|error| Error::Client(format!("Unable to read the object: {error}")))?;
            let mut output = head_output(&object.info);
            let body = String::from_utf8_lossy(&body).into_owned();
            output.insert("Body".to_string(), Value::String(body));
            output.sort_keys();
            Value::Object(output)
        }
        "headObject" => Value::Object(head_output(
            &buckets.head_object(text("Bucket")?, text("Key")?)?,
        )),
        "putObject" => {
            // A JSON value travels as its JSON text, as Step Functions sends JSON members.
            let body = match given.get("Body") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(body)) => body.clone(),
                Some(other) => other.to_string(),
            };
            let content_type = given.get("ContentType").and_then(Value::as_str);
            let info =
                buckets.put_object(text("Bucket")?, text("Key")?, body.as_bytes(), content_type)?;
            json!({"ETag": info.etag})
        }
        "copyObject" => {
            let source = text("CopySource")?;
            let source = percent_decode(source.trim_start_matches('/'));
            let (source_bucket, source_key) = source
                .split_once('/')
                .ok_or(Refusal::Missing("CopySource"))?;
            let info =
                buckets.copy_object(text("Bucket")?, text("Key")?, source_bucket, source_key)?;
            let mut result = Map::new();
            result.insert("ETag".to_string(), json!(info.etag));
            if let Some(time) = info.last_modified {
                result.insert("LastModified".to_string(), json!(time));
            }
            json!({"CopyObjectResult": result})
        }
        "deleteObject" => {
            buckets.delete_object(text("Bucket")?, text("Key")?)?;
            json!({})
        }
        "listObjectsV2" => list_objects(buckets, given, text("Bucket")?)?,
        "createBucket" => {
            let bucket = text("Bucket")?;
            buckets.create_bucket(bucket)?;
            json!({"Location": format!("/{bucket}")})
        }
        "listBuckets" => {
            let buckets: Vec<Value> = buckets
                .list_buckets()?
                .into_iter()
                .map(|bucket| {
                    let mut entry = Map::new();
                    if let Some(date) = bucket.creation_date {
                        entry.insert("CreationDate".to_string(), json!(date));
                    }
                    entry.insert("Name".to_string(), json!(bucket.name));
                    Value::Object(entry)
                })
                .collect();
            json!({"Buckets": buckets})
        }
        other => unreachable!("'{other}' is in ACTIONS"),
    })
}

fn list_objects(
    buckets: &dyn Buckets,
    given: &Map<String, Value>,
    bucket: &str,
) -> Result<Value, Refusal> {
    let string = |name: &str| given.get(name).and_then(Value::as_str).map(str::to_string);
    let max_keys = given
        .get("MaxKeys")
        .and_then(|value| value.as_u64().or_else(|| value.as_str()?.parse().ok()))
        .map_or(LIST_KEYS_MAX, |max| (max as usize).min(LIST_KEYS_MAX));
    let list = List {
        prefix: string("Prefix").unwrap_or_default(),
        start_after: string("StartAfter"),
        continuation_token: string("ContinuationToken"),
        max_keys,
    };
    let page = buckets.list_objects(bucket, &list)?;
    let mut output = Map::new();
    let count = page.contents.len();
    if count > 0 {
        let contents: Vec<Value> = page.contents.iter().map(list_entry).collect();
        output.insert("Contents".to_string(), Value::Array(contents));
    }
    if let Some(token) = &list.continuation_token {
        output.insert("ContinuationToken".to_string(), json!(token));
    }
    output.insert(
        "IsTruncated".to_string(),
        json!(page.next_continuation_token.is_some()),
    );
    output.insert("KeyCount".to_string(), json!(count));
    output.insert("MaxKeys".to_string(), json!(max_keys));
    output.insert("Name".to_string(), json!(bucket));
    if let Some(token) = page.next_continuation_token {
        output.insert("NextContinuationToken".to_string(), json!(token));
    }
    output.insert("Prefix".to_string(), json!(list.prefix));
    if let Some(start_after) = list.start_after {
        output.insert("StartAfter".to_string(), json!(start_after));
    }
    Ok(Value::Object(output))
}

/// One `Contents` entry of `listObjectsV2`, members in the SDK's PascalCase.
fn list_entry(info: &ObjectInfo) -> Value {
    let mut entry = Map::new();
    entry.insert("ETag".to_string(), json!(info.etag));
    entry.insert("Key".to_string(), json!(info.key));
    if let Some(time) = &info.last_modified {
        entry.insert("LastModified".to_string(), json!(time));
    }
    entry.insert("Size".to_string(), json!(info.size));
    entry.insert("StorageClass".to_string(), json!(info.storage_class));
    Value::Object(entry)
}

/// `headObject`'s result (and `getObject`'s, without the body).
fn head_output(info: &ObjectInfo) -> Map<String, Value> {
    let mut output = Map::new();
    output.insert("AcceptRanges".to_string(), json!("bytes"));
    output.insert("ContentLength".to_string(), json!(info.size));
    if let Some(content_type) = &info.content_type {
        output.insert("ContentType".to_string(), json!(content_type));
    }
    output.insert("ETag".to_string(), json!(info.etag));
    if let Some(time) = &info.last_modified {
        output.insert("LastModified".to_string(), json!(time));
    }
    output.insert("Metadata".to_string(), json!({}));
    output
}

/// The task failure for an S3 error, as Step Functions names it.
pub(crate) fn outcome_of_error(error: &Error) -> TaskOutcome {
    match error {
        Error::Service {
            status,
            code,
            message,
            request_id,
        } => {
            let class = if MODELED_ERRORS.contains(&code.as_str()) {
                format!("{code}Exception")
            } else {
                "S3Exception".to_string()
            };
            let message = if message.is_empty() { "null" } else { message };
            failed(
                format!("S3.{class}"),
                format!("{message} (Service: S3, Status Code: {status}, Request ID: {request_id})"),
            )
        }
        Error::Client(message) => failed("S3.SdkClientException", message.clone()),
        Error::Timeout(_) => failed(error_name::TIMEOUT, ""),
    }
}

/// `%2F` → `/`; invalid escapes stay as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escape {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::Folders;

    fn outcome(
        buckets: &dyn Buckets,
        action: &str,
        parameters: Value,
    ) -> Result<Value, (String, String)> {
        match invoke(buckets, action, &parameters) {
            TaskOutcome::Succeeded(value) => Ok(value),
            TaskOutcome::Failed { error, cause } => Err((error, cause)),
        }
    }

    #[test]
    fn actions_on_folders_answer_in_the_sdk_shape() {
        let dir = tempfile::tempdir().unwrap();
        let folders = Folders::new(dir.path());
        outcome(&folders, "createBucket", json!({"Bucket": "b"})).unwrap();
        let put = outcome(
            &folders,
            "putObject",
            json!({"Bucket": "b", "Key": "k.json", "Body": {"a": 1}}),
        )
        .unwrap();
        // A quoted MD5 (of the file's size and time: see `folders.rs`).
        assert_eq!(put["ETag"].as_str().map(str::len), Some(34));
        let got = outcome(
            &folders,
            "getObject",
            json!({"Bucket": "b", "Key": "k.json"}),
        )
        .unwrap();
        assert_eq!(got["Body"], json!("{\"a\":1}"));
        assert_eq!(got["ContentLength"], json!(7));
        let list = outcome(&folders, "listObjectsV2", json!({"Bucket": "b"})).unwrap();
        assert_eq!(list["KeyCount"], json!(1));
        assert_eq!(list["Contents"][0]["Key"], json!("k.json"));
        assert_eq!(list["Contents"][0]["StorageClass"], json!("STANDARD"));
        let (error, cause) =
            outcome(&folders, "getObject", json!({"Bucket": "b", "Key": "nope"})).unwrap_err();
        assert_eq!(error, "S3.NoSuchKeyException");
        assert_eq!(
            cause,
            "The specified key does not exist. (Service: S3, Status Code: 404, Request ID: )"
        );
        let (error, _) =
            outcome(&folders, "getObject", json!({"Bucket": "x", "Key": "k"})).unwrap_err();
        assert_eq!(error, "S3.NoSuchBucketException");
        let (error, cause) = outcome(
            &folders,
            "listObjectsV2",
            json!({"Bucket": "b", "Delimiter": "/"}),
        )
        .unwrap_err();
        assert_eq!(error, "States.TaskFailed");
        assert!(cause.contains("'Delimiter'"), "{cause}");
    }

    #[test]
    fn copy_sources_are_decoded() {
        assert_eq!(percent_decode("b/a%20b%2Fc"), "b/a b/c");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
