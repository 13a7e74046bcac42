//! `Fail`: ends its block (and so the execution, a branch or an iteration) with an error.

use crate::execution::Frame;
use crate::io::{self, Env};
use crate::run::{Next, Run};
use serde_json::Value;
use steppe_asl::definition::{Fail, FailField};
use steppe_asl::error_name::Failure;

pub(crate) fn run(run: &mut Run<'_>, frame: Frame, fail: &Fail) -> Next {
    let error = field(run, &frame, fail.error.as_ref(), "ErrorPath");
    let cause = field(run, &frame, fail.cause.as_ref(), "CausePath");
    match (error, cause) {
        (Ok(error), Ok(cause)) => {
            // A Fail state's error and cause may be absent, which history shows as such.
            Next::FailState(frame, crate::event::ErrorCause { error, cause })
        }
        (Err(failure), _) | (_, Err(failure)) => Next::Failed(frame, failure),
    }
}

fn field(
    run: &mut Run<'_>,
    frame: &Frame,
    field: Option<&FailField>,
    key: &str,
) -> Result<Option<String>, Failure> {
    let Some(field) = field else { return Ok(None) };
    let value = match field {
        FailField::Literal(text) => return Ok(Some(text.clone())),
        FailField::Jsonata(expression) => {
            let field = key.trim_end_matches("Path");
            let states = crate::jsonata::states(run, frame);
            return match crate::jsonata::evaluate_expression(
                run, frame, expression, field, &states,
            )? {
                Value::String(text) => Ok(Some(text)),
                other => Err(crate::jsonata::failure(
                    run,
                    frame,
                    steppe_asl::jsonata::unexpected_type(expression, field, "string", &other),
                )),
            };
        }
        FailField::Path(path) => {
            let mut env = Env::new(run, frame, &frame.input);
            env.lookup(path)?.ok_or_else(|| {
                let message = format!(
                    "The JSONPath '{}' specified for the field '{key}' could not be found in the input '{}'",
                    path.as_str(),
                    crate::run::to_text(&frame.input)
                );
                env.runtime(&message)
            })?
        }
        FailField::Intrinsic(call) => {
            let mut env = Env::new(run, frame, &frame.input);
            call.evaluate(&mut env)?
        }
    };
    match value {
        Value::String(text) => Ok(Some(text)),
        other => Err(io::runtime_failure(
            run,
            frame,
            &format!("The value of the field '{key}' must be a string, but was: {other}"),
        )),
    }
}
