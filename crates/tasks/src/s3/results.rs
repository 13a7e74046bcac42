//! A Distributed Map's `ResultWriter` export: the engine's request (a task whose resource is
//! `steppe_engine::RESULT_WRITER_RESOURCE`) written to S3 as the ResultWriter page lays it out:
//! under `{Prefix}/{map run id}/`, `SUCCEEDED_0.json`, `FAILED_0.json` and `PENDING_0.json` (each only when it
//! has results; a JSON array, or JSON Lines for `OutputType` JSONL) and `manifest.json`
//! (`DestinationBucket`, `MapRunArn`, `ResultFiles` with `FAILED`, `PENDING` and `SUCCEEDED`
//! lists of `{Key, Size}`). The answer is `{MapRunArn, ResultWriterDetails: {Bucket, Key}}`
//! (the manifest's key); a failure is `States.ResultWriterFailed`.
//!
//! AWS starts another file past 5 GB; steppe writes one file per status, whose size the
//! Map's held results bound.

use super::Buckets;
use serde_json::{json, Value};

/// The error name of every export failure.
pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";

/// Writes the results of the engine's `request` to `buckets`.
pub fn write_results(buckets: Option<&dyn Buckets>, request: &Value) -> crate::TaskOutcome {
    match write(buckets, request) {
        Ok(output) => crate::TaskOutcome::Succeeded(output),
        Err(cause) => crate::failed(RESULT_WRITER_FAILED, cause),
    }
}

fn write(buckets: Option<&dyn Buckets>, request: &Value) -> Result<Value, String> {
    let parameters = request["Parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if let Some(name) = parameters
        .keys()
        .find(|name| !["Bucket", "Prefix"].contains(&name.as_str()))
    {
        return Err(format!(
            "steppe does not support the parameter '{name}' of the ResultWriter yet"
        ));
    }
    let Some(Value::String(bucket)) = parameters.get("Bucket") else {
        return Err("The ResultWriter's parameter 'Bucket' must be a string".to_string());
    };
    let prefix = match parameters.get("Prefix") {
        None => "",
        Some(Value::String(prefix)) => prefix.as_str(),
        Some(_) => return Err("The ResultWriter's parameter 'Prefix' must be a string".to_string()),
    };
    let buckets = buckets.ok_or_else(|| {
        "no S3 is configured for the ResultWriter (--s3-dir DIR, --aws-endpoint URL, or --service-endpoint s3=URL)"
            .to_string()
    })?;
    let map_run_arn = request["MapRunArn"].as_str().unwrap_or_default();
    let run_id = map_run_arn.rsplit(':').next().unwrap_or_default();
    let folder = match prefix.trim_end_matches('/') {
        "" => run_id.to_string(),
        prefix => format!("{prefix}/{run_id}"),
    };
    let jsonl = request["OutputType"].as_str() == Some("JSONL");
    let mut files = serde_json::Map::new();
    for (status, member) in [
        ("FAILED", "Failed"),
        ("PENDING", "Pending"),
        ("SUCCEEDED", "Succeeded"),
    ] {
        let results = request[member]
            .as_array()
            .filter(|results| !results.is_empty());
        let mut listed = Vec::new();
        if let Some(results) = results {
            let key = format!("{folder}/{status}_0.json");
            let body = body(results, jsonl);
            put(buckets, bucket, &key, &body)?;
            listed.push(json!({"Key": key, "Size": body.len()}));
        }
        files.insert(status.to_string(), Value::Array(listed));
    }
    let manifest = json!({
        "DestinationBucket": bucket,
        "MapRunArn": map_run_arn,
        "ResultFiles": files,
    });
    let key = format!("{folder}/manifest.json");
    put(buckets, bucket, &key, manifest.to_string().as_bytes())?;
    Ok(json!({
        "MapRunArn": map_run_arn,
        "ResultWriterDetails": {"Bucket": bucket, "Key": key},
    }))
}

/// A JSON array, or one JSON value per line.
fn body(results: &[Value], jsonl: bool) -> Vec<u8> {
    if !jsonl {
        return Value::Array(results.to_vec()).to_string().into_bytes();
    }
    let mut text = String::new();
    for result in results {
        text.push_str(&result.to_string());
        text.push('\n');
    }
    text.into_bytes()
}

fn put(buckets: &dyn Buckets, bucket: &str, key: &str, body: &[u8]) -> Result<(), String> {
    buckets
        .put_object(bucket, key, body, Some("application/json"))
        .map(drop)
        .map_err(|error| format!("Unable to write '{key}' to the bucket '{bucket}': {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::Folders;

    #[test]
    fn results_and_manifest_are_laid_out_as_aws_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let folders = Folders::new(dir.path());
        folders.create_bucket("out").unwrap();
        let request = json!({"Parameters": {"Bucket": "out", "Prefix": "jobs"},
            "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:run-1",
            "OutputType": "JSONL", "Succeeded": [1, [2]], "Failed": []});
        let crate::TaskOutcome::Succeeded(output) = write_results(Some(&folders), &request) else {
            panic!("written")
        };
        assert_eq!(
            output["ResultWriterDetails"],
            json!({"Bucket": "out", "Key": "jobs/run-1/manifest.json"})
        );
        let read = |key: &str| std::fs::read_to_string(dir.path().join("out").join(key)).unwrap();
        assert_eq!(read("jobs/run-1/SUCCEEDED_0.json"), "1\n[2]\n");
        let manifest: Value = serde_json::from_str(&read("jobs/run-1/manifest.json")).unwrap();
        assert_eq!(
            manifest,
            json!({"DestinationBucket": "out",
                "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:run-1",
                "ResultFiles": {"FAILED": [], "PENDING": [],
                    "SUCCEEDED": [{"Key": "jobs/run-1/SUCCEEDED_0.json", "Size": 6}]}})
        );
        let missing = json!({"Parameters": {"Bucket": "none", "Prefix": "p"}, "MapRunArn": "a:b",
            "Succeeded": [1]});
        match write_results(Some(&folders), &missing) {
            crate::TaskOutcome::Failed { error, cause } => {
                assert_eq!(error, RESULT_WRITER_FAILED);
                assert!(
                    cause.contains("The specified bucket does not exist"),
                    "{cause}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
