//! `steppe worker`: an activity worker that runs a command for each task.
//!
//! It long-polls `GetActivityTask`, runs the command with the task input on stdin, sends
//! `SendTaskHeartbeat` while the command runs, and answers with `SendTaskSuccess` (stdout as
//! the output JSON; empty stdout is `null`) or `SendTaskFailure` (a non-zero exit is error
//! `Worker.ExitStatus.<code>`, a non-JSON stdout `Worker.InvalidOutput`; the cause is the
//! tail of stderr). It speaks AWS JSON 1.0 to any Step Functions endpoint.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use steppe_tasks::transport::{self, HttpRequest};

/// The most stderr kept as a failure's cause, in bytes (AWS allows 32,768 characters).
const CAUSE_BYTES_MAX: usize = 32_768;

/// A poll's socket timeout: longer than the service's 60-second long poll.
const POLL_TIMEOUT: Duration = Duration::from_secs(70);

/// `steppe worker`'s arguments.
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// The activity: a name (ARN built from --region and --account) or an activity ARN.
    #[arg(long)]
    pub activity: String,
    /// The Step Functions endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8083")]
    pub endpoint: String,
    /// The worker name recorded by the service.
    #[arg(long, default_value = "steppe-worker")]
    pub worker_name: String,
    /// Seconds between heartbeats while the command runs.
    #[arg(long, default_value_t = 10)]
    pub heartbeat_seconds: u64,
    /// Stop after this many tasks (default: run until killed).
    #[arg(long)]
    pub max_tasks: Option<u64>,
    /// The region of the activity ARN built from a name.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The account of the activity ARN built from a name.
    #[arg(long, default_value = "123456789012")]
    pub account: String,
    /// The command to run for each task, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
    #[command(flatten)]
    pub log: crate::logging::LogArgs,
}

/// Polls and runs tasks until `--max-tasks` are done (or forever).
pub fn run(args: &WorkerArgs) -> Result<ExitCode> {
    let activity_arn = if args.activity.starts_with("arn:") {
        args.activity.clone()
    } else {
        format!(
            "arn:aws:states:{}:{}:activity:{}",
            args.region, args.account, args.activity
        )
    };
    tracing::info!(
        activity_arn = %activity_arn,
        endpoint = %args.endpoint,
        "polling for tasks"
    );
    let mut done = 0;
    while args.max_tasks.is_none_or(|max| done < max) {
        let task = call(
            &args.endpoint,
            "GetActivityTask",
            &json!({"activityArn": activity_arn, "workerName": args.worker_name}),
            POLL_TIMEOUT,
        )?;
        let Some(token) = task["taskToken"].as_str().filter(|t| !t.is_empty()) else {
            continue;
        };
        let input = task["input"].as_str().unwrap_or("{}");
        let started = Instant::now();
        let answer = run_task(args, token, input)?;
        let millis = started.elapsed().as_micros() as f64 / 1000.0;
        let error = match &answer {
            Answer::Success(_) => None,
            Answer::Failure { error, .. } => Some(error.clone()),
        };
        let (operation, body) = match answer {
            Answer::Success(output) => (
                "SendTaskSuccess",
                json!({"taskToken": token, "output": output.to_string()}),
            ),
            Answer::Failure { error, cause } => (
                "SendTaskFailure",
                json!({"taskToken": token, "error": error, "cause": cause}),
            ),
        };
        let reported = call(&args.endpoint, operation, &body, Duration::from_secs(30));
        match reported {
            Ok(_) => tracing::info!(
                result = operation,
                error = error.as_deref(),
                ms = millis,
                "task worked"
            ),
            // The task may have timed out meanwhile: report and go on.
            Err(report_error) => tracing::warn!(
                result = operation,
                error = error.as_deref(),
                ms = millis,
                report_error = %format_args!("{report_error:#}"),
                "task worked, but its result was refused"
            ),
        }
        done += 1;
    }
    Ok(ExitCode::SUCCESS)
}

