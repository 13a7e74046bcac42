//! Amazon S3 through the server: `aws-sdk:s3:*` Task states against a real S3-compatible
//! server (moto, from `scripts/start-moto.sh`; its URL from `STEPPE_TEST_S3_URL` or
//! `target/moto-url`) and against `--s3-dir` folders. Without an S3 server the moto tests say
//! plainly that they skipped, but fail when `CI` is set.

mod common;

use common::{client, create, start, wait_for_end};
use serde_json::{json, Value};

/// The S3 server's URL, `None` (after saying so) when there is none outside CI.
fn s3_url() -> Option<String> {
    steppe_tasks::s3::test_server_url()
}

/// Creates a bucket, writes an object, reads it back and lists the bucket, then reads a
/// missing key, which a Catch turns into output.
fn round_trip(bucket: &str) -> Value {
    let task = |action: &str, parameters: Value, next: &str| {
        json!({"Type": "Task", "Resource": format!("arn:aws:states:::aws-sdk:s3:{action}"),
            "Parameters": parameters, "ResultPath": format!("$.{action}"), "Next": next})
    };
    let mut missing = task(
        "getObject",
        json!({"Bucket": bucket, "Key": "missing"}),
        "Done",
    );
    missing["ResultPath"] = json!("$.missing");
    missing["Catch"] = json!([{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.caught", "Next": "Done"}]);
    json!({"StartAt": "Create", "States": {
        "Create": task("createBucket", json!({"Bucket": bucket}), "Put"),
        "Put": task("putObject", json!({"Bucket": bucket, "Key": "in/data.csv", "Body.$": "$.csv"}), "Get"),
        "Get": task("getObject", json!({"Bucket": bucket, "Key": "in/data.csv"}), "List"),
        "List": task("listObjectsV2", json!({"Bucket": bucket, "Prefix": "in/"}), "Missing"),
        "Missing": missing,
        "Done": {"Type": "Pass", "End": true}
    }})
}

async fn run_round_trip(server: &steppe_server::Server, name: &str, bucket: &str) -> Value {
    let client = client(server.local_addr());
    let machine = create(&client, name, &round_trip(bucket).to_string()).await;
    let execution = start(&client, &machine, &json!({"csv": "a,b\n1,2\n"}).to_string()).await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status().as_str(), "SUCCEEDED", "{:?}", ended.cause());
    serde_json::from_str(ended.output().unwrap()).unwrap()
}

fn check_round_trip(output: &Value, bucket: &str) {
    assert_eq!(
        output["createBucket"],
        json!({"Location": format!("/{bucket}")})
    );
    let etag = &output["putObject"]["ETag"];
    assert!(
        etag.as_str().is_some_and(|etag| etag.starts_with('"')),
        "{etag}"
    );
    assert_eq!(output["getObject"]["Body"], json!("a,b\n1,2\n"));
    assert_eq!(output["getObject"]["ETag"], *etag);
    assert_eq!(output["getObject"]["ContentLength"], json!(8));
    let list = &output["listObjectsV2"];
    assert_eq!(list["KeyCount"], json!(1));
    assert_eq!(list["Name"], json!(bucket));
    assert_eq!(list["Contents"][0]["Key"], json!("in/data.csv"));
    assert_eq!(list["Contents"][0]["Size"], json!(8));
    assert_eq!(list["Contents"][0]["ETag"], *etag);
    assert_eq!(output["caught"]["Error"], json!("S3.NoSuchKeyException"));
    let cause = output["caught"]["Cause"].as_str().unwrap();
    assert!(
        cause.starts_with(
            "The specified key does not exist. (Service: S3, Status Code: 404, Request ID: "
        ),
        "{cause}"
    );
}

#[tokio::test]
async fn aws_sdk_s3_reaches_an_s3_server_named_by_service_endpoint() {
    let Some(url) = s3_url() else { return };
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        service_endpoints: vec![format!("s3={url}")],
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let bucket = format!("steppe-server-{}", std::process::id());
    let output = run_round_trip(&server, "S3RoundTrip", &bucket).await;
    check_round_trip(&output, &bucket);
}

#[tokio::test]
async fn aws_sdk_s3_reads_and_writes_s3_dir_folders() {
    let (dir, server) = dir_server().await;
    let output = run_round_trip(&server, "S3DirRoundTrip", "local").await;
    check_round_trip(&output, "local");
    let written = std::fs::read_to_string(dir.path().join("local/in/data.csv")).unwrap();
    assert_eq!(written, "a,b\n1,2\n");
}

#[tokio::test]
async fn without_s3_the_task_fails_saying_how_to_configure_it() {
    let server = common::memory_server().await;
    let client = client(server.local_addr());
    let definition = json!({"StartAt": "Get", "States": {"Get": {"Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": "b", "Key": "k"}, "End": true}}});
    let machine = create(&client, "NoS3", &definition.to_string()).await;
    let execution = start(&client, &machine, "{}").await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.error(), Some("States.TaskFailed"));
    assert!(
        ended.cause().unwrap().contains("--s3-dir DIR"),
        "{:?}",
        ended.cause()
    );
}

