//! The eight state types, one file each, and what they share: leaving a state, and handling
//! its failure with Retry and Catch.

mod batch;
pub(crate) mod child_executions;
pub(crate) mod choice;
pub(crate) mod fail;
mod items;
pub(crate) mod map;
pub(crate) mod parallel;
pub(crate) mod pass;
pub(crate) mod reader;
pub(crate) mod result_files;
pub(crate) mod task;
pub(crate) mod wait;
pub(crate) mod writer;

use crate::event::{Details, ErrorCause};
use crate::execution::{error_output, Frame, FrameId, Phase};
use crate::io;
use crate::jsonata;
use crate::run::{state_type, to_text, Next, Run};
use serde_json::Value;
use steppe_asl::definition::{error_matches, Catcher, Io, Kind, Retrier, State, Transition};
use steppe_asl::error_name::{self, Failure};

pub(crate) use map::Children;

/// Runs the current state of a frame that has entered it.
pub(crate) fn run(run: &mut Run<'_>, id: FrameId, frame: Frame) -> Next {
    let definition = run.definition;
    let state = definition.state(frame.state);
    match &state.kind {
        Kind::Pass(pass) => pass::run(run, id, frame, state, pass),
        Kind::Task(task) => task::run(run, id, frame, state, task),
        Kind::Choice(choice) => choice::run(run, frame, state, choice),
        Kind::Wait(wait) => wait::run(run, id, frame, state, wait),
        Kind::Succeed => succeed(run, frame, state),
        Kind::Fail(fail) => fail::run(run, frame, fail),
        Kind::Parallel(parallel) => parallel::run(run, id, frame, state, parallel),
        Kind::Map(map) => map::run(run, id, frame, state, map),
    }
}

fn succeed(run: &mut Run<'_>, frame: Frame, state: &State) -> Next {
    let output = match &state.io {
        Io::JsonPath(io) => io::select(run, &frame, &frame.input, &io.input_path)
            .and_then(|selected| io::select_owned(run, &frame, selected, &io.output_path)),
        Io::Jsonata(io) => {
            let states = jsonata::states(run, &frame);
            jsonata::output_and_assign(
                run,
                &frame,
                io.output.as_ref(),
                None,
                &states,
                frame.input.clone(),
            )
            .map(|(output, _)| output)
        }
    };
    match output {
        Ok(output) => exit(run, frame, state, output, None),
        Err(failure) => Next::Failed(frame, failure),
    }
}

/// Leaves a state that has no result (Pass, Choice, Wait): JSONata `Output` and `Assign`
/// see `$states.input`; the default output is the input.
pub(crate) fn exit_jsonata(run: &mut Run<'_>, frame: Frame, state: &State) -> Next {
    let states = jsonata::states(run, &frame);
    let output = jsonata_output(state);
    let assign = state.assign.as_ref();
    let outcome =
        jsonata::output_and_assign(run, &frame, output, assign, &states, frame.input.clone())
            .and_then(|(output, assigned)| {
                check_size(run, &frame, &output)?;
                Ok((output, assigned))
            });
    match outcome {
        Ok((output, assigned)) => exit(run, frame, state, output, assigned),
        Err(failure) => Next::Failed(frame, failure),
    }
}

/// A state's JSONata `Output`, if it is a JSONata state and has one.
pub(crate) fn jsonata_output(state: &State) -> Option<&steppe_asl::definition::JsonataTemplate> {
    match &state.io {
        Io::Jsonata(io) => io.output.as_ref(),
        Io::JsonPath(_) => None,
    }
}

/// A timer of a parked frame fell due.
pub(crate) fn timer_fired(run: &mut Run<'_>, id: FrameId, mut frame: Frame, timer_id: u64) -> Next {
    match &frame.phase {
        Phase::AwaitWait { timer_id: expected } if *expected == timer_id => {
            let state = run.definition.state(frame.state);
            wait::elapsed(run, frame, state)
        }
        Phase::AwaitRetry { timer_id: expected } if *expected == timer_id => {
            frame.phase = Phase::Run;
            Next::Ready(frame)
        }
        Phase::AwaitTask(_) => task::timer_fired(run, id, frame, timer_id),
        _ => Next::Parked(frame),
    }
}

