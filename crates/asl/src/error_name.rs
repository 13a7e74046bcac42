//! The predefined `States.*` error names, and the runtime failure value that carries them.
//!
//! An ASL failure is data, not a Rust error: it flows into Retry and Catch and into history.

/// Matches any error name (alone, in the last retrier or catcher).
pub const ALL: &str = "States.ALL";
/// No heartbeat arrived within `HeartbeatSeconds`.
pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
/// A Task or the whole execution ran longer than its `TimeoutSeconds`.
pub const TIMEOUT: &str = "States.Timeout";
/// A task failed; also matches every error except `States.Timeout`.
pub const TASK_FAILED: &str = "States.TaskFailed";
/// Insufficient privileges.
pub const PERMISSIONS: &str = "States.Permissions";
/// `ResultPath` could not be applied to the state's input.
pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
/// A path in `Parameters` could not be applied.
pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
/// A JSONata expression failed.
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
/// A Parallel branch failed.
pub const BRANCH_FAILED: &str = "States.BranchFailed";
/// No Choice rule matched and there is no `Default`.
pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
/// An intrinsic function failed.
pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
/// More Map items failed than tolerated.
pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
/// A Map `ItemReader` failed.
pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
/// A Map `ResultWriter` failed.
pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
/// A payload exceeded 256 KiB. Terminal: not caught by `States.ALL`.
pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
/// An unprocessable runtime problem. Terminal: not retried, not caught by `States.ALL`.
pub const RUNTIME: &str = "States.Runtime";

/// Whether `States.ALL` and `States.TaskFailed` must not match `error`.
pub fn is_terminal(error: &str) -> bool {
    error == RUNTIME || error == DATA_LIMIT_EXCEEDED
}

/// A runtime failure of a state: an error name and a cause text, as history records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error name, e.g. `States.Runtime`.
    pub error: String,
    /// The cause text, exactly as AWS words it.
    pub cause: String,
    /// Set when a JSONata evaluation failed: history then records an `EvaluationFailed`
    /// event (once) before the failure is handled.
    pub evaluation: Option<EvaluationFailure>,
}

/// Where a JSONata evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationFailure {
    /// The field, e.g. `Output/result`; absent for checks that belong to no field.
    pub location: Option<String>,
}

impl Failure {
    /// Builds a failure from an error name and a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Failure {
        Failure {
            error: error.into(),
            cause: cause.into(),
            evaluation: None,
        }
    }

    /// A `States.QueryEvaluationError` of a JSONata evaluation at `location`.
    pub fn evaluation(cause: impl Into<String>, location: Option<String>) -> Failure {
        Failure {
            error: QUERY_EVALUATION_ERROR.to_string(),
            cause: cause.into(),
            evaluation: Some(EvaluationFailure { location }),
        }
    }
}
