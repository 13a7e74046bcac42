//! A Distributed Map's `ResultWriter` export: the engine's requests (tasks whose resource is
//! `steppe_engine::RESULT_WRITER_RESOURCE`) written to S3 as the ResultWriter page lays them
//! out: under `{Prefix}/{map run id}/`, `SUCCEEDED_n.json`, `FAILED_n.json` and
//! `PENDING_n.json` (each only when it has results; a JSON array, or JSON Lines for
//! `OutputType` JSONL) and `manifest.json` (`DestinationBucket`, `MapRunArn`, `ResultFiles`
//! with `FAILED`, `PENDING` and `SUCCEEDED` lists of `{Key, Size}`).
//!
//! The engine streams: it formats the result files' text itself and sends it as it
//! accumulates, each full part of a file as a multipart upload's part
//! (`{"Action": "UploadPart", "Parameters", "MapRunArn", "File", "UploadId"?, "PartNumber",
//! "Body"}`, answered `{"UploadId", "ETag"}`; the first part starts the upload). Once its
//! children are done, the export itself (`{"Parameters", "MapRunArn", "OutputType", "Files":
//! [{"Status", "File", "UploadId"?, "Parts": [{"PartNumber", "ETag"}], "Body", "Size"}],
//! "Earlier": [{"Status", "File", "Size"}], "Pending": [...]}`) uploads each file's last
//! part and completes it (or puts a file that never needed a part as one object), writes the
//! `PENDING` entries and the manifest, and answers `{MapRunArn, ResultWriterDetails: {Bucket,
//! Key}}` (the manifest's key). A failure is `States.ResultWriterFailed`.

use super::{Buckets, Error};
use serde_json::{json, Value};

/// The error name of every export failure.
pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";

/// Writes what the engine's `request` asks (a part of a result file, or the export's end) to
/// `buckets`.
pub fn write_results(buckets: Option<&dyn Buckets>, request: &Value) -> crate::TaskOutcome {
    let written = match request["Action"].as_str() {
        Some("UploadPart") => upload_part(buckets, request),
        Some(action) => Err(format!("steppe cannot '{action}' a ResultWriter's results")),
        None => write(buckets, request),
    };
    match written {
        Ok(output) => crate::TaskOutcome::Succeeded(output),
        Err(cause) => crate::failed(RESULT_WRITER_FAILED, cause),
    }
}

/// Where a Map Run's results go: the bucket, the folder and the backend.
struct Destination<'a> {
    buckets: &'a dyn Buckets,
    bucket: String,
    folder: String,
    map_run_arn: String,
}

fn destination<'a>(
    buckets: Option<&'a dyn Buckets>,
    request: &Value,
) -> Result<Destination<'a>, String> {
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
    Ok(Destination {
        buckets,
        bucket: bucket.clone(),
        folder,
        map_run_arn: map_run_arn.to_string(),
    })
}

impl Destination<'_> {
    /// The key of result file `file` (`SUCCEEDED_0.json`), which must be a plain file name.
    fn key(&self, file: &Value) -> Result<String, String> {
        match file.as_str() {
            Some(name) if !name.is_empty() && !name.contains('/') => {
                Ok(format!("{}/{name}", self.folder))
            }
            _ => Err("The ResultWriter's request names no file".to_string()),
        }
    }

    fn failed(&self, key: &str, error: Error) -> String {
        format!(
            "Unable to write '{key}' to the bucket '{}': {error}",
            self.bucket
        )
    }
}

/// Uploads one part of a result file, starting its upload first when it has none yet.
fn upload_part(buckets: Option<&dyn Buckets>, request: &Value) -> Result<Value, String> {
    let to = destination(buckets, request)?;
    let key = to.key(&request["File"])?;
    let part_number = request["PartNumber"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (1..=super::PARTS_MAX).contains(n))
        .ok_or_else(|| "The ResultWriter's part number is out of range".to_string())?;
    let upload_id = match request["UploadId"].as_str() {
        Some(upload_id) => upload_id.to_string(),
        None => to
            .buckets
            .create_multipart_upload(&to.bucket, &key)
            .map_err(|error| to.failed(&key, error))?,
    };
    let body = request["Body"].as_str().unwrap_or_default();
    let etag = to
        .buckets
        .upload_part(&to.bucket, &key, &upload_id, part_number, body.as_bytes())
        .map_err(|error| to.failed(&key, error))?;
    Ok(json!({"UploadId": upload_id, "ETag": etag}))
}

