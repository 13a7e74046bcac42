//! `steppe worker`: an activity worker that runs a command for each task.
//!
//! It long-polls `GetActivityTask`, runs the command with the task input on stdin, sends
//! `SendTaskHeartbeat` while the command runs, and answers with `SendTaskSuccess` (stdout as
//! the output JSON; empty stdout is `null`) or `SendTaskFailure` (a non-zero exit is error
//! `Worker.ExitStatus.<code>`, a non-JSON stdout `Worker.InvalidOutput`; the cause is the
//! tail of stderr). It speaks AWS JSON 1.0 to any Step Functions endpoint.
//!
//! Its requests are signed with SigV4 (service `states`) as the AWS CLI signs them: the
//! credentials and region come from `aws-config`'s default chains (`--region`, then
//! `AWS_REGION`/`AWS_DEFAULT_REGION` and the profile's `region`; the `AWS_ACCESS_KEY_ID` family,
//! then the profile named by `--profile` or `AWS_PROFILE` in the shared credentials and config
//! files, with SSO, `credential_process` and role assumption, then container and instance
//! credentials). So it acts in its caller's account and region, and passes a server's
//! `--credentials`. Without credentials it refuses to start, unless `--no-sign-request`
//! (the AWS CLI's flag) asks for unsigned requests, which a server without `--credentials`
//! answers in its `--region` and `--account`. An activity given by name is looked up with
//! ListActivities in the caller's account and region, unless `--account` builds its ARN.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};
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
    /// The region requests are signed for (default: `AWS_REGION`, `AWS_DEFAULT_REGION`, or
    /// the profile's `region`, as the AWS CLI).
    #[arg(long)]
    pub region: Option<String>,
    /// The profile of the shared credentials and config files (default: `AWS_PROFILE`, else
    /// `default`), as the AWS CLI's `--profile`.
    #[arg(long)]
    pub profile: Option<String>,
    /// Send unsigned requests (the AWS CLI's flag): a server without `--credentials` then
    /// acts in its own `--region` and `--account`.
    #[arg(long)]
    pub no_sign_request: bool,
    /// Build the ARN of an activity given by name in this account (and the region), instead
    /// of looking it up with ListActivities.
    #[arg(long)]
    pub account: Option<String>,
    /// The command to run for each task, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
    #[command(flatten)]
    pub log: crate::logging::LogArgs,
}

