//! Retention (issue 12): closed Standard executions and their histories are deleted once
//! closed longer than the retention period; running ones stay, a deleted one no longer
//! exists for any operation, and the database stops growing under repeated work.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;
use common::*;
use std::path::Path;
use std::time::Duration;

const PASS: &str = r#"{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}"#;
const FAIL: &str =
    r#"{"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "E", "Cause": "c"}}}"#;
const WAIT: &str =
    r#"{"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 600, "End": true}}}"#;

fn options(dir: &Path, retention: Duration) -> steppe_server::Options {
    steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Sqlite {
            data_dir: dir.to_path_buf(),
            fsync: false,
        },
        retention: Some(retention),
        retention_sweep_interval: Duration::from_millis(100),
        ..steppe_server::Options::default()
    }
}

/// Polls DescribeExecution until it answers `ExecutionDoesNotExist` (a 20 s hang guard).
async fn wait_until_deleted(client: &aws_sdk_sfn::Client, arn: &str) {
    for _ in 0..1000 {
        match client.describe_execution().execution_arn(arn).send().await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(error) => {
                assert_eq!(error.code(), Some("ExecutionDoesNotExist"), "{error:?}");
                return;
            }
        }
    }
    panic!("{arn} was not deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_executions_are_deleted_with_their_histories_and_running_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let server = steppe_server::start(options(dir.path(), Duration::from_secs(1)))
        .await
        .unwrap();
    let client = client(server.local_addr());
    let passing = create(&client, "passing", PASS).await;
    let failing = create(&client, "failing", FAIL).await;
    let waiting = create(&client, "waiting", WAIT).await;
    let succeeded = start(&client, &passing, "{}").await;
    let failed = start(&client, &failing, "{}").await;
    let running = start(&client, &waiting, "{}").await;
    assert_eq!(
        wait_for_end(&client, &failed).await.status,
        ExecutionStatus::Failed
    );
    // Closed, it is still there (and redrivable) until the period has passed.
    assert_eq!(history(&client, &failed).await.len(), 3);

    wait_until_deleted(&client, &succeeded).await;
    wait_until_deleted(&client, &failed).await;
    let history_error = client
        .get_execution_history()
        .execution_arn(&failed)
        .send()
        .await
        .unwrap_err();
    assert_eq!(history_error.code(), Some("ExecutionDoesNotExist"));
    let redrive = client
        .redrive_execution()
        .execution_arn(&failed)
        .send()
        .await
        .unwrap_err();
    assert_eq!(redrive.code(), Some("ExecutionDoesNotExist"));
    for machine in [&passing, &failing] {
        let listed = client
            .list_executions()
            .state_machine_arn(machine)
            .send()
            .await
            .unwrap();
        assert!(listed.executions.is_empty(), "{listed:?}");
    }
    let described = client
        .describe_execution()
        .execution_arn(&running)
        .send()
        .await
        .unwrap();
    assert_eq!(described.status, ExecutionStatus::Running);
    // A new execution of a machine whose executions were deleted starts as usual.
    let again = start(&client, &passing, "{}").await;
    assert_eq!(
        wait_for_end(&client, &again).await.status,
        ExecutionStatus::Succeeded
    );
    server.shutdown().await;

    // Nothing keyed by the deleted executions is left in the database.
    let database =
        rusqlite::Connection::open(dir.path().join(steppe_store_sqlite::DATABASE_FILE)).unwrap();
    for table in ["inputs", "events", "timers", "tasks", "redrive_tokens"] {
        let orphans: i64 = database
            .query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE execution_id NOT IN (SELECT id FROM executions)"),
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0, "{table}");
    }
    let bodies: i64 = database
        .query_row(
            "SELECT COUNT(*) FROM execution_bodies WHERE id NOT IN (SELECT id FROM executions)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(bodies, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retention_the_database_stays_bounded_across_repeated_work() {
    let dir = tempfile::tempdir().unwrap();
    let retention = Duration::from_millis(200);
    let mut sizes = Vec::new();
    for round in 0..4 {
        let server = steppe_server::start(options(dir.path(), retention))
            .await
            .unwrap();
        let client = client(server.local_addr());
        let machine = if round == 0 {
            create(&client, "work", PASS).await
        } else {
            machine_arn("work")
        };
        let input = serde_json::json!({"pad": "x".repeat(4000)}).to_string();
        let mut arns = Vec::new();
        for _ in 0..100 {
            arns.push(start(&client, &machine, &input).await);
        }
        // Only ended executions are deleted: gone means ended and deleted.
        for arn in &arns {
            wait_until_deleted(&client, arn).await;
        }
        server.shutdown().await;
        let bytes = std::fs::metadata(dir.path().join(steppe_store_sqlite::DATABASE_FILE))
            .unwrap()
            .len();
        sizes.push(bytes);
    }
    // The first round's pages are reused by the later ones: the three later rounds together
    // add less than one round without deletion would (about 1 MB: 100 executions with 4 KB
    // inputs stored twice, in the input and the first event). Index pages split by where
    // the later rounds' rows land add a little in the first rounds, then nothing.
    let one_round_bytes = 100 * 2 * 4_000;
    let bound = sizes[0] + one_round_bytes;
    assert!(sizes.iter().all(|bytes| *bytes <= bound), "{sizes:?}");
}
