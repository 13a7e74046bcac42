//! Activities, task tokens and integrations through aws-sdk-sfn: workers poll, answer, time
//! out; callbacks wait for their token; pending tasks survive a restart.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;
use common::{
    client, console_get, create, create_activity, event_types, history, memory_server, start,
    wait_for_end,
};
use serde_json::{json, Value};
use std::time::Duration;

fn code<E: ProvideErrorMetadata>(error: &E) -> String {
    error.code().unwrap_or_default().to_string()
}

fn activity_machine(activity_arn: &str, extra: &str) -> String {
    format!(
        r#"{{"StartAt": "Work", "States": {{
            "Work": {{"Type": "Task", "Resource": "{activity_arn}", {extra} "End": true}}
        }}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_task_goes_to_a_worker_and_its_result_continues_the_execution() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let created = client.create_activity().name("work").send().await.unwrap();
    let again = client.create_activity().name("work").send().await.unwrap();
    assert_eq!(created.activity_arn, again.activity_arn);
    let activity_arn = created.activity_arn;
    let described = client
        .describe_activity()
        .activity_arn(&activity_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.name, "work");
    client.create_activity().name("other").send().await.unwrap();
    let page = client
        .list_activities()
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.activities.len(), 1);
    assert_eq!(page.activities[0].name, "other");
    let rest = client
        .list_activities()
        .next_token(page.next_token.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.activities[0].name, "work");
    assert!(rest.next_token.is_none());

    let machine = create(
        &client,
        "activity",
        &activity_machine(
            &activity_arn,
            r#""TimeoutSeconds": 30, "HeartbeatSeconds": 10,"#,
        ),
    )
    .await;
    let execution = start(&client, &machine, r#"{"n": 1}"#).await;
    let task = client
        .get_activity_task()
        .activity_arn(&activity_arn)
        .worker_name("w1")
        .send()
        .await
        .unwrap();
    let token = task.task_token.expect("a task");
    assert_eq!(task.input.as_deref(), Some(r#"{"n":1}"#));
    client
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap();
    let invalid = client
        .send_task_success()
        .task_token(&token)
        .output("not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&invalid), "InvalidOutput");
    client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"done": true}"#)
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    assert_eq!(ended.output.as_deref(), Some(r#"{"done":true}"#));
    assert_eq!(
        event_types(&history(&client, &execution).await),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let events = history(&client, &execution).await;
    let started = events
        .iter()
        .find_map(|event| event.activity_started_event_details.as_ref())
        .expect("ActivityStarted has details");
    assert_eq!(started.worker_name.as_deref(), Some("w1"));
    // A token used twice, and one never issued.
    let reused = client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&reused), "TaskTimedOut");
    let forged = client
        .send_task_failure()
        .task_token("forged")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&forged), "InvalidToken");
    let heartbeat = client
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&heartbeat), "TaskTimedOut");
    client
        .delete_activity()
        .activity_arn(&activity_arn)
        .send()
        .await
        .unwrap();
    let gone = client
        .describe_activity()
        .activity_arn(&activity_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&gone), "ActivityDoesNotExist");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_vanishes_ends_in_a_heartbeat_timeout() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let activity_arn = create_activity(&client, "slow").await;
    let machine = create(
        &client,
        "vanishing",
        &activity_machine(&activity_arn, r#""HeartbeatSeconds": 1,"#),
    )
    .await;
    let execution = start(&client, &machine, "{}").await;
    let token = client
        .get_activity_task()
        .activity_arn(&activity_arn)
        .send()
        .await
        .unwrap()
        .task_token
        .unwrap();
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("States.HeartbeatTimeout"));
    let types = event_types(&history(&client, &execution).await);
    assert!(types.contains(&"ActivityTimedOut".to_string()), "{types:?}");
    let late = client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&late), "TaskTimedOut");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_task_failure_is_caught_by_catch() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let activity_arn = create_activity(&client, "fails").await;
    let definition = format!(
        r#"{{"StartAt": "Work", "States": {{
            "Work": {{"Type": "Task", "Resource": "{activity_arn}",
                      "Catch": [{{"ErrorEquals": ["Rejected"], "ResultPath": "$.error", "Next": "Handled"}}],
                      "End": true}},
            "Handled": {{"Type": "Pass", "End": true}}
        }}}}"#
    );
    let machine = create(&client, "catching", &definition).await;
    let execution = start(&client, &machine, "{}").await;
    let token = client
        .get_activity_task()
        .activity_arn(&activity_arn)
        .send()
        .await
        .unwrap()
        .task_token
        .unwrap();
    client
        .send_task_failure()
        .task_token(&token)
        .error("Rejected")
        .cause("no stock")
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(ended.output.as_deref().unwrap()).unwrap();
    assert_eq!(
        output,
        json!({"error": {"Error": "Rejected", "Cause": "no stock"}})
    );
    assert!(
        event_types(&history(&client, &execution).await).contains(&"ActivityFailed".to_string())
    );
    server.shutdown().await;
}