/// The objects every reader test reads, written through the backend under test.
fn put_fixtures(buckets: &dyn steppe_tasks::s3::Buckets, bucket: &str) {
    match buckets.create_bucket(bucket) {
        Ok(()) => {}
        Err(steppe_tasks::s3::Error::Service { code, .. }) if code.starts_with("BucketAlready") => {
        }
        Err(error) => panic!("{error}"),
    }
    let objects: [(&str, &str); 5] = [
        ("in/people.csv", "id,name\n1,ann\n2,\"b,o\"\n3,cy\n"),
        ("in/people.tsv", "1\tann\n2\tbo\n"),
        (
            "in/nested.json",
            r#"{"skip": 1, "data": {"list": [{"n": 1}, {"n": 2}]}}"#,
        ),
        ("in/lines.jsonl", "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"),
        ("other/x.txt", "x"),
    ];
    for (key, body) in objects {
        buckets
            .put_object(bucket, key, body.as_bytes(), None)
            .unwrap();
    }
    // An S3 inventory as S3 writes one: a manifest and gzip CSV data files without a header
    // row, the first longer than a page of items, the second two gzip members.
    let rows: String = (0..1_500)
        .map(|i| format!("\"src\",\"obj/{i:04}.txt\",\"{i}\",\"2022-11-16T00:29:32.000Z\"\n"))
        .collect();
    let second = [
        gzip("\"src\",\"b,c.txt\",\"7\",\"2022-11-15T20:02:16.000Z\"\n"),
        gzip("\"src\",\"last.txt\",\"8\",\"2022-11-15T20:02:17.000Z\"\n"),
    ]
    .concat();
    let files = [
        ("inventory/data/one.csv.gz", gzip(&rows)),
        ("inventory/data/two.csv.gz", second),
    ];
    for (key, body) in &files {
        buckets.put_object(bucket, key, body, None).unwrap();
    }
    let manifest = json!({
        "sourceBucket": "src",
        "destinationBucket": format!("arn:aws:s3:::{bucket}"),
        "version": "2016-11-30",
        "creationTimestamp": "1668560400000",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": files.iter().map(|(key, body)| json!({"key": key, "size": body.len(),
            "MD5checksum": "a7ff4a1d4164c3cd55851055ec8f6b20"})).collect::<Vec<_>>()
    });
    buckets
        .put_object(
            bucket,
            "inventory/manifest.json",
            manifest.to_string().as_bytes(),
            None,
        )
        .unwrap();
}

fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// A distributed Map whose item processor passes each item through.
fn reader_map(reader: Value, extra: Value) -> String {
    let mut map = json!({"Type": "Map", "ItemReader": reader,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true});
    for (key, value) in extra.as_object().unwrap() {
        map[key] = value.clone();
    }
    json!({"StartAt": "Map", "States": {"Map": map}}).to_string()
}

async fn run_reader(
    server: &steppe_server::Server,
    name: &str,
    definition: &str,
    input: Value,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let client = client(server.local_addr());
    let machine = create(&client, name, definition).await;
    let execution = start(&client, &machine, &input.to_string()).await;
    wait_for_end(&client, &execution).await
}