/// How a task ended.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// `SendTaskSuccess` with this output.
    Success(Value),
    /// `SendTaskFailure`.
    Failure {
        /// The error name.
        error: String,
        /// The cause.
        cause: String,
    },
}

/// What a finished command means: exit status, stdout and stderr to an answer.
pub fn answer(exit_code: Option<i32>, stdout: &[u8], stderr: &[u8]) -> Answer {
    let cause = stderr_tail(stderr);
    match exit_code {
        Some(0) => {
            let text = String::from_utf8_lossy(stdout);
            if text.trim().is_empty() {
                return Answer::Success(Value::Null);
            }
            match serde_json::from_str(text.trim()) {
                Ok(output) => Answer::Success(output),
                Err(error) => Answer::Failure {
                    error: "Worker.InvalidOutput".into(),
                    cause: format!("stdout is not JSON: {error}"),
                },
            }
        }
        Some(code) => Answer::Failure {
            error: format!("Worker.ExitStatus.{code}"),
            cause,
        },
        None => Answer::Failure {
            error: "Worker.Killed".into(),
            cause,
        },
    }
}

fn stderr_tail(stderr: &[u8]) -> String {
    let start = stderr.len().saturating_sub(CAUSE_BYTES_MAX);
    let text = String::from_utf8_lossy(&stderr[start..]);
    // Skip a character cut in half at the start.
    text.trim_start_matches('\u{fffd}').trim_end().to_string()
}

fn run_task(args: &WorkerArgs, token: &str, input: &str) -> Result<Answer> {
    let (program, rest) = args.command.split_first().context("no command given")?;
    let mut child = match Command::new(program)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => {
            return Ok(Answer::Failure {
                error: "Worker.CommandFailed".into(),
                cause: format!("cannot run {program}: {error}"),
            })
        }
    };
    let mut stdin = child.stdin.take().context("stdin")?;
    let input = input.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().context("stdout")?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let heartbeat = Duration::from_secs(args.heartbeat_seconds.max(1));
    let mut last_heartbeat = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if last_heartbeat.elapsed() >= heartbeat {
            last_heartbeat = Instant::now();
            if let Err(error) = call(
                &args.endpoint,
                "SendTaskHeartbeat",
                &json!({"taskToken": token}),
                Duration::from_secs(30),
            ) {
                tracing::warn!(error = %format_args!("{error:#}"), "SendTaskHeartbeat failed");
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(answer(status.code(), &stdout, &stderr))
}

/// One AWS JSON 1.0 call; an error answer is an `Err` naming its code and message.
fn call(endpoint: &str, operation: &str, body: &Value, timeout: Duration) -> Result<Value> {
    let request = HttpRequest {
        method: "POST".into(),
        url: format!("{}/", endpoint.trim_end_matches('/')),
        headers: vec![
            (
                "X-Amz-Target".into(),
                format!("AWSStepFunctions.{operation}"),
            ),
            ("Content-Type".into(), "application/x-amz-json-1.0".into()),
        ],
        body: Some(body.to_string().into_bytes()),
    };
    let response = transport::send(&request, timeout, None)
        .map_err(|error| anyhow::anyhow!("{operation} at {endpoint}: {error}"))?;
    let value: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if response.status != 200 {
        bail!(
            "{operation}: {} {}",
            value["__type"].as_str().unwrap_or("error"),
            value["message"].as_str().unwrap_or_default()
        );
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_follow_the_exit_status_and_stdout() {
        assert_eq!(
            answer(Some(0), b"{\"a\":1}\n", b""),
            Answer::Success(json!({"a": 1}))
        );
        assert_eq!(answer(Some(0), b"", b""), Answer::Success(Value::Null));
        assert_eq!(
            answer(Some(3), b"", b"line 1\nboom\n"),
            Answer::Failure {
                error: "Worker.ExitStatus.3".into(),
                cause: "line 1\nboom".into()
            }
        );
        assert!(matches!(
            answer(Some(0), b"not json", b""),
            Answer::Failure { error, .. } if error == "Worker.InvalidOutput"
        ));
    }
}
