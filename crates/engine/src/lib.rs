//! The steppe engine: a deterministic interpreter of Amazon States Language.
//!
//! Every change to an execution goes through one function, [`apply`]: an [`Execution`] and an
//! [`Input`] (start, a task's result, a timer, a stop request), applied at a given time, give
//! the updated execution, the new [`HistoryEvent`]s and the [`Command`]s (run this task,
//! start this timer) for the runtime to carry out. The engine does no I/O, reads no clock
//! and draws no randomness of its own: time arrives with each input, and randomness comes
//! from a seed stored with the execution.
//!
//! ```
//! use steppe_engine::{apply, Config, Execution, ExecutionInfo, Input, Status};
//! let definition = steppe_asl::compile(
//!     r#"{"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": "world", "End": true}}}"#,
//! ).unwrap();
//! let info = ExecutionInfo {
//!     execution_arn: "arn:aws:states:us-east-1:123456789012:execution:hello:1".into(),
//!     name: "1".into(),
//!     state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:hello".into(),
//!     state_machine_name: "hello".into(),
//!     role_arn: "arn:aws:iam::123456789012:role/steppe".into(),
//!     region: "us-east-1".into(),
//!     start_time_millis: 0,
//!     redrive_count: 0,
//!     id: 0,
//! };
//! let mut execution = Execution::new(info, serde_json::json!({}), Config::standard(), 7);
//! let transition = apply(&definition, &mut execution, Input::Start, 0);
//! assert_eq!(execution.status, Status::Succeeded);
//! assert_eq!(execution.output, Some(serde_json::json!("world")));
//! assert_eq!(transition.events.len(), 4);
//! ```

#![forbid(unsafe_code)]

mod event;
mod execution;
#[cfg(feature = "fault-injection")]
pub mod fault;
mod io;
mod jsonata;
pub mod map_run;
mod random;
mod run;
mod states;

pub use event::{Details, ErrorCause, HistoryEvent, MapIteration, StateType, TaskResource};
pub use execution::{
    apply, error_output, Command, Config, ContextObject, Execution, ExecutionInfo, Input, Status,
    TaskInvocation, Transition, HISTORY_LIMIT_CAUSE,
};
pub use map_run::{ChildId, MapRun, MapRunChild, MapRunCounts, MapRunStatus, MapRunUpdate};
pub use random::Random;
pub use states::reader::ITEM_READER_RESOURCE;
pub use states::writer::RESULT_WRITER_RESOURCE;
