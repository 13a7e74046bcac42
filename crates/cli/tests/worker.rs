//! `steppe worker` against an in-process server: a command's stdout becomes the task output,
//! a non-zero exit a task failure with stderr as the cause; the worker logs one line per task.
//! It signs its requests with the credentials and region the AWS CLI would use (environment
//! variables, or a profile of the shared files), so it works against a server with
//! `--credentials` in its caller's account and region.

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::ExecutionStatus;
use std::process::Command;
use std::time::Duration;

/// The server's `--credentials` in the tests that set them.
const CREDENTIALS: &str =
    "[ops]\naws_access_key_id = AKIDWORKER\naws_secret_access_key = s3cret\naws_account_id = 111122223333\n";

fn client(
    address: std::net::SocketAddr,
    region: &str,
    key: &str,
    secret: &str,
) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(format!("http://{address}"))
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

/// A server (with `credentials` as its `--credentials`, if any) with an activity `jobs` and a
/// started execution waiting for it, made by a client of `region` signing with AKIDWORKER.
struct Setup {
    server: steppe_server::Server,
    client: aws_sdk_sfn::Client,
    activity_arn: String,
    execution: String,
}

async fn setup(credentials: Option<&str>, region: &str) -> Setup {
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        credentials: credentials.map(|text| steppe_server::auth::Credentials::parse(text).unwrap()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let client = client(server.local_addr(), region, "AKIDWORKER", "s3cret");
    let activity_arn = client
        .create_activity()
        .name("jobs")
        .send()
        .await
        .unwrap()
        .activity_arn;
    let definition = format!(
        r#"{{"StartAt": "Job", "States": {{"Job": {{"Type": "Task", "Resource": "{activity_arn}", "HeartbeatSeconds": 5, "End": true}}}}}}"#
    );
    let machine = client
        .create_state_machine()
        .name("jobs")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/r")
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let execution = client
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"order": 7}"#)
        .send()
        .await
        .unwrap()
        .execution_arn;
    Setup {
        server,
        client,
        activity_arn,
        execution,
    }
}

/// `steppe worker` for one task of activity `jobs` at `setup`'s server, with `--log-format
/// json`, the `extra` arguments and an environment holding only `env` of the AWS settings
/// (no shared files, no instance metadata: only what the test gives it).
fn worker(
    setup: &Setup,
    home: &std::path::Path,
    extra: &[&str],
    env: &[(&str, String)],
    command: &[&str],
) -> Command {
    let mut worker = Command::new(env!("CARGO_BIN_EXE_steppe"));
    worker.args([
        "worker",
        "--activity",
        "jobs",
        "--endpoint",
        &format!("http://{}", setup.server.local_addr()),
        "--heartbeat-seconds",
        "1",
        "--max-tasks",
        "1",
        "--log-format",
        "json",
    ]);
    worker
        .args(extra)
        .arg("--")
        .args(command)
        .env_remove("RUST_LOG");
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            worker.env_remove(name);
        }
    }
    worker
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, value) in env {
        worker.env(name, value);
    }
    worker
}

/// Runs `worker` to its end; answers its output and JSON log lines.
async fn finish(mut worker: Command) -> (std::process::Output, Vec<serde_json::Value>) {
    let output = tokio::task::spawn_blocking(move || worker.output())
        .await
        .unwrap()
        .unwrap();
    let logs: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    (output, logs)
}

/// Runs `worker`, which must fail saying `why`.
async fn refused(worker: Command, why: &str) {
    let (output, _) = finish(worker).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(why), "{stderr}");
}

/// Waits for `setup`'s execution to end, and stops the server.
async fn ended(
    setup: Setup,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    for _ in 0..250 {
        let described = setup
            .client
            .describe_execution()
            .execution_arn(&setup.execution)
            .send()
            .await
            .unwrap();
        if described.status != ExecutionStatus::Running {
            setup.server.shutdown().await;
            return described;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the execution did not end");
}

/// The key's environment variables, as the AWS CLI reads them.
fn key_env(region: &str, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "AKIDWORKER".to_string()),
        ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
        ("AWS_REGION", region.to_string()),
    ]
}

