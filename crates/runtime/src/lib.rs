//! The steppe runtime: carries out what the engine asks for.
//!
//! The engine returns [`Command`]s; the runtime runs tasks, keeps timers and feeds the results
//! back as [`Input`]s, each stamped with the time from a [`Clock`]. [`run_to_end`] does this
//! in-process for one execution, as `steppe run` and the conformance tests use it.
//!
//! ```
//! use steppe_runtime::{run_to_end, FastClock, NoTasks, Observer};
//! use steppe_engine::{Config, Execution, ExecutionInfo, Status};
//! let definition = steppe_asl::compile(
//!     r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}"#,
//! ).unwrap();
//! let info = steppe_runtime::local_execution_info("example", "run-1", 0);
//! let mut execution = Execution::new(info, serde_json::json!({"a": 1}), Config::standard(), 1);
//! let clock = FastClock::new(0);
//! run_to_end(&definition, &mut execution, &clock, &mut NoTasks, &mut Observer::default()).unwrap();
//! assert_eq!(execution.status, Status::Succeeded);
//! assert_eq!(execution.stop_time_millis, Some(3_600_000));
//! ```

#![forbid(unsafe_code)]

mod clock;
mod local;

pub use clock::{AdjustableClock, Clock, FastClock, ScaledClock, SystemClock};
pub use local::{
    local_execution_info, run_to_end, Error, LocalQueue, NoTasks, Observer, TaskHandler,
    TaskOutcome,
};
pub use steppe_engine::{Command, Input};
