//! The AWS-recorded corpus through the API: every case runs on the server (a Standard
//! machine with StartExecution, or an Express one with StartSyncExecution) and must give
//! exactly what the engine gives in-process (status, output, error, cause and, for Standard,
//! the history without timestamps), so the API passes the same cases as the in-process
//! runner. Cases that wait more than a few seconds, or draw random numbers, are left out.

mod common;

use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType};
use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use steppe_conformance::localstack::{self, Case};

/// The longest (virtual) run a case may take to be run through the API in real time.
const DURATION_MILLIS_MAX: i64 = 1500;

struct Outcome {
    status: String,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    history: Vec<Value>,
}

/// Runs a case in-process with the given execution facts.
fn in_process(case: &Case, info: steppe_engine::ExecutionInfo) -> Outcome {
    let definition = steppe_asl::compile(&case.definition_text).unwrap();
    let input: Value = serde_json::from_str(&case.input).unwrap();
    let config = if case.express {
        steppe_engine::Config::express()
    } else {
        steppe_engine::Config::standard()
    };
    let start = info.start_time_millis;
    let mut execution = steppe_engine::Execution::new(info, input, config, 1);
    let mut observer = steppe_runtime::Observer {
        keep: true,
        ..steppe_runtime::Observer::default()
    };
    let _ = steppe_runtime::run_to_end(
        &definition,
        &mut execution,
        &steppe_runtime::FastClock::new(start),
        &mut steppe_runtime::NoTasks,
        &mut observer,
    );
    let error = execution.error.clone().unwrap_or_default();
    Outcome {
        status: execution.status.as_str().to_string(),
        output: execution.output.clone(),
        error: error.error,
        cause: error.cause,
        history: observer
            .history
            .iter()
            .map(|event| without_timestamp(event.to_json()))
            .collect(),
    }
}

fn without_timestamp(mut event: Value) -> Value {
    if let Some(map) = event.as_object_mut() {
        map.remove("timestamp");
    }
    event
}

/// Whether the case can run through the API in real time with a comparable answer.
fn eligible(case: &Case) -> bool {
    let text = &case.definition_text;
    // Random draws (UUIDs, jitter, Map Run ids) come from the execution's seed, which the API
    // does not reveal; times differ between real and virtual clocks.
    if [
        "States.UUID",
        "MathRandom",
        "Jitter",
        "$random",
        "$now",
        "$millis",
        "EnteredTime",
        "StartTime",
        "DISTRIBUTED",
    ]
    .iter()
    .any(|word| text.contains(word))
    {
        return false;
    }
    if steppe_asl::compile(text).is_err() || serde_json::from_str::<Value>(&case.input).is_err() {
        return false;
    }
    let probe = steppe_runtime::local_execution_info("probe", "probe", 0);
    let mut execution = steppe_engine::Execution::new(
        probe,
        serde_json::from_str(&case.input).unwrap(),
        if case.express {
            steppe_engine::Config::express()
        } else {
            steppe_engine::Config::standard()
        },
        1,
    );
    let definition = steppe_asl::compile(text).unwrap();
    let finished = steppe_runtime::run_to_end(
        &definition,
        &mut execution,
        &steppe_runtime::FastClock::new(0),
        &mut steppe_runtime::NoTasks,
        &mut steppe_runtime::Observer::default(),
    );
    finished.is_ok() && execution.stop_time_millis.unwrap_or(i64::MAX) <= DURATION_MILLIS_MAX
}

async fn history(address: SocketAddr, execution_arn: &str) -> Vec<Value> {
    let request = json!({"executionArn": execution_arn, "maxResults": 1000});
    let (status, body) = raw(
        address,
        Some("AWSStepFunctions.GetExecutionHistory"),
        request.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.get("nextToken").is_none());
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(without_timestamp)
        .collect()
}

fn millis(date: &aws_sdk_sfn::primitives::DateTime) -> i64 {
    (date.as_secs_f64() * 1000.0).round() as i64
}