/// A Parallel branch or Map iteration ended.
pub(crate) fn child_ended(
    run: &mut Run<'_>,
    parent: FrameId,
    slot: usize,
    result: Result<Value, Failure>,
    last_event_id: u64,
) {
    let Some(frame) = run.execution.frames[parent.0].take() else {
        return;
    };
    let child_sink = std::mem::replace(&mut run.sink, frame.sink);
    let state = run.definition.state(frame.state);
    let next = match &state.kind {
        Kind::Parallel(_) => {
            parallel::child_ended(run, parent, frame, state, slot, result, last_event_id)
        }
        Kind::Map(_) => map::child_ended(run, parent, frame, state, slot, result, last_event_id),
        _ => unreachable!("only Parallel and Map states have children"),
    };
    run.settle(parent, next);
    run.sink = child_sink;
}

/// Leaves a state with `output`: emits its Exited event and moves to the next state.
pub(crate) fn exit(
    run: &mut Run<'_>,
    mut frame: Frame,
    state: &State,
    output: Value,
    assigned: Option<io::Assignment>,
) -> Next {
    let transition = state.transition;
    exit_to(run, &mut frame, state, &output, assigned);
    match transition {
        Transition::Next(next) => advance(frame, next, output),
        Transition::End | Transition::Choice => Next::Ended(frame, output),
    }
}

/// Finishes a Task, Parallel or Map state with its result: the payload limit, `Assign`
/// (on the result), `ResultSelector`, `ResultPath` and `OutputPath`, then the Exited event.
/// A failure here goes through the state's Retry and Catch.
pub(crate) fn finish_with_result(
    run: &mut Run<'_>,
    id: FrameId,
    frame: Frame,
    state: &State,
    result: Value,
) -> Next {
    let outcome = check_size(run, &frame, &result).and_then(|()| match &state.io {
        Io::JsonPath(io) => {
            let assigned = io::assign(run, &frame, state.assign.as_ref(), &result)?;
            Ok((io::state_output(run, &frame, io, result)?, assigned))
        }
        Io::Jsonata(io) => {
            let states = jsonata::states(run, &frame).with_result(&result);
            let (output, assigned) = jsonata::output_and_assign(
                run,
                &frame,
                io.output.as_ref(),
                state.assign.as_ref(),
                &states,
                result,
            )?;
            check_size(run, &frame, &output)?;
            Ok((output, assigned))
        }
    });
    match outcome {
        Ok((output, assigned)) => exit(run, frame, state, output, assigned),
        Err(failure) => fail_state(run, id, frame, state, failure),
    }
}

/// Emits the Exited event of the frame's current state.
pub(crate) fn exit_to(
    run: &mut Run<'_>,
    frame: &mut Frame,
    state: &State,
    output: &Value,
    assigned: Option<io::Assignment>,
) {
    let assigned = io::commit(run, frame, assigned);
    let state_type = state_type(&state.kind);
    let record = run.record_history();
    let name = if record {
        state.name.clone()
    } else {
        String::new()
    };
    let text = if run.record_payloads() {
        to_text(output)
    } else {
        String::new()
    };
    let exited = run.emit(frame.previous_event_id, || Details::StateExited {
        state_type,
        name,
        output: text,
        assigned_variables: assigned,
    });
    frame.previous_event_id = exited;
}

/// Moves a frame to `next`, with `input` as that state's input.
pub(crate) fn advance(
    mut frame: Frame,
    next: steppe_asl::definition::StateId,
    input: Value,
) -> Next {
    frame.state = next;
    frame.phase = Phase::Enter;
    frame.input = input;
    frame.retry_attempts.clear();
    frame.completed = None;
    Next::Ready(frame)
}

