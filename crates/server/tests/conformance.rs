//! The AWS-recorded corpus through the API: every case the in-process runner runs
//! (`steppe_conformance::localstack`) runs on the server too, a Standard machine with
//! StartExecution or an Express one with StartSyncExecution, and is judged as the in-process
//! runner judges it: against AWS's recording, placeholders and all (`localstack::judge`).
//! A case must fail exactly when `tests/known-failures.txt` lists it, so the API passes the
//! same cases as the in-process runner.
//!
//! Where the engine's answer depends neither on the execution's seed nor on its start time,
//! the server's answer must also equal the in-process one exactly (status, output, error,
//! cause and, for Standard, the history without timestamps), which checks what the
//! recording leaves out.
//!
//! The server runs on a clock that runs fast, so Waits and retry back-offs of seconds
//! pass in milliseconds of real time.

mod common;

use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType};
use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use steppe_conformance::known_failures::{self, CaseResult};
use steppe_conformance::localstack::{self, Answer, Case};
use steppe_runtime::{Clock, ScaledClock, SystemClock};

/// How much faster than real time the server's clock runs: the corpus's longest run, a
/// Map retried after 1, 2 and 4 seconds, takes 350 ms. A faster clock gains little (the
/// runner is busy with the other cases meanwhile) and turns more of the server's own
/// processing time into seconds on the executions' clock.
const CLOCK_FACTOR: u32 = 20;

/// How long (on the server's clock) an execution may stay RUNNING before the runner gives
/// up on it; the corpus's executions last seconds.
const RUNNING_MILLIS_MAX: i64 = 3_600_000;

/// How far the probe for time-dependent answers moves the start time.
const START_SHIFT_MILLIS: i64 = 86_400_000 + 1;

/// The events GetExecutionHistory returns per page.
const HISTORY_PAGE_EVENTS: usize = 1000;

/// How many cases run at once.
const CASES_IN_FLIGHT_MAX: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_gives_the_same_answers_through_the_api_as_in_process() {
    let dir = steppe_conformance::shared_dir()
        .join("conformance")
        .join("localstack")
        .join("executions");
    if !dir.is_dir() {
        known_failures::report(&[format!(
            "skipped: shared corpus not found at {}",
            dir.display()
        )]);
        return;
    }
    let cases = localstack::load_cases(&dir).unwrap_or_else(|error| panic!("{error}"));
    let clock = Arc::new(ScaledClock::new(SystemClock.now_millis(), CLOCK_FACTOR));
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        clock: clock.clone(),
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts");
    let address = server.local_addr();
    let limit = Arc::new(tokio::sync::Semaphore::new(CASES_IN_FLIGHT_MAX));
    let mut runs = Vec::new();
    for (case_idx, case) in cases.into_iter().enumerate() {
        let permit = limit.clone().acquire_owned().await.unwrap();
        let clock = clock.clone();
        let (id, feature) = (case.id(), case.feature.clone());
        let run = tokio::spawn(async move {
            let checked = check(address, &*clock, case_idx, &case).await;
            drop(permit);
            checked
        });
        runs.push((id, feature, run));
    }
    let mut results = Vec::new();
    let mut n_compared = 0;
    for (id, feature, run) in runs {
        let checked = run
            .await
            .unwrap_or_else(|error| Err(format!("panicked: {error}")));
        n_compared += usize::from(checked.as_ref().is_ok_and(|compared| *compared));
        results.push(CaseResult {
            id,
            feature,
            failure: checked.err(),
            default_reason: String::new(),
        });
    }
    server.shutdown().await;
    known_failures::report(&[format!(
        "localstack through the API: {n_compared} cases also gave exactly the in-process \
         answer (the others depend on the execution's seed or start time, or failed)"
    )]);
    known_failures::confirm("localstack", "through the API", &results);
}

/// Runs one case through the API and judges it; `Ok(true)` when it was also compared with
/// the in-process answer.
async fn check(
    address: SocketAddr,
    clock: &(dyn Clock + Send + Sync),
    case_idx: usize,
    case: &Case,
) -> Result<bool, String> {
    let (info, answer) = run_through_api(address, clock, case_idx, case).await?;
    localstack::judge(case, &answer)?;
    let Some(mut expected) = in_process_when_deterministic(case, info) else {
        return Ok(false);
    };
    if answer.history.is_none() {
        expected.history = None;
    }
    match differences(&without_timestamps(expected), &without_timestamps(answer)) {
        None => Ok(true),
        Some(difference) => Err(format!("differs from the in-process answer: {difference}")),
    }
}

