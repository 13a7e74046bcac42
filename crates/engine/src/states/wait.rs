//! `Wait`: waits for a number of seconds or until a timestamp, with a durable timer.

use super::exit;
use crate::execution::{Frame, FrameId, Phase};
use crate::io::{self, Env};
use crate::run::{Next, Run};
use serde_json::Value;
use steppe_asl::definition::{Dynamic, State, Wait};
use steppe_asl::error_name::Failure;
use steppe_asl::timestamp;

pub(crate) fn run(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    wait: &Wait,
) -> Next {
    let effective = match io::json_path_io(state) {
        Some(io) => io::select(run, &frame, &frame.input, &io.input_path),
        None => Ok(frame.input.clone()),
    };
    let effective = match effective {
        Ok(effective) => effective,
        Err(failure) => return Next::Failed(frame, failure),
    };
    let until = match wait_until(run, &frame, wait, &effective) {
        Ok(until) => until,
        Err(failure) => return Next::Failed(frame, failure),
    };
    if until <= run.now {
        return elapsed(run, frame, state);
    }
    let timer_id = run.start_timer(id, until);
    frame.phase = Phase::AwaitWait { timer_id };
    Next::Parked(frame)
}

/// The wait is over: leave the state.
pub(crate) fn elapsed(run: &mut Run<'_>, frame: Frame, state: &State) -> Next {
    let Some(io) = io::json_path_io(state) else {
        return super::exit_jsonata(run, frame, state);
    };
    let outcome = io::select(run, &frame, &frame.input, &io.input_path).and_then(|effective| {
        let assigned = io::assign(run, &frame, state.assign.as_ref(), &effective)?;
        Ok((
            io::select_owned(run, &frame, effective, &io.output_path)?,
            assigned,
        ))
    });
    match outcome {
        Ok((output, assigned)) => exit(run, frame, state, output, assigned),
        Err(failure) => Next::Failed(frame, failure),
    }
}

/// When the wait ends, epoch milliseconds.
fn wait_until(
    run: &mut Run<'_>,
    frame: &Frame,
    wait: &Wait,
    effective: &Value,
) -> Result<i64, Failure> {
    match wait {
        Wait::Seconds(Dynamic::Literal(seconds)) => {
            Ok(run.now.saturating_add(*seconds as i64 * 1000))
        }
        Wait::Timestamp(Dynamic::Literal(millis)) => Ok(*millis),
        Wait::Seconds(Dynamic::Path(path)) => {
            let value = lookup(run, frame, effective, path, "SecondsPath")?;
            let seconds = seconds_value(&value).ok_or_else(|| {
                let message = if value.as_f64().is_some_and(|n| n < 0.0 && n.fract() == 0.0) {
                    format!(
                        "The SecondsPath parameter references a negative value: {} == {value}",
                        path.as_str()
                    )
                } else {
                    format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {} == {value}",
                        path.as_str()
                    )
                };
                io::runtime_failure(run, frame, &message)
            })?;
            Ok(run.now.saturating_add(seconds.saturating_mul(1000)))
        }
        Wait::Timestamp(Dynamic::Path(path)) => {
            let value = lookup(run, frame, effective, path, "TimestampPath")?;
            value.as_str().and_then(timestamp::parse_rfc3339).ok_or_else(|| {
                let shown = value.as_str().map_or_else(|| value.to_string(), str::to_string);
                let message = format!(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {shown}",
                    path.as_str()
                );
                io::runtime_failure(run, frame, &message)
            })
        }
        Wait::Seconds(Dynamic::Jsonata(expression)) => {
            let seconds = crate::jsonata::number_field(
                run,
                frame,
                expression,
                "Seconds",
                "integer",
                seconds_value,
            )?;
            Ok(run.now.saturating_add(seconds.saturating_mul(1000)))
        }
        Wait::Timestamp(Dynamic::Jsonata(expression)) => {
            let states = crate::jsonata::states(run, frame);
            let value =
                crate::jsonata::evaluate_expression(run, frame, expression, "Timestamp", &states)?;
            value.as_str().and_then(timestamp::parse_rfc3339).ok_or_else(|| {
                let shown = value.as_str().map_or_else(|| value.to_string(), str::to_string);
                let message = format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}"
                );
                Failure::evaluation(
                    io::state_cause(run, frame, &message),
                    Some("Timestamp".to_string()),
                )
            })
        }
    }
}

fn lookup(
    run: &mut Run<'_>,
    frame: &Frame,
    effective: &Value,
    path: &steppe_asl::path::Path,
    key: &str,
) -> Result<Value, Failure> {
    let mut env = Env::new(run, frame, effective);
    env.lookup(path)?.ok_or_else(|| {
        let message = format!(
            "The JSONPath '{}' specified for the field '{key}' could not be found in the input '{}'",
            path.as_str(),
            crate::run::to_text(effective)
        );
        env.runtime(&message)
    })
}

/// A non-negative whole number of seconds, as AWS accepts it.
fn seconds_value(value: &Value) -> Option<i64> {
    let number = value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|n| n.fract() == 0.0)
            .map(|n| n as i64)
    })?;
    (number >= 0).then_some(number.min(steppe_asl::limits::SECONDS_MAX as i64))
}