/// Runs one case through the API and compares it with the in-process run.
async fn check(address: SocketAddr, index: usize, case: Case) -> Result<(), String> {
    let client = client(address);
    let name = format!("case-{index}");
    let machine_arn = client
        .create_state_machine()
        .name(&name)
        .definition(&case.definition_text)
        .role_arn(ROLE)
        .r#type(if case.express {
            StateMachineType::Express
        } else {
            StateMachineType::Standard
        })
        .send()
        .await
        .map_err(|e| format!("create: {e:?}"))?
        .state_machine_arn;
    let execution_name = case
        .execution_name
        .clone()
        .unwrap_or_else(|| format!("run-{index}"));
    let mut info = steppe_runtime::local_execution_info(&name, &execution_name, 0);
    info.role_arn = ROLE.to_string();
    let got = if case.express {
        let result = client
            .start_sync_execution()
            .state_machine_arn(&machine_arn)
            .name(&execution_name)
            .input(&case.input)
            .send()
            .await
            .map_err(|e| format!("start: {e:?}"))?;
        info.execution_arn = result.execution_arn.clone();
        info.start_time_millis = millis(&result.start_date);
        Outcome {
            status: result.status.as_str().to_string(),
            output: result
                .output
                .as_deref()
                .map(|o| serde_json::from_str(o).unwrap()),
            error: result.error,
            cause: result.cause,
            history: Vec::new(),
        }
    } else {
        let started = client
            .start_execution()
            .state_machine_arn(&machine_arn)
            .name(&execution_name)
            .input(&case.input)
            .send()
            .await
            .map_err(|e| format!("start: {e:?}"))?;
        info.execution_arn = started.execution_arn.clone();
        info.start_time_millis = millis(&started.start_date);
        let described = loop {
            let described = client
                .describe_execution()
                .execution_arn(&started.execution_arn)
                .send()
                .await
                .map_err(|e| format!("describe: {e:?}"))?;
            if described.status != ExecutionStatus::Running {
                break described;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Outcome {
            status: described.status.as_str().to_string(),
            output: described
                .output
                .as_deref()
                .map(|o| serde_json::from_str(o).unwrap()),
            error: described.error,
            cause: described.cause,
            history: history(address, &started.execution_arn).await,
        }
    };
    let want = in_process(&case, info);
    let mut problems = Vec::new();
    if got.status != want.status {
        problems.push(format!("status {} vs {}", got.status, want.status));
    }
    if got.output != want.output {
        problems.push(format!("output {:?} vs {:?}", got.output, want.output));
    }
    if (&got.error, &got.cause) != (&want.error, &want.cause) {
        problems.push(format!(
            "error {:?}/{:?} vs {:?}/{:?}",
            got.error, got.cause, want.error, want.cause
        ));
    }
    if !case.express && got.history != want.history {
        let first = got
            .history
            .iter()
            .zip(&want.history)
            .find(|(g, w)| g != w)
            .map(|(g, w)| format!("{g} vs {w}"))
            .unwrap_or_else(|| format!("{} vs {} events", got.history.len(), want.history.len()));
        problems.push(format!("history: {first}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_gives_the_same_answers_through_the_api_as_in_process() {
    let dir = steppe_conformance::shared_dir()
        .join("conformance")
        .join("localstack")
        .join("executions");
    if !dir.is_dir() {
        eprintln!("skipped: shared corpus not found at {}", dir.display());
        return;
    }
    let cases: Vec<Case> = localstack::load_cases(&dir)
        .unwrap()
        .into_iter()
        .filter(eligible)
        .collect();
    assert!(cases.len() > 500, "only {} cases are eligible", cases.len());
    let server = memory_server().await;
    let address = server.local_addr();
    let limit = Arc::new(tokio::sync::Semaphore::new(32));
    let mut runs = Vec::new();
    for (index, case) in cases.into_iter().enumerate() {
        let permit = limit.clone().acquire_owned().await.unwrap();
        let id = case.id();
        runs.push((
            id,
            tokio::spawn(async move {
                let result = check(address, index, case).await;
                drop(permit);
                result
            }),
        ));
    }
    let total = runs.len();
    let mut failures = Vec::new();
    for (id, run) in runs {
        if let Err(problem) = run.await.unwrap() {
            failures.push(format!("{id}: {problem}"));
        }
    }
    eprintln!(
        "{total} corpus cases through the API; {} differ from in-process",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    server.shutdown().await;
}