fn output_of(ended: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput) -> Value {
    assert_eq!(
        ended.status().as_str(),
        "SUCCEEDED",
        "{:?} {:?}",
        ended.error(),
        ended.cause()
    );
    serde_json::from_str(ended.output().unwrap()).unwrap()
}

/// Every reader type, batching, MaxItems, JSONata Arguments and a missing key, on one
/// server whose S3 is `buckets`.
async fn check_readers(server: &steppe_server::Server, bucket: &str, tag: &str) {
    let get = |config: Value, key: &str| {
        json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
            "Parameters": {"Bucket": bucket, "Key": key}})
    };
    let csv = get(
        json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}),
        "in/people.csv",
    );
    let ended = run_reader(
        server,
        &format!("Csv{tag}"),
        &reader_map(csv.clone(), json!({})),
        json!({}),
    )
    .await;
    assert_eq!(
        output_of(&ended),
        json!([{"id": "1", "name": "ann"}, {"id": "2", "name": "b,o"}, {"id": "3", "name": "cy"}])
    );
    let tsv = get(
        json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["id", "name"], "CSVDelimiter": "TAB"}),
        "in/people.tsv",
    );
    let ended = run_reader(
        server,
        &format!("Tsv{tag}"),
        &reader_map(tsv, json!({})),
        json!({}),
    )
    .await;
    assert_eq!(
        output_of(&ended),
        json!([{"id": "1", "name": "ann"}, {"id": "2", "name": "bo"}])
    );
    let nested = get(
        json!({"InputType": "JSON", "ItemsPointer": "/data/list"}),
        "in/nested.json",
    );
    let ended = run_reader(
        server,
        &format!("Json{tag}"),
        &reader_map(nested, json!({})),
        json!({}),
    )
    .await;
    assert_eq!(output_of(&ended), json!([{"n": 1}, {"n": 2}]));
    // JSONL, with MaxItems from the input and the key from a path.
    let lines = json!({"Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSONL", "MaxItemsPath": "$.max"},
        "Parameters": {"Bucket": bucket, "Key.$": "$.key"}});
    let ended = run_reader(
        server,
        &format!("Jsonl{tag}"),
        &reader_map(lines, json!({})),
        json!({"key": "in/lines.jsonl", "max": 2}),
    )
    .await;
    assert_eq!(output_of(&ended), json!([{"n": 1}, {"n": 2}]));
    // The same in JSONata, with Arguments.
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "Map", "States": {"Map": {
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL", "MaxItems": "{% $states.input.max %}"},
            "Arguments": {"Bucket": bucket, "Key": "{% $states.input.key %}"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let ended = run_reader(
        server,
        &format!("Jsonata{tag}"),
        &definition.to_string(),
        json!({"key": "in/lines.jsonl", "max": 1}),
    )
    .await;
    assert_eq!(output_of(&ended), json!([{"n": 1}]));
    // A listing: one item per key under the prefix, as AWS shapes them.
    let listing = json!({"Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": bucket, "Prefix": "in/"}});
    let ended = run_reader(
        server,
        &format!("List{tag}"),
        &reader_map(listing, json!({})),
        json!({}),
    )
    .await;
    let listed = output_of(&ended);
    let keys: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["Key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "in/lines.jsonl",
            "in/nested.json",
            "in/people.csv",
            "in/people.tsv"
        ]
    );
    let first = &listed[0];
    assert_eq!(first["Size"], json!(24));
    assert!(first["Etag"].as_str().unwrap().starts_with('"'));
    assert!(first["LastModified"].is_i64());
    assert_eq!(first["StorageClass"], json!("STANDARD"));
    // Batching over a reader.
    let ended = run_reader(
        server,
        &format!("Batch{tag}"),
        &reader_map(csv, json!({"ItemBatcher": {"MaxItemsPerBatch": 2}})),
        json!({}),
    )
    .await;
    assert_eq!(
        output_of(&ended),
        json!([
            {"Items": [{"id": "1", "name": "ann"}, {"id": "2", "name": "b,o"}]},
            {"Items": [{"id": "3", "name": "cy"}]}
        ])
    );
    // An S3 inventory (MANIFEST): every data row of every data file, in order, across pages
    // and files; each item the manifest's fileSchema columns as strings (ItemReader page).
    let inventory = get(json!({"InputType": "MANIFEST"}), "inventory/manifest.json");
    let keys_only = json!({"ItemSelector": {"key.$": "$$.Map.Item.Value.Key"}});
    let ended = run_reader(
        server,
        &format!("Manifest{tag}"),
        &reader_map(inventory, keys_only),
        json!({}),
    )
    .await;
    let mut expected: Vec<Value> = (0..1_500)
        .map(|i| json!({"key": format!("obj/{i:04}.txt")}))
        .collect();
    expected.extend([json!({"key": "b,c.txt"}), json!({"key": "last.txt"})]);
    assert_eq!(output_of(&ended), Value::Array(expected));
    let first = get(
        json!({"ManifestType": "S3_INVENTORY", "MaxItems": 1}),
        "inventory/manifest.json",
    );
    let ended = run_reader(
        server,
        &format!("Inventory{tag}"),
        &reader_map(first, json!({})),
        json!({}),
    )
    .await;
    assert_eq!(
        output_of(&ended),
        json!([{"Bucket": "src", "Key": "obj/0000.txt", "Size": "0",
            "LastModifiedDate": "2022-11-16T00:29:32.000Z"}])
    );
    // A missing key fails the Map with States.ItemReaderFailed, which Catch sees.
    let missing = get(json!({"InputType": "JSONL"}), "in/none.jsonl");
    let definition = caught_as_output(&reader_map(missing, json!({})), "States.ItemReaderFailed");
    let ended = run_reader(server, &format!("Missing{tag}"), &definition, json!({})).await;
    let caught = output_of(&ended);
    assert_eq!(caught["Error"], json!("States.ItemReaderFailed"));
    assert!(
        caught["Cause"]
            .as_str()
            .unwrap()
            .contains("The specified key does not exist."),
        "{caught}"
    );
}