/// Runs one task through `steppe worker --log-format json` (signed with environment
/// credentials, against a server without `--credentials`); returns how the execution ended
/// and the worker's log lines.
async fn run_one(
    command: &[&str],
) -> (
    aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
    Vec<serde_json::Value>,
) {
    let setup = setup(None, "us-east-1").await;
    let home = tempfile::tempdir().unwrap();
    let worker = worker(
        &setup,
        home.path(),
        &[],
        &key_env("us-east-1", "s3cret"),
        command,
    );
    let (output, logs) = finish(worker).await;
    assert!(output.status.success(), "{logs:?}");
    let lines = String::from_utf8_lossy(&output.stderr).lines().count();
    assert_eq!(logs.len(), lines, "every line JSON: {output:?}");
    (ended(setup).await, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_answers_with_the_command_output() {
    // Runs past one heartbeat interval, so heartbeats must keep the task alive.
    let (ended, logs) = run_one(&["sh", "-c", "sleep 1.5; cat"]).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    assert_eq!(ended.output.as_deref(), Some(r#"{"order":7}"#));
    let worked = task_lines(&logs);
    assert_eq!(worked.len(), 1, "{logs:?}");
    assert_eq!(worked[0]["result"], "SendTaskSuccess");
    assert!(worked[0].get("error").is_none(), "{logs:?}");
    assert!(
        worked[0]["ms"].as_f64().is_some_and(|ms| ms >= 1000.0),
        "{logs:?}"
    );
}

/// The worker's "task worked" lines.
fn task_lines(logs: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    logs.iter()
        .filter(|line| line["message"] == "task worked")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_fails_the_task_with_stderr_as_cause() {
    let (ended, logs) = run_one(&["sh", "-c", "echo 'out of stock' >&2; exit 3"]).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("Worker.ExitStatus.3"));
    assert_eq!(ended.cause.as_deref(), Some("out of stock"));
    let worked = task_lines(&logs);
    assert_eq!(worked.len(), 1, "{logs:?}");
    assert_eq!(worked[0]["result"], "SendTaskFailure");
    assert_eq!(worked[0]["error"], "Worker.ExitStatus.3");
}

/// Against a server with `--credentials`, the worker signs with a profile of the shared files
/// (its key and, in the config file, its region), as the AWS CLI would: it finds the activity
/// of its own account and region, and works the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_signs_with_a_profile_against_a_server_with_credentials() {
    let setup = setup(Some(CREDENTIALS), "eu-west-1").await;
    assert!(
        setup
            .activity_arn
            .starts_with("arn:aws:states:eu-west-1:111122223333:"),
        "{}",
        setup.activity_arn
    );
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("credentials"),
        "[work]\naws_access_key_id = AKIDWORKER\naws_secret_access_key = s3cret\n",
    )
    .unwrap();
    std::fs::write(
        home.path().join("config"),
        "[profile work]\nregion = eu-west-1\n",
    )
    .unwrap();
    let env = [("AWS_PROFILE", "work".to_string())];
    let worker = worker(&setup, home.path(), &[], &env, &["cat"]);
    let (output, logs) = finish(worker).await;
    assert!(output.status.success(), "{logs:?}");
    let polling = logs
        .iter()
        .find(|line| line["message"] == "polling for tasks")
        .expect("the start line");
    assert_eq!(polling["activity_arn"], setup.activity_arn.as_str());
    assert_eq!(polling["region"], "eu-west-1");
    assert_eq!(task_lines(&logs)[0]["result"], "SendTaskSuccess");
    // Only a succeeded execution has an output.
    let output = ended(setup).await.output;
    assert_eq!(output.as_deref(), Some(r#"{"order":7}"#));
}

/// The worker's region decides where it acts: with the environment's key, `--region` (over
/// `AWS_REGION`) names the activity's region, and `--profile` picks a profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_acts_in_the_region_it_is_given() {
    let setup = setup(Some(CREDENTIALS), "ap-south-1").await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("credentials"),
        "[other]\naws_access_key_id = AKIDWORKER\naws_secret_access_key = s3cret\n",
    )
    .unwrap();
    // In us-east-1 (AWS_REGION) the activity does not exist.
    let wrong_region = worker(
        &setup,
        home.path(),
        &["--profile", "other"],
        &[("AWS_REGION", "us-east-1".to_string())],
        &["cat"],
    );
    refused(wrong_region, "no activity named jobs").await;
    let right_region = worker(
        &setup,
        home.path(),
        &["--profile", "other", "--region", "ap-south-1"],
        &[("AWS_REGION", "us-east-1".to_string())],
        &["cat"],
    );
    let (output, logs) = finish(right_region).await;
    assert!(output.status.success(), "{logs:?}");
    assert_eq!(ended(setup).await.status, ExecutionStatus::Succeeded);
}

/// A wrong secret, and unsigned requests, are refused by a server with `--credentials` with
/// AWS's errors; without any credentials the worker refuses to start, as the AWS CLI does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_without_valid_credentials_is_refused() {
    let setup = setup(Some(CREDENTIALS), "eu-west-1").await;
    let home = tempfile::tempdir().unwrap();
    let wrong = worker(
        &setup,
        home.path(),
        &[],
        &key_env("eu-west-1", "wrong"),
        &["cat"],
    );
    refused(wrong, "InvalidSignatureException").await;
    let unsigned = worker(&setup, home.path(), &["--no-sign-request"], &[], &["cat"]);
    refused(unsigned, "MissingAuthenticationTokenException").await;
    let nothing = worker(
        &setup,
        home.path(),
        &["--region", "eu-west-1"],
        &[],
        &["cat"],
    );
    refused(nothing, "Unable to locate credentials").await;
    assert_eq!(
        setup
            .client
            .describe_execution()
            .execution_arn(&setup.execution)
            .send()
            .await
            .unwrap()
            .status,
        ExecutionStatus::Running,
        "no worker reached its task"
    );
    setup.server.shutdown().await;
}