/// Ends the export: every file's last part, the `PENDING` entries, the manifest.
fn write(buckets: Option<&dyn Buckets>, request: &Value) -> Result<Value, String> {
    let to = destination(buckets, request)?;
    let jsonl = request["OutputType"].as_str() == Some("JSONL");
    let mut listed: Vec<(String, String, u64)> = Vec::new();
    for earlier in request["Earlier"].as_array().into_iter().flatten() {
        let status = earlier["Status"].as_str().unwrap_or_default().to_string();
        let size = earlier["Size"].as_u64().unwrap_or(0);
        listed.push((status, to.key(&earlier["File"])?, size));
    }
    for file in request["Files"].as_array().into_iter().flatten() {
        let key = to.key(&file["File"])?;
        let size = finish_file(&to, &key, file)?;
        let status = file["Status"].as_str().unwrap_or_default().to_string();
        listed.push((status, key, size));
    }
    let pending = request["Pending"]
        .as_array()
        .filter(|pending| !pending.is_empty());
    if let Some(pending) = pending {
        let n = listed
            .iter()
            .filter(|(status, ..)| status == "PENDING")
            .count();
        let key = format!("{}/PENDING_{n}.json", to.folder);
        let body = body(pending, jsonl);
        put(&to, &key, &body)?;
        listed.push(("PENDING".to_string(), key, body.len() as u64));
    }
    let mut files = serde_json::Map::new();
    for status in ["FAILED", "PENDING", "SUCCEEDED"] {
        let of_status = listed
            .iter()
            .filter(|(listed, ..)| listed == status)
            .map(|(_, key, size)| json!({"Key": key, "Size": size}))
            .collect();
        files.insert(status.to_string(), Value::Array(of_status));
    }
    let manifest = json!({
        "DestinationBucket": to.bucket,
        "MapRunArn": to.map_run_arn,
        "ResultFiles": files,
    });
    let key = format!("{}/manifest.json", to.folder);
    put(&to, &key, manifest.to_string().as_bytes())?;
    Ok(json!({
        "MapRunArn": to.map_run_arn,
        "ResultWriterDetails": {"Bucket": to.bucket, "Key": key},
    }))
}

/// Writes a result file's last part (or the whole file when it has no upload) and answers
/// its size. Completing an upload again, as a task run again after a crash does, finds the
/// object already written.
fn finish_file(to: &Destination<'_>, key: &str, file: &Value) -> Result<u64, String> {
    let body = file["Body"].as_str().unwrap_or_default();
    let size = file["Size"].as_u64().unwrap_or(body.len() as u64);
    let Some(upload_id) = file["UploadId"].as_str() else {
        put(to, key, body.as_bytes())?;
        return Ok(body.len() as u64);
    };
    let mut parts: Vec<(u32, String)> = Vec::new();
    for part in file["Parts"].as_array().into_iter().flatten() {
        let number = part["PartNumber"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok());
        let etag = part["ETag"].as_str();
        let (Some(number), Some(etag)) = (number, etag) else {
            return Err("The ResultWriter's request has a malformed part".to_string());
        };
        parts.push((number, etag.to_string()));
    }
    let next = parts.last().map_or(1, |(number, _)| number + 1);
    let buckets = to.buckets;
    if !body.is_empty() {
        match buckets.upload_part(&to.bucket, key, upload_id, next, body.as_bytes()) {
            Ok(etag) => parts.push((next, etag)),
            Err(error) if already_written(to, key, size, &error) => return Ok(size),
            Err(error) => return Err(to.failed(key, error)),
        }
    }
    match buckets.complete_multipart_upload(&to.bucket, key, upload_id, &parts) {
        Ok(()) => Ok(size),
        Err(error) if already_written(to, key, size, &error) => Ok(size),
        Err(error) => Err(to.failed(key, error)),
    }
}

