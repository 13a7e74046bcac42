//! `aws-sdk:s3:*` and the [`Buckets`] trait against a real S3-compatible server (moto, started
//! by `scripts/start-moto.sh`): its URL comes from `STEPPE_TEST_S3_URL` or `target/moto-url`.
//! Without one these tests say plainly that they skipped, but fail when `CI` is set.

use serde_json::{json, Value};
use std::io::Read;
use steppe_tasks::s3::{self, Buckets, Error, List};
use steppe_tasks::services::Services;
use steppe_tasks::TaskOutcome;

/// The S3 server's URL, `None` (after saying so) when there is none outside CI.
fn s3_url() -> Option<String> {
    steppe_tasks::s3::test_server_url()
}

fn services(url: &str, overrides: &[String]) -> Services {
    let mut services = Services::new("us-east-1", Some(url), overrides).unwrap();
    services.credentials = steppe_tasks::services::Credentials {
        access_key_id: "test".to_string(),
        secret_access_key: "test".to_string(),
        session_token: None,
    };
    services
}

/// A bucket name no other test uses.
fn bucket(name: &str) -> String {
    format!("steppe-{name}-{}", std::process::id())
}

fn call(buckets: &dyn Buckets, action: &str, parameters: Value) -> Result<Value, (String, String)> {
    match s3::invoke(buckets, action, &parameters) {
        TaskOutcome::Succeeded(value) => Ok(value),
        TaskOutcome::Failed { error, cause } => Err((error, cause)),
    }
}