/// The execution's facts (as the API reports them) and its answer.
async fn run_through_api(
    address: SocketAddr,
    clock: &(dyn Clock + Send + Sync),
    case_idx: usize,
    case: &Case,
) -> Result<(steppe_engine::ExecutionInfo, Answer), String> {
    let client = client(address);
    let machine_name = format!("case-{case_idx}");
    let machine_arn = client
        .create_state_machine()
        .name(&machine_name)
        .definition(&case.definition_text)
        .role_arn(ROLE)
        .r#type(if case.express {
            StateMachineType::Express
        } else {
            StateMachineType::Standard
        })
        .send()
        .await
        .map_err(|error| format!("CreateStateMachine: {error:?}"))?
        .state_machine_arn;
    // Without a name of the case's, the server draws a UUID, as AWS did.
    let mut info = steppe_runtime::local_execution_info(&machine_name, "", 0);
    info.role_arn = ROLE.to_string();
    let answer = if case.express {
        let result = client
            .start_sync_execution()
            .state_machine_arn(&machine_arn)
            .set_name(case.execution_name.clone())
            .input(&case.input)
            .send()
            .await
            .map_err(|error| format!("StartSyncExecution: {error:?}"))?;
        info.execution_arn = result.execution_arn.clone();
        info.name = result.name.unwrap_or_default();
        info.start_time_millis = millis(&result.start_date);
        Answer {
            status: result.status.as_str().to_string(),
            output: parse_output(result.output.as_deref())?,
            error: result.error,
            cause: result.cause,
            history: None,
        }
    } else {
        let started = client
            .start_execution()
            .state_machine_arn(&machine_arn)
            .set_name(case.execution_name.clone())
            .input(&case.input)
            .send()
            .await
            .map_err(|error| format!("StartExecution: {error:?}"))?;
        info.execution_arn = started.execution_arn.clone();
        info.start_time_millis = millis(&started.start_date);
        let described = loop {
            let described = client
                .describe_execution()
                .execution_arn(&started.execution_arn)
                .send()
                .await
                .map_err(|error| format!("DescribeExecution: {error:?}"))?;
            if described.status != ExecutionStatus::Running {
                break described;
            }
            if clock.now_millis() - info.start_time_millis > RUNNING_MILLIS_MAX {
                return Err(format!(
                    "still RUNNING {RUNNING_MILLIS_MAX} ms after it started"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        info.name = described.name.unwrap_or_default();
        Answer {
            status: described.status.as_str().to_string(),
            output: parse_output(described.output.as_deref())?,
            error: described.error,
            cause: described.cause,
            history: Some(history(address, &started.execution_arn).await?),
        }
    };
    Ok((info, answer))
}

fn parse_output(output: Option<&str>) -> Result<Option<Value>, String> {
    output
        .map(|text| serde_json::from_str(text).map_err(|error| format!("output {text}: {error}")))
        .transpose()
}

fn millis(date: &aws_sdk_sfn::primitives::DateTime) -> i64 {
    (date.as_secs_f64() * 1000.0).round() as i64
}

/// Every event of the execution, through as many GetExecutionHistory pages as it takes.
async fn history(address: SocketAddr, execution_arn: &str) -> Result<Vec<Value>, String> {
    let mut events = Vec::new();
    let mut next_token: Option<Value> = None;
    loop {
        let mut request = json!({"executionArn": execution_arn, "maxResults": HISTORY_PAGE_EVENTS});
        if let Some(token) = next_token.take() {
            request["nextToken"] = token;
        }
        let (status, body) = raw(
            address,
            Some("AWSStepFunctions.GetExecutionHistory"),
            request.to_string().as_bytes(),
        )
        .await;
        if status != 200 {
            return Err(format!("GetExecutionHistory: HTTP {status} {body}"));
        }
        events.extend(body["events"].as_array().into_iter().flatten().cloned());
        match body.get("nextToken") {
            Some(token) => next_token = Some(token.clone()),
            None => return Ok(events),
        }
    }
}

/// The in-process answer for the execution `info` describes, when the engine's answer is
/// the same with another seed and another start time (so that the server, which chose both,
/// must give it too).
fn in_process_when_deterministic(
    case: &Case,
    info: steppe_engine::ExecutionInfo,
) -> Option<Answer> {
    let mut shifted = info.clone();
    shifted.start_time_millis += START_SHIFT_MILLIS;
    let answer = localstack::answer(case, info, 1).ok()?;
    let other = localstack::answer(case, shifted, 2).ok()?;
    (without_timestamps(answer.clone()) == without_timestamps(other)).then_some(answer)
}

fn without_timestamps(mut answer: Answer) -> Answer {
    for event in answer.history.iter_mut().flatten() {
        if let Some(map) = event.as_object_mut() {
            map.remove("timestamp");
        }
    }
    answer
}

/// The first difference between `expected` and `actual`.
fn differences(expected: &Answer, actual: &Answer) -> Option<String> {
    if (&expected.status, &expected.error, &expected.cause)
        != (&actual.status, &actual.error, &actual.cause)
    {
        return Some(format!(
            "expected {} {:?}/{:?}, got {} {:?}/{:?}",
            expected.status,
            expected.error,
            expected.cause,
            actual.status,
            actual.error,
            actual.cause
        ));
    }
    if expected.output != actual.output {
        return Some(format!(
            "expected output {:?}, got {:?}",
            expected.output, actual.output
        ));
    }
    let (expected_events, actual_events) = (
        expected.history.as_deref().unwrap_or_default(),
        actual.history.as_deref().unwrap_or_default(),
    );
    if let Some((expected_event, actual_event)) = expected_events
        .iter()
        .zip(actual_events)
        .find(|(expected_event, actual_event)| expected_event != actual_event)
    {
        return Some(format!(
            "expected event {expected_event}, got {actual_event}"
        ));
    }
    (expected_events.len() != actual_events.len()).then(|| {
        format!(
            "expected {} events, got {}",
            expected_events.len(),
            actual_events.len()
        )
    })
}