/// GETs a console path and returns the JSON body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_waits_for_its_token_and_the_console_lists_it() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let definition = r#"{"StartAt": "Approve", "States": {
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                    "End": true}
    }}"#;
    let machine = create(&client, "callback", definition).await;
    let execution = start(&client, &machine, "{}").await;
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = console_get(
            server.local_addr(),
            &format!(
                "/console/api/tasks?executionArn={}",
                execution.replace(':', "%3A")
            ),
        )
        .await;
        if !listed["tasks"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let task = &listed["tasks"][0];
    assert_eq!(task["executionArn"], json!(execution));
    assert_eq!(task["stateName"], json!("Approve"));
    let token = task["taskToken"].as_str().unwrap().to_string();
    let input: Value = serde_json::from_str(task["input"].as_str().unwrap()).unwrap();
    assert_eq!(input["MessageBody"]["token"], json!(token));
    client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"approved": true}"#)
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    assert_eq!(ended.output.as_deref(), Some(r#"{"approved":true}"#));
    let listed = console_get(server.local_addr(), "/console/api/tasks").await;
    assert_eq!(listed, json!({"tasks": []}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_activity_task_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Sqlite {
            data_dir: dir.path().to_path_buf(),
            fsync: false,
        },
        ..steppe_server::Options::default()
    };
    let server = steppe_server::start(options.clone()).await.unwrap();
    let first = client(server.local_addr());
    let activity_arn = create_activity(&first, "durable").await;
    let machine = create(&first, "durable", &activity_machine(&activity_arn, "")).await;
    let queued = start(&first, &machine, r#"{"which": "queued"}"#).await;
    let taken = start(&first, &machine, r#"{"which": "taken"}"#).await;
    // Take one task before the restart; the other stays queued.
    let token = first
        .get_activity_task()
        .activity_arn(&activity_arn)
        .send()
        .await
        .unwrap()
        .task_token
        .unwrap();
    server.shutdown().await;

    let server = steppe_server::start(options.clone()).await.unwrap();
    let client = client(server.local_addr());
    let task = client
        .get_activity_task()
        .activity_arn(&activity_arn)
        .send()
        .await
        .unwrap();
    let second = task.task_token.unwrap();
    // The task taken before the restart is not handed out again; its token still works.
    let (first_execution, second_execution) =
        if task.input.as_deref() == Some(r#"{"which":"queued"}"#) {
            (taken, queued)
        } else {
            (queued, taken)
        };
    for (token, execution) in [(token, first_execution), (second.clone(), second_execution)] {
        client
            .send_task_success()
            .task_token(&token)
            .output(r#""ok""#)
            .send()
            .await
            .unwrap();
        let ended = wait_for_end(&client, &execution).await;
        assert_eq!(ended.status, ExecutionStatus::Succeeded);
        assert_eq!(ended.output.as_deref(), Some(r#""ok""#));
    }
    // After another restart, a late answer to a task that closed before it is
    // `TaskTimedOut`, as AWS answers it, not `InvalidToken`.
    server.shutdown().await;
    let server = steppe_server::start(options).await.unwrap();
    let client = self::client(server.local_addr());
    let late = client
        .send_task_success()
        .task_token(&second)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert!(
        late.as_service_error()
            .is_some_and(|error| error.is_task_timed_out()),
        "{late:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_tasks_run_local_commands() {
    let dir = tempfile::tempdir().unwrap();
    let functions = dir.path().join("functions.json");
    std::fs::write(
        &functions,
        r#"{"functions": {"echo": {"command": ["sh", "-c", "cat"]}}}"#,
    )
    .unwrap();
    let server = common::functions_server(functions).await;
    let client = client(server.local_addr());
    let definition = r#"{"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "echo", "Payload.$": "$"},
                 "OutputPath": "$.Payload", "End": true}
    }}"#;
    let machine = create(&client, "lambda", definition).await;
    let execution = start(&client, &machine, r#"{"x": 1}"#).await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    assert_eq!(ended.output.as_deref(), Some(r#"{"x":1}"#));
    server.shutdown().await;
}

/// Issue 17, item 6: the server keeps the tail of what a Lambda command writes to stderr,
/// for the console, by the task's state and invocation; another execution sees none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_commands_stderr_tail_is_kept_for_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let functions = dir.path().join("functions.json");
    std::fs::write(
        &functions,
        r#"{"functions": {
            "noisy": {"command": ["sh", "-c", "echo \"working on $(cat)\" >&2; echo 'giving up' >&2; exit 1"]},
            "quiet": {"command": ["sh", "-c", "cat"]}}}"#,
    )
    .unwrap();
    let server = common::functions_server(functions).await;
    let client = client(server.local_addr());
    let definition = r#"{"StartAt": "Quiet", "States": {
        "Quiet": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": "quiet", "Payload.$": "$"}, "ResultPath": null, "Next": "Noisy"},
        "Noisy": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": "noisy", "Payload.$": "$"},
                  "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1, "BackoffRate": 1}],
                  "End": true}
    }}"#;
    let machine = create(&client, "stderr", definition).await;
    let execution = start(&client, &machine, r#"{"n": 7}"#).await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("Runtime.ExitError"));
    let path = format!(
        "/console/api/stderr?executionArn={}",
        execution.replace(':', "%3A")
    );
    let answer = console_get(server.local_addr(), &path).await;
    let tails = answer["tails"].as_array().expect("tails");
    // Quiet wrote nothing; Noisy ran twice (one retry), its invocations 0 and 1.
    assert_eq!(tails.len(), 2, "{answer}");
    for (invocation, tail) in tails.iter().enumerate() {
        assert_eq!(tail["stateName"], "Noisy");
        assert_eq!(tail["invocation"], invocation);
        assert_eq!(tail["functionName"], "noisy");
        assert_eq!(tail["stderr"], "working on {\"n\":7}\ngiving up\n");
        assert_eq!(tail["truncated"], false);
    }
    assert_eq!(answer["tailBytesMax"], 4096);
    let other = start(&client, &machine, r#"{"n": 8}"#).await;
    wait_for_end(&client, &other).await;
    let path = format!(
        "/console/api/stderr?executionArn={}",
        other.replace(':', "%3A")
    );
    let answer = console_get(server.local_addr(), &path).await;
    assert_eq!(answer["tails"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        answer["tails"][0]["stderr"],
        "working on {\"n\":8}\ngiving up\n"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_of_a_missing_or_deleted_activity_fails_the_execution_with_states_runtime() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    // States.Runtime is not caught by States.ALL.
    let caught = |activity_arn: &str| {
        format!(
            r#"{{"StartAt": "Work", "States": {{
            "Work": {{"Type": "Task", "Resource": "{activity_arn}", "End": true,
                      "Catch": [{{"ErrorEquals": ["States.ALL"], "Next": "Caught"}}]}},
            "Caught": {{"Type": "Succeed"}}}}}}"#
        )
    };
    let never_created = format!("{}:activity:never-created", common::PREFIX);
    let machine = create(&client, "missing", &caught(&never_created)).await;
    let ended = wait_for_end(&client, &start(&client, &machine, "{}").await).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("States.Runtime"));
    assert!(ended.cause.unwrap().contains(&never_created));

    let activity_arn = create_activity(&client, "doomed").await;
    let machine = create(&client, "doomed", &caught(&activity_arn)).await;
    let queued = start(&client, &machine, "{}").await;
    for _ in 0..100 {
        if event_types(&history(&client, &queued).await).contains(&"ActivityScheduled".to_string())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    client
        .delete_activity()
        .activity_arn(&activity_arn)
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &queued).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("States.Runtime"));
    server.shutdown().await;
}