/// Whether an upload that failed to go on (S3 answers `NoSuchUpload`, or moto an internal
/// error, for a completed one) was completed already into `key`: a result file's name is
/// written once, so the object of its size is that file.
fn already_written(to: &Destination<'_>, key: &str, size: u64, error: &Error) -> bool {
    matches!(error, Error::Service { .. })
        && to
            .buckets
            .head_object(&to.bucket, key)
            .is_ok_and(|info| info.size == size)
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

fn put(to: &Destination<'_>, key: &str, body: &[u8]) -> Result<(), String> {
    to.buckets
        .put_object(&to.bucket, key, body, Some("application/json"))
        .map(drop)
        .map_err(|error| to.failed(key, error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::Folders;

    fn succeeded(outcome: crate::TaskOutcome) -> Value {
        match outcome {
            crate::TaskOutcome::Succeeded(output) => output,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn results_and_manifest_are_laid_out_as_aws_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let folders = Folders::new(dir.path());
        folders.create_bucket("out").unwrap();
        let arn = "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:run-1";
        let request = json!({"Parameters": {"Bucket": "out", "Prefix": "jobs"},
            "MapRunArn": arn, "OutputType": "JSONL",
            "Files": [{"Status": "SUCCEEDED", "File": "SUCCEEDED_0.json", "Body": "1\n[2]\n",
                "Size": 6}],
            "Pending": [{"Input": "3"}]});
        let output = succeeded(write_results(Some(&folders), &request));
        assert_eq!(
            output["ResultWriterDetails"],
            json!({"Bucket": "out", "Key": "jobs/run-1/manifest.json"})
        );
        let read = |key: &str| std::fs::read_to_string(dir.path().join("out").join(key)).unwrap();
        assert_eq!(read("jobs/run-1/SUCCEEDED_0.json"), "1\n[2]\n");
        assert_eq!(read("jobs/run-1/PENDING_0.json"), "{\"Input\":\"3\"}\n");
        let manifest: Value = serde_json::from_str(&read("jobs/run-1/manifest.json")).unwrap();
        assert_eq!(
            manifest,
            json!({"DestinationBucket": "out", "MapRunArn": arn,
                "ResultFiles": {"FAILED": [],
                    "PENDING": [{"Key": "jobs/run-1/PENDING_0.json", "Size": 14}],
                    "SUCCEEDED": [{"Key": "jobs/run-1/SUCCEEDED_0.json", "Size": 6}]}})
        );
        let missing = json!({"Parameters": {"Bucket": "none", "Prefix": "p"}, "MapRunArn": "a:b",
            "Files": [{"Status": "SUCCEEDED", "File": "SUCCEEDED_0.json", "Body": "[1]"}]});
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

    /// A file sent in parts as it grows is one object once the export ends, listed with
    /// earlier runs' files; ending the export again (a task run again after a crash) finds
    /// it written.
    pub(crate) fn check_parts(buckets: &dyn Buckets, bucket: &str) {
        let arn = "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:run-2";
        let parameters = json!({"Bucket": bucket, "Prefix": "parts"});
        // Every part but the last holds at least S3's minimum.
        let first = format!("[{}", "1,".repeat(super::super::PART_BYTES_MIN / 2));
        let part = |body: &str, upload_id: Option<&str>, number: u32| {
            let mut request = json!({"Action": "UploadPart", "Parameters": parameters,
                "MapRunArn": arn, "File": "SUCCEEDED_1.json", "PartNumber": number,
                "Body": body});
            if let Some(upload_id) = upload_id {
                request["UploadId"] = json!(upload_id);
            }
            succeeded(write_results(Some(buckets), &request))
        };
        let answer = part(&first, None, 1);
        let upload_id = answer["UploadId"].as_str().unwrap().to_string();
        // A part sent again replaces itself.
        let again = part(&first, Some(&upload_id), 1);
        assert_eq!(again["ETag"], answer["ETag"]);
        let last = "2]";
        let size = first.len() + last.len();
        let end = json!({"Parameters": parameters, "MapRunArn": arn, "OutputType": "JSON",
            "Earlier": [{"Status": "SUCCEEDED", "File": "SUCCEEDED_0.json", "Size": 3}],
            "Files": [{"Status": "SUCCEEDED", "File": "SUCCEEDED_1.json", "UploadId": upload_id,
                "Parts": [{"PartNumber": 1, "ETag": answer["ETag"]}], "Body": last,
                "Size": size}]});
        let output = succeeded(write_results(Some(buckets), &end));
        let read = |key: &str| {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut buckets.get_object(bucket, key).unwrap().body,
                &mut text,
            )
            .unwrap();
            text
        };
        let folder = "parts/run-2";
        let written = read(&format!("{folder}/SUCCEEDED_1.json"));
        assert_eq!(written.len(), size);
        assert!(written.starts_with("[1,1,") && written.ends_with("1,2]"));
        let manifest: Value = serde_json::from_str(&read(
            output["ResultWriterDetails"]["Key"].as_str().unwrap(),
        ))
        .unwrap();
        assert_eq!(
            manifest["ResultFiles"]["SUCCEEDED"],
            json!([{"Key": format!("{folder}/SUCCEEDED_0.json"), "Size": 3},
                {"Key": format!("{folder}/SUCCEEDED_1.json"), "Size": size}])
        );
        succeeded(write_results(Some(buckets), &end));
        assert_eq!(read(&format!("{folder}/SUCCEEDED_1.json")).len(), size);
    }

    #[test]
    fn a_file_sent_in_parts_is_one_object_in_folders() {
        let dir = tempfile::tempdir().unwrap();
        let folders = Folders::new(dir.path());
        folders.create_bucket("out").unwrap();
        check_parts(&folders, "out");
        // The parts' folder is gone once the upload completed, and is no bucket.
        let buckets: Vec<String> = folders
            .list_buckets()
            .unwrap()
            .into_iter()
            .map(|bucket| bucket.name)
            .collect();
        assert_eq!(buckets, ["out"]);
        assert_eq!(
            std::fs::read_dir(dir.path().join(".steppe-uploads"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn a_file_sent_in_parts_is_one_object_on_an_s3_server() {
        let Some(url) = crate::s3::test_server_url() else {
            return;
        };
        let mut services = crate::services::Services {
            region: "us-east-1".to_string(),
            ..crate::services::Services::default()
        };
        services.credentials.access_key_id = "test".to_string();
        services.credentials.secret_access_key = "test".to_string();
        let remote = crate::s3::Remote::new(&url, &services);
        let bucket = format!("parts-{}", std::process::id());
        remote.create_bucket(&bucket).unwrap();
        check_parts(&remote, &bucket);
    }
}
