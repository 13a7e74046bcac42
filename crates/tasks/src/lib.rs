//! Task states that do real work: Step Functions Local mocks, Lambda functions run as local
//! commands or called on a Lambda-compatible endpoint, and the HTTP Task.
//!
//! [`Integrations`] is a [`TaskHandler`]: it answers a task from the selected mock test case
//! first, then routes it by resource (`arn:aws:lambda:…:function:NAME`,
//! `arn:aws:states:::lambda:invoke`, `arn:aws:states:::http:invoke`), and fails anything else the
//! way [`steppe_runtime::NoTasks`] does.
//!
//! Each integration is split in two: pure functions that build the request and turn the response
//! into a [`TaskOutcome`] ([`lambda`], [`http`]), and a small blocking layer that does the I/O
//! ([`transport`], [`command`]). An async caller reuses the pure half with its own client.
//!
//! ```
//! use serde_json::json;
//! use steppe_runtime::{FastClock, Observer, TaskHandler, TaskOutcome};
//! use steppe_tasks::{mock::MockConfig, Config, Integrations};
//!
//! let mocks = MockConfig::from_json(&json!({
//!     "StateMachines": {"Orders": {"TestCases": {"HappyPath": {"Charge": "Charged"}}}},
//!     "MockedResponses": {"Charged": {"0": {"Return": {"charged": true}}}}
//! }), "mocks.json").unwrap();
//! let config = Config {
//!     mocks: Some(mocks.test_case("Orders", "HappyPath").unwrap()),
//!     ..Config::default()
//! };
//! let definition = steppe_asl::compile(r#"{"StartAt": "Charge", "States": {
//!     "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}"#)
//!     .unwrap();
//! let info = steppe_runtime::local_execution_info("Orders", "run-1", 0);
//! let mut execution = steppe_engine::Execution::new(
//!     info, json!({}), steppe_engine::Config::standard(), 1);
//! steppe_runtime::run_to_end(&definition, &mut execution, &FastClock::new(0),
//!     &mut Integrations::new(config), &mut Observer::default()).unwrap();
//! assert_eq!(execution.output, Some(json!({"charged": true})));
//! ```

pub mod apigateway;
pub mod command;
pub mod destinations;
pub mod http;
pub mod lambda;
pub mod mock;
pub mod s3;
pub mod services;
pub mod transport;

use std::path::PathBuf;
use steppe_engine::TaskInvocation;
pub use steppe_runtime::{TaskHandler, TaskOutcome};

/// What [`Integrations`] knows: the mocks of one test case, local functions and connections.
#[derive(Debug, Default)]
pub struct Config {
    /// The selected Step Functions Local test case, answered before anything else.
    pub mocks: Option<mock::TestCase>,
    /// Lambda functions, or `None` when no functions file was given.
    pub functions: Option<lambda::Functions>,
    /// EventBridge connections for the HTTP Task.
    pub connections: http::Connections,
    /// Where AWS service integrations (SQS, SNS, EventBridge, DynamoDB, `aws-sdk`) go.
    pub services: services::Services,
    /// Where the HTTP Task and API Gateway calls may connect.
    pub destinations: destinations::Destinations,
    /// The execution's ARN (EventBridge events name it among their resources).
    pub execution_arn: Option<String>,
}

/// The suffix of callback resources.
pub const CALLBACK_SUFFIX: &str = ".waitForTaskToken";

/// The task handler for local runs.
#[derive(Debug)]
pub struct Integrations {
    config: Config,
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{path} is not valid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The file is JSON but not of the expected shape.
    #[error("{path} at '{pointer}': {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// JSON pointer to the offending value (empty for the whole document).
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// A mock test case was asked for that the file does not define.
    #[error("{0}")]
    UnknownTestCase(String),
}

impl Integrations {
    /// A handler for one execution.
    pub fn new(config: Config) -> Integrations {
        Integrations { config }
    }
}

impl TaskHandler for Integrations {
    fn invoke(&mut self, task: &TaskInvocation) -> TaskOutcome {
        // A Map's ItemReader pages and ResultWriter exports are steppe's own tasks, never a
        // state's mocked answer.
        let reads_items = task.resource == steppe_engine::ITEM_READER_RESOURCE
            || task.resource == steppe_engine::RESULT_WRITER_RESOURCE;
        if let (Some(mocks), false) = (&self.config.mocks, reads_items) {
            if let Some(outcome) = mocks.answer(&task.state_name, task.invocation) {
                return outcome;
            }
        }
        invoke_local(&self.config.local(), task).unwrap_or_else(|why| {
            let mock_note = match &self.config.mocks {
                Some(mocks) => format!(
                    "; the test case '{}' does not mock the state '{}'",
                    mocks.name(),
                    task.state_name
                ),
                None => String::new(),
            };
            unconfigured(task, &format!("{why}{mock_note}"))
        })
    }
}