/// Checks the 256 KiB payload limit.
pub(crate) fn check_size(run: &Run<'_>, frame: &Frame, value: &Value) -> Result<(), Failure> {
    if json_size(value) <= steppe_asl::limits::PAYLOAD_BYTES_MAX {
        return Ok(());
    }
    let name = &run.definition.state(frame.state).name;
    let cause = format!("The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit.");
    Err(Failure::new(error_name::DATA_LIMIT_EXCEEDED, cause))
}

/// The size of a value's compact JSON text, computed without building it.
pub(crate) fn json_size(value: &Value) -> usize {
    steppe_asl::size::json_bytes(value)
}

/// Handles a failure of a state that may have Retry and Catch (Task, Parallel, Map); the
/// state's own failure events have already been emitted. `failed_event_id` is the event a
/// retry or the Exited event after a catch follows from.
pub(crate) fn fail_state(
    run: &mut Run<'_>,
    id: FrameId,
    frame: Frame,
    state: &State,
    failure: Failure,
) -> Next {
    fail_state_with(run, id, frame, state, failure, None)
}

/// Like [`fail_state`], emitting `failed_event` (`ParallelStateFailed`, `MapStateFailed`)
/// first when the failure is not retried.
pub(crate) fn fail_state_with(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    mut failure: Failure,
    failed_event: Option<Details>,
) -> Next {
    record_evaluation_failure(run, &mut frame, &mut failure);
    if error_name::is_terminal(&failure.error) {
        return Next::Failed(frame, failure);
    }
    if let Some(delay_millis) = retry_delay(run, &mut frame, &state.retry, &failure.error) {
        let timer_id = run.start_timer(id, run.now.saturating_add(delay_millis));
        frame.phase = Phase::AwaitRetry { timer_id };
        return Next::Parked(frame);
    }
    if let Some(details) = failed_event {
        frame.previous_event_id = run.emit(frame.previous_event_id, || details);
    }
    match state
        .catch
        .iter()
        .find(|catcher| error_matches(&catcher.error_equals, &failure.error))
    {
        Some(catcher) => catch(run, frame, state, catcher, &failure),
        None => Next::Failed(frame, failure),
    }
}

/// A Task, Parallel or Map failed before its work began. A JSONata evaluation failure goes
/// through Retry and Catch (after `failed_event`, e.g. `MapStateFailed`); a JSONPath runtime
/// failure ends the block, as AWS records.
pub(crate) fn fail_before_start(
    run: &mut Run<'_>,
    id: FrameId,
    frame: Frame,
    state: &State,
    failure: Failure,
    failed_event: Option<Details>,
) -> Next {
    if failure.evaluation.is_some() {
        fail_state_with(run, id, frame, state, failure, failed_event)
    } else {
        Next::Failed(frame, failure)
    }
}

/// Records a failed JSONata evaluation in history, once: `EvaluationFailed` follows the
/// frame's latest event, and whatever handles the failure follows it.
pub(crate) fn record_evaluation_failure(
    run: &mut Run<'_>,
    frame: &mut Frame,
    failure: &mut Failure,
) {
    let Some(evaluation) = failure.evaluation.take() else {
        return;
    };
    let state = run.definition.state(frame.state);
    // AWS's EvaluationFailed skips a Pass's or Map's own Entered event (it follows what the
    // Entered followed), but follows a Wait's (docs/history-rules.md, rules 17 and 18).
    let previous = if frame.previous_event_id == frame.entered_event_id
        && !matches!(state.kind, Kind::Wait(_))
    {
        frame.entered_previous_event_id
    } else {
        frame.previous_event_id
    };
    let state = state.name.clone();
    let details = ErrorCause {
        error: Some(failure.error.clone()),
        cause: Some(failure.cause.clone()),
    };
    frame.previous_event_id = run.emit(previous, || Details::EvaluationFailed {
        error: details,
        location: evaluation.location,
        state,
    });
}