#[test]
fn aws_sdk_s3_actions_answer_in_the_sdk_shape() {
    let Some(url) = s3_url() else { return };
    let services = services(&url, &[]);
    let remote = services.buckets().expect("--aws-endpoint reaches S3");
    let bucket = bucket("sdk");
    assert_eq!(
        call(remote.as_ref(), "createBucket", json!({"Bucket": bucket})).unwrap(),
        json!({"Location": format!("/{bucket}")})
    );
    let listed = call(remote.as_ref(), "listBuckets", json!({})).unwrap();
    assert!(listed["Buckets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|entry| entry["Name"] == json!(bucket) && entry["CreationDate"].is_string()));
    let put = call(
        remote.as_ref(),
        "putObject",
        json!({"Bucket": bucket, "Key": "dir/a b.json", "Body": {"n": 1}, "ContentType": "application/json"}),
    )
    .unwrap();
    // S3's ETag of a single-part upload is the body's MD5, quoted.
    assert!(put["ETag"].as_str().unwrap().starts_with('"'));
    let got = call(
        remote.as_ref(),
        "getObject",
        json!({"Bucket": bucket, "Key": "dir/a b.json"}),
    )
    .unwrap();
    assert_eq!(got["Body"], json!("{\"n\":1}"));
    assert_eq!(got["ContentLength"], json!(7));
    assert_eq!(got["ContentType"], json!("application/json"));
    assert_eq!(got["ETag"], put["ETag"]);
    assert!(got["LastModified"].as_str().unwrap().ends_with('Z'));
    let head = call(
        remote.as_ref(),
        "headObject",
        json!({"Bucket": bucket, "Key": "dir/a b.json"}),
    )
    .unwrap();
    assert_eq!(head["ContentLength"], json!(7));
    assert!(head.get("Body").is_none());
    let copied = call(
        remote.as_ref(),
        "copyObject",
        json!({"Bucket": bucket, "Key": "copy.json", "CopySource": format!("{bucket}/dir/a%20b.json")}),
    )
    .unwrap();
    assert_eq!(copied["CopyObjectResult"]["ETag"], put["ETag"]);
    let list = call(
        remote.as_ref(),
        "listObjectsV2",
        json!({"Bucket": bucket, "MaxKeys": 1}),
    )
    .unwrap();
    assert_eq!(list["KeyCount"], json!(1));
    assert_eq!(list["IsTruncated"], json!(true));
    assert_eq!(list["Contents"][0]["Key"], json!("copy.json"));
    assert_eq!(list["Contents"][0]["Size"], json!(7));
    assert_eq!(list["Contents"][0]["StorageClass"], json!("STANDARD"));
    let token = list["NextContinuationToken"].as_str().unwrap();
    let rest = call(
        remote.as_ref(),
        "listObjectsV2",
        json!({"Bucket": bucket, "ContinuationToken": token}),
    )
    .unwrap();
    assert_eq!(rest["Contents"][0]["Key"], json!("dir/a b.json"));
    assert_eq!(rest["IsTruncated"], json!(false));
    call(
        remote.as_ref(),
        "deleteObject",
        json!({"Bucket": bucket, "Key": "copy.json"}),
    )
    .unwrap();
    let (error, cause) = call(
        remote.as_ref(),
        "getObject",
        json!({"Bucket": bucket, "Key": "copy.json"}),
    )
    .unwrap_err();
    assert_eq!(error, "S3.NoSuchKeyException");
    assert!(
        cause.starts_with(
            "The specified key does not exist. (Service: S3, Status Code: 404, Request ID: "
        ),
        "{cause}"
    );
    let (error, _) = call(
        remote.as_ref(),
        "headObject",
        json!({"Bucket": bucket, "Key": "copy.json"}),
    )
    .unwrap_err();
    assert_eq!(error, "S3.NoSuchKeyException");
    let (error, _) = call(
        remote.as_ref(),
        "listObjectsV2",
        json!({"Bucket": format!("{bucket}-none")}),
    )
    .unwrap_err();
    assert_eq!(error, "S3.NoSuchBucketException");
}

#[test]
fn objects_stream_and_the_s3_endpoint_can_be_named_alone() {
    let Some(url) = s3_url() else { return };
    // Only S3 at the URL: every other service has no endpoint.
    let services = Services::new("us-east-1", None, &[format!("s3={url}")]).unwrap();
    let remote = services
        .buckets()
        .expect("--service-endpoint s3=URL reaches S3");
    let bucket = bucket("stream");
    remote.create_bucket(&bucket).unwrap();
    // 4 MiB read in small pieces: the body is a stream, not a buffer.
    let line = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
    let body = line.repeat(64 * 1024);
    remote
        .put_object(&bucket, "big.txt", body.as_bytes(), None)
        .unwrap();
    let mut object = remote.get_object(&bucket, "big.txt").unwrap();
    assert_eq!(object.info.size, body.len() as u64);
    let (mut total, mut buffer) = (0, [0u8; 4096]);
    loop {
        let n = object.body.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total, body.len());
    let page = remote
        .list_objects(
            &bucket,
            &List {
                max_keys: 10,
                ..List::default()
            },
        )
        .unwrap();
    assert_eq!(page.contents.len(), 1);
    match remote
        .get_object(&format!("{bucket}-none"), "k")
        .unwrap_err()
    {
        Error::Service { code, status, .. } => {
            assert_eq!((code.as_str(), status), ("NoSuchBucket", 404));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn item_reader_pages_resume_with_ranged_gets() {
    let Some(url) = s3_url() else { return };
    let services = services(&url, &[]);
    let remote = services.buckets().unwrap();
    let bucket = bucket("pages");
    remote.create_bucket(&bucket).unwrap();
    let rows: String = (0..2500).map(|n| format!("{n},row{n}\n")).collect();
    remote
        .put_object(
            &bucket,
            "rows.csv",
            format!("n,text\n{rows}").as_bytes(),
            None,
        )
        .unwrap();
    let mut request = json!({"Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
        "Parameters": {"Bucket": bucket, "Key": "rows.csv"}, "MaxItems": 0});
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        request["Skip"] = json!(items.len());
        let TaskOutcome::Succeeded(mut page) =
            s3::items::read_page(Some(remote.as_ref()), &request)
        else {
            panic!("a page")
        };
        pages += 1;
        items.extend(page["Items"].as_array().unwrap().iter().cloned());
        if page["More"] != json!(true) {
            break;
        }
        request["Cursor"] = page["Cursor"].take();
    }
    assert_eq!(pages, 3);
    assert_eq!(items.len(), 2500);
    assert_eq!(items[1000], json!({"n": "1000", "text": "row1000"}));
    assert_eq!(items[2499], json!({"n": "2499", "text": "row2499"}));
}