/// Polls and runs tasks until `--max-tasks` are done (or forever).
pub fn run(args: &WorkerArgs) -> Result<ExitCode> {
    let client = Client::new(args)?;
    let activity_arn = activity_arn(args, &client)?;
    tracing::info!(
        activity_arn = %activity_arn,
        endpoint = %args.endpoint,
        region = client.region.as_deref(),
        signed = client.signer.is_some(),
        "polling for tasks"
    );
    let mut done = 0;
    while args.max_tasks.is_none_or(|max| done < max) {
        let task = client.call(
            "GetActivityTask",
            &json!({"activityArn": activity_arn, "workerName": args.worker_name}),
            POLL_TIMEOUT,
        )?;
        let Some(token) = task["taskToken"].as_str().filter(|t| !t.is_empty()) else {
            continue;
        };
        let input = task["input"].as_str().unwrap_or("{}");
        let started = Instant::now();
        let answer = run_task(args, &client, token, input)?;
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
        let reported = client.call(operation, &body, Duration::from_secs(30));
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

fn run_task(args: &WorkerArgs, client: &Client, token: &str, input: &str) -> Result<Answer> {
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
            if let Err(error) = client.call(
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

/// How many pages of ListActivities are read looking for an activity by name (AWS allows
/// 10,000 activities per account and region, 1,000 to a page).
const ACTIVITY_PAGES_MAX: usize = 100;

/// Refresh credentials this long before they expire.
const CREDENTIALS_REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Where the worker's calls go and how they are signed.
struct Client {
    endpoint: String,
    /// The region requests are signed for, if one is configured.
    region: Option<String>,
    /// `None` with `--no-sign-request`.
    signer: Option<Signer>,
}

/// The credentials chain, its last credentials, and a runtime to drive it (`aws-config` is
/// async; the worker is not).
struct Signer {
    runtime: tokio::runtime::Runtime,
    provider: aws_credential_types::provider::SharedCredentialsProvider,
    region: String,
    cached: std::cell::RefCell<Option<aws_credential_types::Credentials>>,
}

impl Client {
    fn new(args: &WorkerArgs) -> Result<Client> {
        use aws_credential_types::provider::ProvideCredentials as _;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the credentials runtime")?;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(profile) = &args.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &args.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        let config = runtime.block_on(loader.load());
        let region = config.region().map(ToString::to_string);
        let endpoint = args.endpoint.trim_end_matches('/').to_string();
        if args.no_sign_request {
            return Ok(Client {
                endpoint,
                region,
                signer: None,
            });
        }
        let Some(region) = region else {
            bail!(
                "You must specify a region: --region, AWS_REGION, or a profile's region \
                 (or --no-sign-request for unsigned requests)"
            );
        };
        let provider = config
            .credentials_provider()
            .context("Unable to locate credentials (or pass --no-sign-request)")?;
        let credentials = runtime
            .block_on(provider.provide_credentials())
            .map_err(|error| {
                anyhow::anyhow!(
                    "Unable to locate credentials: {} (set AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY or a profile, or pass --no-sign-request)",
                    aws_smithy_error(&error)
                )
            })?;
        Ok(Client {
            endpoint,
            region: Some(region.clone()),
            signer: Some(Signer {
                runtime,
                provider,
                region,
                cached: std::cell::RefCell::new(Some(credentials)),
            }),
        })
    }

    /// One AWS JSON 1.0 call; an error answer is an `Err` naming its code and message.
    fn call(&self, operation: &str, body: &Value, timeout: Duration) -> Result<Value> {
        let endpoint = &self.endpoint;
        let mut request = HttpRequest {
            method: "POST".into(),
            url: format!("{endpoint}/"),
            headers: vec![
                (
                    "X-Amz-Target".into(),
                    format!("AWSStepFunctions.{operation}"),
                ),
                ("Content-Type".into(), "application/x-amz-json-1.0".into()),
            ],
            body: Some(body.to_string().into_bytes()),
        };
        if let Some(signer) = &self.signer {
            signer.sign(&mut request)?;
        }
        let response = transport::send(&request, timeout, None)
            .map_err(|error| anyhow::anyhow!("{operation} at {endpoint}: {error}"))?;
        let value: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if response.status != 200 {
            bail!(
                "{operation}: {} {}",
                value["__type"].as_str().unwrap_or("error"),
                value["message"]
                    .as_str()
                    .or(value["Message"].as_str())
                    .unwrap_or_default()
            );
        }
        Ok(value)
    }
}

impl Signer {
    /// Signs `request` for Step Functions (`states`) with the current credentials, fetched
    /// again from the chain once they are about to expire.
    fn sign(&self, request: &mut HttpRequest) -> Result<()> {
        use aws_credential_types::provider::ProvideCredentials as _;
        let now = SystemTime::now();
        let fresh = |credentials: &aws_credential_types::Credentials| {
            credentials
                .expiry()
                .is_none_or(|expiry| expiry > now + CREDENTIALS_REFRESH_BEFORE)
        };
        let mut cached = self.cached.borrow_mut();
        let credentials = match cached.as_ref().filter(|credentials| fresh(credentials)) {
            Some(credentials) => credentials.clone(),
            None => {
                let credentials = self
                    .runtime
                    .block_on(self.provider.provide_credentials())
                    .map_err(|error| {
                        anyhow::anyhow!("cannot refresh credentials: {}", aws_smithy_error(&error))
                    })?;
                *cached = Some(credentials.clone());
                credentials
            }
        };
        let services = steppe_tasks::services::Services {
            region: self.region.clone(),
            credentials: steppe_tasks::services::Credentials {
                access_key_id: credentials.access_key_id().to_string(),
                secret_access_key: credentials.secret_access_key().to_string(),
                session_token: credentials.session_token().map(str::to_string),
            },
            ..steppe_tasks::services::Services::default()
        };
        steppe_tasks::services::sign(request, "states", &services, now)
            .map_err(|error| anyhow::anyhow!("cannot sign the request: {error}"))
    }
}

/// An error and its sources, as one line.
fn aws_smithy_error(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// The activity's ARN: `--activity` itself when it is one; a name's ARN in `--account` (and
/// the region) when given, else the caller's activity of that name, found with ListActivities.
fn activity_arn(args: &WorkerArgs, client: &Client) -> Result<String> {
    let name = &args.activity;
    if name.starts_with("arn:") {
        return Ok(name.clone());
    }
    if let Some(account) = &args.account {
        let region = client
            .region
            .as_deref()
            .context("--account builds the activity's ARN with a region: give --region")?;
        return Ok(format!("arn:aws:states:{region}:{account}:activity:{name}"));
    }
    let mut next_token: Option<String> = None;
    for _ in 0..ACTIVITY_PAGES_MAX {
        let mut body = json!({"maxResults": 1000});
        if let Some(token) = &next_token {
            body["nextToken"] = json!(token);
        }
        let page = client.call("ListActivities", &body, Duration::from_secs(30))?;
        let found = page["activities"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|activity| activity["name"] == json!(name));
        if let Some(arn) = found.and_then(|activity| activity["activityArn"].as_str()) {
            return Ok(arn.to_string());
        }
        match page["nextToken"].as_str() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
            _ => bail!("no activity named {name} in this account and region"),
        }
    }
    bail!("no activity named {name} in the first {ACTIVITY_PAGES_MAX} pages of ListActivities")
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
