//! JSONata-mode evaluation.
//!
//! Definitions with JSONata fields are parsed and validated by `steppe-asl`. Evaluating
//! JSONata expressions is tracked as its own piece of work; until it lands, a JSONata state
//! fails with `States.QueryEvaluationError` and a cause that says so plainly, rather than
//! producing a wrong result.

use crate::execution::Frame;
use crate::io::state_cause;
use crate::run::Run;
use steppe_asl::error_name::{self, Failure};

/// The failure of a JSONata field this build cannot evaluate.
pub(crate) fn unavailable(run: &Run<'_>, frame: &Frame, field: &str) -> Failure {
    let message = format!("The JSONata expression specified for the field '{field}' cannot be evaluated: JSONata evaluation is not supported by this version of steppe");
    Failure::new(
        error_name::QUERY_EVALUATION_ERROR,
        state_cause(run, frame, &message),
    )
}