#[tokio::test]
async fn item_readers_read_s3_dir_folders() {
    let (_dir, server) = dir_server().await;
    check_readers(&server, "data", "Dir").await;
    // A WriterConfig alone shapes the output: COMPACT keeps each child's array, FLATTEN
    // joins them.
    let csv = json!({"Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 2},
        "Parameters": {"Bucket": "data", "Key": "in/people.csv"}});
    for (transformation, expected) in [
        ("COMPACT", json!([["1", "ann"], ["2", "b,o"]])),
        ("FLATTEN", json!(["1", "ann", "2", "b,o"])),
    ] {
        let mut definition: Value = serde_json::from_str(&reader_map(
            csv.clone(),
            json!({"ResultWriter": {"WriterConfig": {"OutputType": "JSON", "Transformation": transformation}}}),
        ))
        .unwrap();
        definition["States"]["Map"]["ItemProcessor"]["States"]["P"] = json!({"Type": "Pass",
            "Parameters": {"pair.$": "States.Array($.id, $.name)"}, "OutputPath": "$.pair", "End": true});
        let name = format!("Writer{transformation}");
        let ended = run_reader(&server, &name, &definition.to_string(), json!({})).await;
        assert_eq!(output_of(&ended), expected, "{transformation}");
    }
}

#[tokio::test]
async fn item_readers_read_an_s3_server() {
    let Some(url) = s3_url() else { return };
    let (_buckets, bucket, server) = moto_server(&url, "steppe-readers").await;
    check_readers(&server, &bucket, "Moto").await;
}