/// AWS's quota on open GetActivityTask calls per activity ARN ("Maximum activity pollers per
/// Amazon Resource Name (ARN)").
const POLLS_PER_ACTIVITY_MAX: usize = 1_000;

/// How a GetActivityTask call ended: the task token (none after the long poll's 60 s), or
/// the error's code and message.
type PollEnd = Result<Option<String>, (String, String)>;

/// Starts a GetActivityTask call that reports on `ended` how it ended.
fn spawn_poll(
    client: &aws_sdk_sfn::Client,
    activity_arn: &str,
    ended: &tokio::sync::mpsc::UnboundedSender<PollEnd>,
) -> tokio::task::JoinHandle<()> {
    let call = client.get_activity_task().activity_arn(activity_arn).send();
    let ended = ended.clone();
    tokio::spawn(async move {
        let end = match call.await {
            Ok(task) => Ok(task.task_token),
            Err(error) => Err((code(&error), error.message().unwrap_or_default().into())),
        };
        let _ = ended.send(end);
    })
}

/// The next poll to end, which must be refused for the limit.
async fn expect_refused(ended: &mut tokio::sync::mpsc::UnboundedReceiver<PollEnd>) {
    let end = tokio::time::timeout(Duration::from_secs(20), ended.recv())
        .await
        .expect("a poll is refused")
        .unwrap();
    let (code, message) = end.expect_err("a poll is refused");
    assert_eq!(code, "ActivityWorkerLimitExceeded");
    assert_eq!(
        message,
        "The maximum number of workers concurrently polling for activity tasks has been reached."
    );
}