impl Config {
    /// What the integrations other than mocks use.
    pub fn local(&self) -> Local<'_> {
        Local {
            functions: self.functions.as_ref(),
            connections: &self.connections,
            services: &self.services,
            destinations: &self.destinations,
            execution_arn: self.execution_arn.as_deref(),
            traceparent: None,
            stderr_tails: None,
        }
    }
}

/// What the local integrations need: functions, connections and service endpoints.
#[derive(Debug, Clone, Copy)]
pub struct Local<'a> {
    /// Lambda functions, if a functions file was given.
    pub functions: Option<&'a lambda::Functions>,
    /// EventBridge connections for the HTTP Task.
    pub connections: &'a http::Connections,
    /// AWS service endpoints.
    pub services: &'a services::Services,
    /// Where the HTTP Task and API Gateway calls may connect.
    pub destinations: &'a destinations::Destinations,
    /// The ARN of the execution the task belongs to, if it has one.
    pub execution_arn: Option<&'a str>,
    /// The W3C `traceparent` of the task's call, when its execution is traced: sent with HTTP
    /// Task requests and Lambda invocations.
    pub traceparent: Option<&'a str>,
    /// Where a Lambda command's stderr tail is kept, if anywhere (the server keeps them for
    /// the console; `steppe run` shows stderr as it comes).
    pub stderr_tails: Option<&'a command::StderrTails>,
}

/// Runs a task on the local integration its resource names: a Lambda function from
/// `functions`, the HTTP Task, or an AWS service on its endpoint. `Err` says why there is
/// none. `steppe run` and the server both route tasks through this.
pub fn invoke_local(local: &Local<'_>, task: &TaskInvocation) -> Result<TaskOutcome, String> {
    let resource = task.resource.as_str();
    if resource == lambda::INVOKE_RESOURCE || lambda::function_arn_name(resource).is_some() {
        return match local.functions {
            Some(functions) => Ok(lambda::invoke(
                functions,
                task,
                local.execution_arn,
                local.traceparent,
                local.stderr_tails,
            )),
            None => Err("no functions file is given (--functions)".to_string()),
        };
    }
    if resource == http::INVOKE_RESOURCE {
        return Ok(http::invoke(
            local.connections,
            local.destinations,
            task,
            local.traceparent,
        ));
    }
    if resource == apigateway::INVOKE_RESOURCE {
        return Ok(apigateway::invoke(local.services, local.destinations, task));
    }
    if resource == steppe_engine::ITEM_READER_RESOURCE {
        let buckets = local.services.buckets();
        return Ok(s3::items::read_page(buckets.as_deref(), &task.parameters));
    }
    if resource == steppe_engine::RESULT_WRITER_RESOURCE {
        let buckets = local.services.buckets();
        return Ok(s3::results::write_results(
            buckets.as_deref(),
            &task.parameters,
        ));
    }
    services::invoke(local.services, task, local.execution_arn)
}

/// How a task fails when nothing can run it: `States.TaskFailed`, naming the resource, the
/// state and why.
pub fn unconfigured(task: &TaskInvocation, why: &str) -> TaskOutcome {
    failed(
        steppe_asl::error_name::TASK_FAILED,
        format!(
            "No integration is configured for the resource '{}' of the state '{}': {why}",
            task.resource, task.state_name
        ),
    )
}

/// Shorthand for a failed outcome.
pub fn failed(error: impl Into<String>, cause: impl Into<String>) -> TaskOutcome {
    TaskOutcome::Failed {
        error: error.into(),
        cause: cause.into(),
    }
}

/// Reads and parses a JSON configuration file.
pub(crate) fn read_json(path: &std::path::Path) -> Result<serde_json::Value, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Escapes one JSON-pointer reference token.
pub(crate) fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A request id in UUID shape, derived from `seed` so runs are reproducible.
pub(crate) fn request_id(seed: &str) -> String {
    // FNV-1a, twice with different offsets, for 128 bits.
    let hash = |offset: u64| {
        seed.bytes().fold(offset, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let (high, low) = (hash(0xcbf2_9ce4_8422_2325), hash(0x8422_2325_cbf2_9ce4));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xfff,
        0x8000 | (low >> 48) & 0x3fff,
        low & 0xffff_ffff_ffff
    )
}
