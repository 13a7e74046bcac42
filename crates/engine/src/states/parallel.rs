//! `Parallel`: runs every branch on the same input and collects their outputs in branch order.

use super::{abort, fail_state_with, Children};
use crate::event::Details;
use crate::execution::{Frame, FrameId, Phase};
use crate::io;
use crate::run::{Next, Run};
use serde_json::Value;
use steppe_asl::definition::{Parallel, State};
use steppe_asl::error_name::Failure;

pub(crate) fn run(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    parallel: &Parallel,
) -> Next {
    let input = match io::arguments(run, &frame, state) {
        Ok(input) => input,
        Err(failure) => {
            return super::fail_before_start(
                run,
                id,
                frame,
                state,
                failure,
                Some(Details::ParallelStateFailed),
            )
        }
    };
    let started = run.emit(frame.previous_event_id, || Details::ParallelStateStarted);
    frame.previous_event_id = started;
    let count = parallel.branches.len();
    let mut children = Children {
        results: vec![None; count],
        running: vec![None; count],
        remaining: count,
        handoff: started,
        tail: started,
        ..Children::default()
    };
    // A redrive reruns only the branches that did not succeed.
    let completed = frame.completed.take().unwrap_or_default();
    for (slot, block) in parallel.branches.iter().enumerate() {
        if let Some(Some(result)) = completed.get(slot) {
            children.results[slot] = Some(result.clone());
            children.remaining -= 1;
            continue;
        }
        let start_at = run.definition.block(*block).start_at;
        let scope = run.new_scope(Some(frame.scope));
        let child = run.new_frame(Some((id, slot)), scope, start_at, input.clone(), started);
        children.running[slot] = Some(child);
        run.ready(child);
    }
    frame.phase = Phase::AwaitChildren(Box::new(children));
    Next::Parked(frame)
}

/// A branch ended.
pub(crate) fn child_ended(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    slot: usize,
    result: Result<Value, Failure>,
    last_event_id: u64,
) -> Next {
    let Phase::AwaitChildren(mut children) = std::mem::replace(&mut frame.phase, Phase::Run) else {
        unreachable!("a Parallel with children awaits them")
    };
    children.running[slot] = None;
    children.remaining -= 1;
    children.tail = children.tail.max(last_event_id);
    match result {
        Ok(output) => children.results[slot] = Some(output),
        Err(failure) => {
            children
                .running_frames()
                .for_each(|child| abort(run, child));
            frame.previous_event_id = last_event_id;
            frame.completed = Some(children.results.clone());
            return fail_state_with(
                run,
                id,
                frame,
                state,
                failure,
                Some(Details::ParallelStateFailed),
            );
        }
    }
    if children.remaining > 0 {
        frame.phase = Phase::AwaitChildren(children);
        return Next::Parked(frame);
    }
    let tail = children.tail;
    run.emit(tail, || Details::ParallelStateSucceeded);
    frame.previous_event_id = tail;
    let result = Value::Array(
        children
            .results
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect(),
    );
    super::finish_with_result(run, id, frame, state, result)
}