/// No other poll ends for a while.
async fn expect_none_ends(ended: &mut tokio::sync::mpsc::UnboundedReceiver<PollEnd>) {
    let end = tokio::time::timeout(Duration::from_millis(500), ended.recv()).await;
    assert!(end.is_err(), "no other poll ends: {end:?}");
}

/// The tests that hold a thousand polls open run one at a time: two thousand connections at
/// once, beside the other tests, starved a loaded machine (a poll failed without an answer).
static THOUSAND_POLLS: std::sync::LazyLock<tokio::sync::Mutex<()>> =
    std::sync::LazyLock::new(|| tokio::sync::Mutex::new(()));

/// Fills an activity with [`POLLS_PER_ACTIVITY_MAX`] open polls, with the real number of
/// concurrent calls: one more than the limit, all at once, and exactly one is refused.
async fn fill(
    client: &aws_sdk_sfn::Client,
    activity_arn: &str,
    ended: &tokio::sync::mpsc::UnboundedSender<PollEnd>,
    ended_rx: &mut tokio::sync::mpsc::UnboundedReceiver<PollEnd>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let polls = (0..=POLLS_PER_ACTIVITY_MAX)
        .map(|_| spawn_poll(client, activity_arn, ended))
        .collect();
    expect_refused(ended_rx).await;
    expect_none_ends(ended_rx).await;
    polls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_takes_at_most_1000_open_polls_and_a_slot_frees_when_one_ends() {
    let _alone = THOUSAND_POLLS.lock().await;
    let server = memory_server().await;
    let client = client(server.local_addr());
    let activity_arn = create_activity(&client, "crowded").await;
    let (ended, mut ended_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut polls = fill(&client, &activity_arn, &ended, &mut ended_rx).await;
    // The limit is per activity.
    let other = create_activity(&client, "quiet").await;
    polls.push(spawn_poll(&client, &other, &ended));
    expect_none_ends(&mut ended_rx).await;

    // A poll that ends with a task frees its slot: of two more, one is admitted.
    let machine = create(&client, "crowded", &activity_machine(&activity_arn, "")).await;
    let execution = start(&client, &machine, r#"{"n": 1}"#).await;
    let token = ended_rx
        .recv()
        .await
        .unwrap()
        .unwrap()
        .expect("a poll got the task");
    polls.push(spawn_poll(&client, &activity_arn, &ended));
    polls.push(spawn_poll(&client, &activity_arn, &ended));
    expect_refused(&mut ended_rx).await;
    expect_none_ends(&mut ended_rx).await;

    client
        .send_task_success()
        .task_token(token)
        .output("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        wait_for_end(&client, &execution).await.status,
        ExecutionStatus::Succeeded
    );
    for poll in &polls {
        poll.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_whose_client_goes_away_frees_its_slot() {
    let _alone = THOUSAND_POLLS.lock().await;
    let server = memory_server().await;
    let client = client(server.local_addr());
    let activity_arn = create_activity(&client, "crowded").await;
    let (ended, mut ended_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut polls = fill(&client, &activity_arn, &ended, &mut ended_rx).await;
    // Dropping a waiting call closes its connection; the server drops the request.
    let waiting = polls
        .iter()
        .position(|poll| !poll.is_finished())
        .expect("a waiting poll");
    polls.swap_remove(waiting).abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    polls.push(spawn_poll(&client, &activity_arn, &ended));
    polls.push(spawn_poll(&client, &activity_arn, &ended));
    expect_refused(&mut ended_rx).await;
    expect_none_ends(&mut ended_rx).await;
    for poll in &polls {
        poll.abort();
    }
}