#[tokio::test]
async fn readers_steppe_cannot_carry_out_are_refused_when_the_machine_is_created() {
    let server = common::memory_server().await;
    let client = client(server.local_addr());
    let parquet = json!({"Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "PARQUET"}, "Parameters": {"Bucket": "b", "Key": "k"}});
    let refused = client
        .create_state_machine()
        .name("Parquet")
        .role_arn(common::ROLE)
        .definition(reader_map(parquet, json!({})))
        .send()
        .await
        .unwrap_err();
    let message = format!("{:?}", refused.into_service_error());
    assert!(message.contains("InvalidDefinition"), "{message}");
    assert!(
        message.contains("does not read Parquet objects yet"),
        "{message}"
    );
}

/// Exports a Map's results (COMPACT as JSON, FLATTEN as JSONL, a tolerated failure) and a
/// failed export, then reads back what was written through `buckets`.
async fn check_exports(
    server: &steppe_server::Server,
    buckets: &dyn steppe_tasks::s3::Buckets,
    bucket: &str,
    tag: &str,
) {
    let read = |key: &str| {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut buckets.get_object(bucket, key).unwrap().body,
            &mut text,
        )
        .unwrap();
        text
    };
    let csv = json!({"Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
        "Parameters": {"Bucket": bucket, "Key": "in/people.csv"}});
    let with_writer = |writer: Value, extra: Value| {
        let mut fields = json!({"ResultWriter": writer});
        for (key, value) in extra.as_object().unwrap() {
            fields[key] = value.clone();
        }
        let mut definition: Value = serde_json::from_str(&reader_map(csv.clone(), fields)).unwrap();
        // Each child answers [id, name]; the child for id 2 fails.
        definition["States"]["Map"]["ItemProcessor"]["StartAt"] = json!("Check");
        definition["States"]["Map"]["ItemProcessor"]["States"] = json!({
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.id", "StringEquals": "2", "Next": "Fail"}], "Default": "P"},
            "Fail": {"Type": "Fail", "Error": "Two", "Cause": "no twos"},
            "P": {"Type": "Pass", "Parameters": {"pair.$": "States.Array($.id, $.name)"}, "OutputPath": "$.pair", "End": true}
        });
        definition.to_string()
    };
    let export = |prefix: &str, transformation: &str, output_type: &str| {
        json!({"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": bucket, "Prefix": prefix},
            "WriterConfig": {"Transformation": transformation, "OutputType": output_type}})
    };
    let tolerate = json!({"ToleratedFailureCount": 1});
    let ended = run_reader(
        server,
        &format!("ExportCompact{tag}"),
        &with_writer(export("jobs", "COMPACT", "JSON"), tolerate.clone()),
        json!({}),
    )
    .await;
    let output = output_of(&ended);
    let map_run_arn = output["MapRunArn"].as_str().unwrap();
    assert!(map_run_arn.contains(":mapRun:"), "{output}");
    let run_id = map_run_arn.rsplit(':').next().unwrap();
    let manifest_key = format!("jobs/{run_id}/manifest.json");
    assert_eq!(
        output["ResultWriterDetails"],
        json!({"Bucket": bucket, "Key": manifest_key})
    );
    let succeeded_key = format!("jobs/{run_id}/SUCCEEDED_0.json");
    let failed_key = format!("jobs/{run_id}/FAILED_0.json");
    assert_eq!(read(&succeeded_key), r#"[["1","ann"],["3","cy"]]"#);
    // A failed child's entry is its execution record whatever the Transformation.
    let failed: Value = serde_json::from_str(&read(&failed_key)).unwrap();
    assert_eq!(failed.as_array().unwrap().len(), 1);
    check_record(server, &failed[0]).await;
    assert_eq!(failed[0]["Error"], json!("Two"));
    assert_eq!(failed[0]["Cause"], json!("no twos"));
    let manifest: Value = serde_json::from_str(&read(&manifest_key)).unwrap();
    assert_eq!(
        manifest,
        json!({"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": {
            "FAILED": [{"Key": failed_key, "Size": read(&failed_key).len()}],
            "PENDING": [],
            "SUCCEEDED": [{"Key": succeeded_key, "Size": 24}]}})
    );
    // Without a WriterConfig an export writes NONE: each child's execution record.
    let ended = run_reader(
        server,
        &format!("ExportNone{tag}"),
        &with_writer(
            json!({"Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": bucket, "Prefix": "none"}}),
            tolerate.clone(),
        ),
        json!({}),
    )
    .await;
    let key = output_of(&ended)["ResultWriterDetails"]["Key"]
        .as_str()
        .unwrap()
        .replace("manifest.json", "SUCCEEDED_0.json");
    let records: Value = serde_json::from_str(&read(&key)).unwrap();
    let outputs: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["Output"].as_str().unwrap())
        .collect();
    assert_eq!(outputs, [r#"["1","ann"]"#, r#"["3","cy"]"#]);
    for record in records.as_array().unwrap() {
        check_record(server, record).await;
    }
    // A Map Run that fails writes its results too: the child that succeeded, the one that
    // failed it, and the one never started, pending; then the Map fails.
    let failing = caught_as_output(
        &with_writer(
            export("failing", "COMPACT", "JSON"),
            json!({"MaxConcurrency": 1}),
        ),
        "Two",
    );
    let ended = run_reader(server, &format!("ExportFailing{tag}"), &failing, json!({})).await;
    assert_eq!(output_of(&ended)["Error"], json!("Two"), "{ended:?}");
    let manifest_key = format!(
        "failing/{}/manifest.json",
        map_run_of(server, &ended.execution_arn)
            .await
            .rsplit(':')
            .next()
            .unwrap()
    );
    let manifest: Value = serde_json::from_str(&read(&manifest_key)).unwrap();
    let file = |status: &str| -> Value {
        let files = manifest["ResultFiles"][status].as_array().unwrap();
        assert_eq!(files.len(), 1, "{manifest}");
        let key = files[0]["Key"].as_str().unwrap();
        assert_eq!(files[0]["Size"], json!(read(key).len()));
        serde_json::from_str(&read(key)).unwrap()
    };
    assert_eq!(file("SUCCEEDED"), json!([["1", "ann"]]));
    let failed = file("FAILED");
    check_record(server, &failed[0]).await;
    assert_eq!(failed[0]["Error"], json!("Two"));
    let pending = file("PENDING");
    assert_eq!(
        pending,
        json!([{"Input": r#"{"id":"3","name":"cy"}"#, "InputDetails": {"Included": true},
            "Status": "PENDING"}])
    );
    // The Map Run counts the rows it read, the failure it tolerated and the results written.
    let described = client(server.local_addr())
        .describe_map_run()
        .map_run_arn(map_run_arn)
        .send()
        .await
        .expect("DescribeMapRun");
    assert_eq!(described.status.as_str(), "SUCCEEDED");
    let items = described.item_counts.expect("itemCounts");
    assert_eq!(
        (
            items.total,
            items.succeeded,
            items.failed,
            items.results_written
        ),
        (3, 2, 1, 3)
    );
    let ended = run_reader(
        server,
        &format!("ExportFlatten{tag}"),
        &with_writer(export("flat/", "FLATTEN", "JSONL"), tolerate),
        json!({}),
    )
    .await;
    let output = output_of(&ended);
    let key = output["ResultWriterDetails"]["Key"].as_str().unwrap();
    let folder = key.trim_end_matches("/manifest.json");
    assert!(
        folder.starts_with("flat/") && !folder.contains("//"),
        "{key}"
    );
    assert_eq!(
        read(&format!("{folder}/SUCCEEDED_0.json")),
        "\"1\"\n\"ann\"\n\"3\"\n\"cy\"\n"
    );
    // Writing to a bucket that does not exist fails the Map with States.ResultWriterFailed.
    let mut broken = export("jobs", "COMPACT", "JSON");
    broken["Parameters"]["Bucket"] = json!(format!("{bucket}-none"));
    let definition = caught_as_output(
        &with_writer(broken, json!({"ToleratedFailureCount": 1})),
        "States.ResultWriterFailed",
    );
    let ended = run_reader(
        server,
        &format!("ExportBroken{tag}"),
        &definition,
        json!({}),
    )
    .await;
    let caught = output_of(&ended);
    assert_eq!(
        caught["Error"],
        json!("States.ResultWriterFailed"),
        "{caught}"
    );
}

/// The Map Run ARN the execution's `MapRunStarted` event names.
async fn map_run_of(server: &steppe_server::Server, execution: &str) -> String {
    let events = common::history(&client(server.local_addr()), execution).await;
    events
        .iter()
        .find_map(|event| {
            event
                .map_run_started_event_details
                .as_ref()?
                .map_run_arn
                .clone()
        })
        .expect("a MapRunStarted event")
}

/// A ResultWriter's NONE entry is what DescribeExecution says of that child, in the
/// ResultWriter page's shape (PascalCase members, texts for input and output, ISO dates).
async fn check_record(server: &steppe_server::Server, record: &Value) {
    use aws_sdk_sfn::primitives::{DateTime, DateTimeFormat};
    let arn = record["ExecutionArn"].as_str().expect("ExecutionArn");
    let described = client(server.local_addr())
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .expect("the child the record names");
    assert_eq!(record["Name"], json!(described.name));
    assert_eq!(
        record["StateMachineArn"],
        json!(described.state_machine_arn)
    );
    assert_eq!(record["Status"], json!(described.status.as_str()));
    assert_eq!(record["Input"], json!(described.input.unwrap()));
    assert_eq!(record["InputDetails"], json!({"Included": true}));
    assert_eq!(
        record.get("Output"),
        described.output.map(|o| json!(o)).as_ref()
    );
    assert_eq!(
        record.get("Error"),
        described.error.map(|e| json!(e)).as_ref()
    );
    assert_eq!(
        record.get("Cause"),
        described.cause.map(|c| json!(c)).as_ref()
    );
    assert_eq!(
        record["RedriveCount"],
        json!(described.redrive_count.unwrap())
    );
    let status = described.redrive_status.as_ref().map(|s| s.as_str());
    assert_eq!(record["RedriveStatus"].as_str(), status);
    let date = |key: &str| {
        let text = record[key].as_str().unwrap_or_else(|| panic!("{key}"));
        assert!(text.ends_with('Z') && text.len() == 24, "{text}");
        DateTime::from_str(text, DateTimeFormat::DateTime).unwrap()
    };
    // The API answers epoch seconds as a float: compare whole milliseconds.
    let millis = |date: DateTime| (date.as_secs_f64() * 1000.0).round() as i64;
    assert_eq!(millis(date("StartDate")), millis(described.start_date));
    assert_eq!(
        millis(date("StopDate")),
        millis(described.stop_date.unwrap())
    );
}

#[tokio::test]
async fn result_writers_export_to_s3_dir_folders() {
    let (dir, server) = dir_server().await;
    let folders = steppe_tasks::s3::Folders::new(dir.path());
    check_exports(&server, &folders, "data", "Dir").await;
}

#[tokio::test]
async fn result_writers_export_to_an_s3_server() {
    let Some(url) = s3_url() else { return };
    let (buckets, bucket, server) = moto_server(&url, "steppe-writers").await;
    check_exports(&server, buckets.as_ref(), &bucket, "Moto").await;
}

/// A server whose S3 is a fresh `--s3-dir` holding the fixtures in the bucket `data`.
async fn dir_server() -> (tempfile::TempDir, steppe_server::Server) {
    let dir = tempfile::tempdir().unwrap();
    put_fixtures(&steppe_tasks::s3::Folders::new(dir.path()), "data");
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        s3_dir: Some(dir.path().to_path_buf()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    (dir, server)
}

/// A server whose S3 is the server at `url`, with the fixtures in a bucket of its own.
async fn moto_server(
    url: &str,
    name: &str,
) -> (
    Box<dyn steppe_tasks::s3::Buckets>,
    String,
    steppe_server::Server,
) {
    let services = steppe_tasks::services::Services::new("us-east-1", Some(url), &[]).unwrap();
    let buckets = services.buckets().unwrap();
    let bucket = format!("{name}-{}", std::process::id());
    put_fixtures(buckets.as_ref(), &bucket);
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        aws_endpoint: Some(url.to_string()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    (buckets, bucket, server)
}

/// `definition` with a Catch of `error` on its Map that makes the error the output.
fn caught_as_output(definition: &str, error: &str) -> String {
    let mut definition: Value = serde_json::from_str(definition).unwrap();
    let map = definition["States"]["Map"].as_object_mut().unwrap();
    map.remove("End");
    map.insert("Next".to_string(), json!("Caught"));
    map.insert(
        "Catch".to_string(),
        json!([{"ErrorEquals": [error], "Next": "Caught"}]),
    );
    definition["States"]["Caught"] = json!({"Type": "Pass", "End": true});
    definition.to_string()
}