/// The back-off before the next attempt, if a retrier matches and has attempts left.
fn retry_delay(
    run: &mut Run<'_>,
    frame: &mut Frame,
    retriers: &[Retrier],
    error: &str,
) -> Option<i64> {
    let index = retriers
        .iter()
        .position(|retrier| error_matches(&retrier.error_equals, error))?;
    let retrier = &retriers[index];
    if frame.retry_attempts.len() < retriers.len() {
        frame.retry_attempts.resize(retriers.len(), 0);
    }
    let attempt = frame.retry_attempts[index];
    if attempt >= retrier.max_attempts {
        return None;
    }
    frame.retry_attempts[index] += 1;
    let mut seconds =
        retrier.interval_seconds as f64 * retrier.backoff_rate.powi(attempt.min(1024) as i32);
    if let Some(max) = retrier.max_delay_seconds {
        seconds = seconds.min(max as f64);
    }
    seconds = seconds.min(steppe_asl::limits::SECONDS_MAX as f64);
    if retrier.jitter_full {
        seconds *= run.execution.random.next_f64();
    }
    Some((seconds * 1000.0) as i64)
}

fn catch(
    run: &mut Run<'_>,
    mut frame: Frame,
    state: &State,
    catcher: &Catcher,
    failure: &Failure,
) -> Next {
    let error_output = error_output(failure);
    let outcome = match &state.io {
        Io::JsonPath(_) => io::assign(run, &frame, catcher.assign.as_ref(), &error_output)
            .and_then(|assigned| {
                let output =
                    io::apply_result_path(run, &frame, &catcher.result_path, error_output)?;
                Ok((output, assigned))
            }),
        Io::Jsonata(_) => {
            let states = jsonata::states(run, &frame).with_error_output(&error_output);
            jsonata::output_and_assign(
                run,
                &frame,
                catcher.output.as_ref(),
                catcher.assign.as_ref(),
                &states,
                error_output,
            )
        }
    };
    let (output, assigned) = match outcome {
        Ok(outcome) => outcome,
        Err(failure) => return Next::Failed(frame, failure),
    };
    exit_to(run, &mut frame, state, &output, assigned);
    advance(frame, catcher.next, output)
}

/// Aborts a running frame and everything below it: cancels its task and timers and frees it.
pub(crate) fn abort(run: &mut Run<'_>, id: FrameId) {
    let Some(frame) = run.execution.frames[id.0].take() else {
        return;
    };
    // A frame of another history than its aborter's is a Map Run child stopped from outside:
    // its history ends with `ExecutionAborted` alone, as a stopped execution's does.
    let caller = (run.sink, run.discard);
    run.discard |= frame.sink != run.sink;
    run.sink = frame.sink;
    run.execution.ready.retain(|ready| *ready != id);
    let state_type = state_type(&run.definition.state(frame.state).kind);
    let aborted = match &frame.phase {
        // The frame is out of the table: tasks are cancelled as tasks by name.
        Phase::AwaitTask(pending) => {
            run.cancel_task(pending.task_id);
            let timers = [pending.timeout_timer, pending.heartbeat_timer];
            timers
                .into_iter()
                .flatten()
                .for_each(|wait_id| run.cancel_wait(wait_id));
            true
        }
        Phase::AwaitWait { timer_id } | Phase::AwaitRetry { timer_id } => {
            run.cancel_wait(*timer_id);
            true
        }
        Phase::AwaitWrite(writing) => {
            run.cancel_task(writing.task_id);
            if let Some(map_run) = writing.map_run {
                run.end_map_run(map_run, crate::map_run::MapRunStatus::Aborted);
            }
            true
        }
        Phase::AwaitChildren(children) => {
            children
                .running_frames()
                .for_each(|child| abort(run, child));
            reader::cancel(run, children);
            result_files::cancel(run, children);
            if let Some(map_run) = children.map_run {
                run.end_map_run(map_run, crate::map_run::MapRunStatus::Aborted);
            }
            true
        }
        Phase::Enter | Phase::Run => false,
    };
    if aborted {
        run.emit(frame.previous_event_id, || {
            Details::StateAborted(state_type)
        });
    }
    run.execution.frames[id.0] = Some(frame);
    run.release(id);
    (run.sink, run.discard) = caller;
}
