//! A distributed Map's children as executions of their own: their records in the Map Run
//! (counts, dates, inputs kept for a `ResultWriter`), their histories (opened and closed
//! here, written by their frames' sink), Express children's five-minute limit, children
//! ended from outside (`StopExecution`, their own history limit), and the execution records
//! a `ResultWriter` writes for them.

use super::abort;
use super::batch;
use super::map::{select_item, Children};
use crate::event::Details;
use crate::execution::{Frame, FrameId, Phase, Status};
use crate::map_run::{ChildId, MapRunChild, MapRunCounts};
use crate::run::Run;
use serde_json::Value;
use steppe_asl::definition::Map;
use steppe_asl::error_name::Failure;
use steppe_asl::limits;

/// Starts the timer of an Express child's five-minute limit (AWS's Express duration).
pub(super) fn arm_child_timer(run: &mut Run<'_>, child: ChildId) {
    let timer_id = run.new_wait_id();
    run.execution.child_timers.insert(timer_id, child);
    if let Some(record) = run.execution.map_runs[child.map_run].child_mut(child.slot) {
        record.timer_id = Some(timer_id);
    }
    let seconds = limits::EXPRESS_DURATION_SECONDS_MAX as i64;
    let fire_at_millis = run.now.saturating_add(seconds * 1000);
    run.commands.push(crate::execution::Command::StartTimer {
        timer_id,
        fire_at_millis,
    });
}

/// Cancels the time-limit timer of Map Run child `child`, if it has one.
pub(crate) fn cancel_child_timer(run: &mut Run<'_>, child: ChildId) {
    let timer = run.execution.map_runs[child.map_run]
        .child_mut(child.slot)
        .and_then(|record| record.timer_id.take());
    if let Some(timer_id) = timer {
        run.execution.child_timers.remove(&timer_id);
        run.commands
            .push(crate::execution::Command::CancelTimer { timer_id });
    }
}

/// Opens the history of Map Run child `child` as a started execution's opens:
/// `ExecutionStarted` with its input (or, rerun by a redrive, `ExecutionRedriven`). Returns
/// what its first state's entered event follows from (0 at a start, as at the top level).
pub(super) fn start_child_history(run: &mut Run<'_>, child: ChildId, input: &Value) -> u64 {
    let caller = run.sink.replace(child);
    let redrive_count = run.execution.map_runs[child.map_run]
        .child_mut(child.slot)
        .map_or(0, |record| record.redrive_count);
    let started = if redrive_count == 0 {
        let payloads = run.record_payloads();
        let role_arn = run.execution.info.role_arn.clone();
        run.emit(0, || Details::ExecutionStarted {
            input: if payloads {
                crate::run::to_text(input)
            } else {
                String::new()
            },
            role_arn,
        });
        0
    } else {
        let last = run.execution.map_runs[child.map_run]
            .child_mut(child.slot)
            .map_or(0, |record| record.next_event_id - 1);
        run.emit(last, || Details::ExecutionRedriven { redrive_count })
    };
    run.sink = caller;
    started
}

/// Closes the history of Map Run child `child`, which ended with `result` after its event
/// `last_event_id`, as an execution's closes: `ExecutionSucceeded` or `ExecutionFailed`.
pub(super) fn end_child_history(
    run: &mut Run<'_>,
    child: ChildId,
    result: &Result<Value, Failure>,
    last_event_id: u64,
) {
    let payloads = run.execution.config.history_payloads;
    run.end_child_history(child, Some(last_event_id), || match result {
        Ok(output) => Details::ExecutionSucceeded {
            output: if payloads {
                crate::run::to_text(output)
            } else {
                String::new()
            },
        },
        // A Fail state without Error or Cause leaves them absent, as at the top level.
        Err(failure) => Details::ExecutionFailed(crate::event::ErrorCause {
            error: Some(failure.error.clone()).filter(|error| !error.is_empty()),
            cause: Some(failure.cause.clone()).filter(|cause| !cause.is_empty()),
        }),
    });
}

/// `StopExecution` of Map Run child `child`: aborts its frames (its history says only
/// `ExecutionAborted`, as a stopped execution's does) and tells its Map it ended unsuccessfully.
pub(crate) fn stop_child(run: &mut Run<'_>, child: ChildId, error: crate::event::ErrorCause) {
    end_child(run, child, Status::Aborted, error);
}

/// Ends the running Map Run child `child` from outside its states, as `status` (ABORTED when
/// stopped, FAILED past its history limit) with `error`: its frames are dropped without
/// events of their own, its history ends with `ExecutionAborted`/`ExecutionFailed`, and its
/// Map sees it end unsuccessfully. Nothing happens unless it runs.
pub(crate) fn end_child(
    run: &mut Run<'_>,
    child: ChildId,
    status: Status,
    error: crate::event::ErrorCause,
) {
    let found = run
        .execution
        .frames
        .iter()
        .enumerate()
        .find_map(
            |(index, frame)| match frame.as_ref().map(|frame| (&frame.phase, frame.sink)) {
                Some((Phase::AwaitChildren(children), sink))
                    if children.map_run == Some(child.map_run) =>
                {
                    let running = children.running.get(child.slot).copied().flatten()?;
                    Some((FrameId(index), running, sink))
                }
                _ => None,
            },
        );
    let Some((map_frame, child_frame, sink)) = found else {
        return;
    };
    if let Some(frame) = run.execution.frames[child_frame.0].clone() {
        keep_child_redrive_point(run, &frame);
    }
    let caller = std::mem::replace(&mut run.sink, sink);
    abort(run, child_frame);
    let now = run.now;
    let failure = Failure::new(
        error.error.clone().unwrap_or_default(),
        error.cause.clone().unwrap_or_default(),
    );
    let keep_data = run.execution.config.map_run_children_data;
    run.end_child_history(child, None, || match status {
        Status::Aborted => Details::ExecutionAborted(error.clone()),
        Status::TimedOut => Details::ExecutionTimedOut(error.clone()),
        _ => Details::ExecutionFailed(error.clone()),
    });
    if let Some(record) = run.execution.map_runs[child.map_run].child_mut(child.slot) {
        record.status = status;
        record.stop_millis = Some(now);
        record.error = keep_data.then_some(error);
    }
    super::child_ended(run, map_frame, child.slot, Err(failure), 0);
    run.sink = caller;
}

/// Keeps where a redrive resumes the Map Run child whose top-level frame `frame` failed or is
/// being aborted, if it is a Standard child: AWS redrives those (`RedriveExecution`, from the
/// state they ended in), where Express children start again (`StartExecution`) ("Redriving
/// Map Runs").
pub(crate) fn keep_child_redrive_point(run: &mut Run<'_>, frame: &crate::execution::Frame) {
    let Some((parent, _)) = frame.parent else {
        return;
    };
    let Some(map_frame) = run.execution.frames[parent.0].as_ref() else {
        return;
    };
    // Only a child's top-level frame has its Map's frame (of another history) as parent.
    if map_frame.sink == frame.sink {
        return;
    }
    if let steppe_asl::definition::Kind::Map(map) = &run.definition.state(map_frame.state).kind {
        keep_redrive_point_of(run, frame, map);
    }
}

/// Keeps where a redrive resumes the Map Run child of `map` whose top-level frame is
/// `frame`, if it is a Standard child.
pub(crate) fn keep_redrive_point_of(run: &mut Run<'_>, frame: &crate::execution::Frame, map: &Map) {
    let Some(child) = frame.sink else {
        return;
    };
    if !map.distributed || map.express_children {
        return;
    }
    let point = run.redrive_point(frame);
    if let Some(record) = run.execution.map_runs[child.map_run].child_mut(child.slot) {
        record.redrive_point = Some(Box::new(point));
    }
}

/// What a failed Map Run exports: the entries its ended children sent already, the
/// execution records of those its end aborted (added to its FAILED file now), and a
/// `{Input, InputDetails, Status: PENDING}` entry per child never started.
pub(super) fn failed_results(
    run: &mut Run<'_>,
    frame: &mut Frame,
    map: &Map,
    mut children: Children,
    failure: Failure,
) -> super::writer::Written {
    let map_run = children.map_run.expect("an exporting Map has a Map Run");
    let mut files = children
        .result_files
        .take()
        .expect("an exporting Map has result files");
    for slot in 0..children.results.len() {
        let status = run.execution.map_runs[map_run]
            .children
            .get(slot)
            .and_then(|child| child.as_ref().map(|child| child.status));
        // Ended children sent their entries as they ended (their results are `null`).
        let sent = children.results[slot].is_some();
        match status {
            Some(Status::Succeeded | Status::Running) | None => {}
            Some(_) if sent => {}
            Some(_) => {
                let record = execution_record(run, &children, slot, Value::Null, true);
                files.append(super::result_files::FAILED, &record);
                children.results[slot] = Some(Value::Null);
                super::map::forget_child_data(run, &children, slot);
            }
        }
    }
    let pending = pending_entries(run, frame, map, &mut children);
    super::writer::Written {
        map_run_arn: children.map_run_arn,
        map_run: children.map_run,
        tail: frame.previous_event_id,
        files,
        pending,
        failure: Some(failure),
    }
}

/// The entries of the children a failed Map Run never started: their inputs (`ItemSelector`
/// applied, batches built) as `{Input, InputDetails, Status: PENDING}`.
pub(super) fn pending_entries(
    run: &mut Run<'_>,
    frame: &mut Frame,
    map: &Map,
    children: &mut Children,
) -> Vec<Value> {
    let entry = |input: &Value| {
        serde_json::json!({"Input": crate::run::to_text(input), "InputDetails": {"Included": true},
            "Status": "PENDING"})
    };
    let mut pending = Vec::new();
    if let Some(batcher) = children.batcher.as_mut() {
        let mut next = children.next_index;
        while let Ok(Some(batch)) = batch::next_batch(
            run,
            frame,
            map,
            batcher,
            (&mut children.items, true),
            &mut next,
            &children.effective_input,
        ) {
            pending.push(entry(&batch.input));
        }
        return pending;
    }
    let started = |run: &Run<'_>, index: usize| {
        let map_run = children
            .map_run
            .map(|map_run| &run.execution.map_runs[map_run]);
        map_run.is_some_and(|map_run| matches!(map_run.children.get(index), Some(Some(_))))
    };
    for index in children.next_index..children.items.len() {
        // A child that succeeded before a redrive is not pending.
        if started(run, index) {
            continue;
        }
        let Some(item) = children.items.take(index) else {
            continue;
        };
        let raw = item.value.clone();
        let input = select_item(run, frame, map, &children.effective_input, item);
        pending.push(entry(&input.unwrap_or(raw)));
    }
    pending
}

/// A child execution's record as a `ResultWriter` writes it with `Transformation` NONE (its
/// DescribeExecution in the ResultWriter page's shape): `result` is its output, or the
/// `{Error, Cause}` it failed with.
pub(super) fn execution_record(
    run: &Run<'_>,
    children: &Children,
    slot: usize,
    result: Value,
    failed: bool,
) -> Value {
    let Some(map_run) = children.map_run else {
        return result;
    };
    let record = &run.execution.map_runs[map_run];
    let (Some(Some(child)), Some(arn)) = (
        record.children.get(slot),
        crate::map_run::child_execution_arn(&record.map_run_arn, map_run, slot),
    ) else {
        return result;
    };
    let text = crate::run::to_text;
    let mut entry = serde_json::Map::new();
    if failed {
        // The record keeps the error of a child that failed its Map Run; a tolerated
        // failure's is its kept result.
        let kept = child.error.as_ref();
        let fields = [
            ("Cause", kept.and_then(|e| e.cause.clone())),
            ("Error", kept.and_then(|e| e.error.clone())),
        ];
        for (key, value) in fields {
            let value = value
                .map(Value::String)
                .or_else(|| result.get(key).cloned())
                .filter(|value| value.as_str() != Some(""));
            if let Some(value) = value {
                entry.insert(key.to_string(), value);
            }
        }
    }
    let name = arn.rsplit(':').next().unwrap_or_default().to_string();
    entry.insert("ExecutionArn".into(), Value::String(arn));
    let input = child.input.clone().unwrap_or_default();
    entry.insert("Input".into(), Value::String(input));
    entry.insert("InputDetails".into(), serde_json::json!({"Included": true}));
    entry.insert("Name".into(), Value::String(name));
    if !failed {
        entry.insert("Output".into(), Value::String(text(&result)));
        entry.insert(
            "OutputDetails".into(),
            serde_json::json!({"Included": true}),
        );
    }
    entry.insert("RedriveCount".into(), child.redrive_count.into());
    // As DescribeExecution of a child says (`ops/map_runs.rs` in the server).
    if failed {
        entry.insert("RedriveStatus".into(), "REDRIVABLE_BY_MAP_RUN".into());
    } else {
        entry.insert("RedriveStatus".into(), "NOT_REDRIVABLE".into());
        let reason = format!(
            "Execution is {} and cannot be redriven",
            child.status.as_str()
        );
        entry.insert("RedriveStatusReason".into(), reason.into());
    }
    let iso = crate::map_run::iso_millis;
    entry.insert("StartDate".into(), iso(child.start_millis).into());
    let state_machine_arn = crate::map_run::children_state_machine_arn(&record.map_run_arn);
    entry.insert("StateMachineArn".into(), state_machine_arn.into());
    entry.insert("Status".into(), child.status.as_str().into());
    let stop = child.stop_millis.unwrap_or(run.now);
    entry.insert("StopDate".into(), iso(stop).into());
    Value::Object(entry)
}

/// What happened to a distributed Map's child, for its Map Run's counts.
#[derive(Clone, Copy)]
pub(super) enum Counted {
    /// It started.
    Started,
    /// It started again, rerun by a redrive.
    Restarted,
    /// It had succeeded before a redrive, and is not run again.
    Done,
    /// It ended.
    Succeeded,
    Failed,
    /// `StopExecution` stopped it.
    Aborted,
    /// It ran past its time limit.
    TimedOut,
}

/// Counts a child of `items` items in the Map Run of `children`, if it has one.
pub(super) fn count_child(run: &mut Run<'_>, children: &Children, counted: Counted, items: u64) {
    let Some(map_run) = children.map_run else {
        return;
    };
    // Without an ItemBatcher every child was counted pending when the run started; with
    // one, batches are built (and so counted) as they start, and so are items read from S3.
    let batches = children.batcher.is_some();
    let streamed = children.streamed;
    let record = &mut run.execution.map_runs[map_run];
    for (counts, n, known) in [
        (&mut record.items, items, !streamed),
        (&mut record.executions, 1, !batches && !streamed),
    ] {
        match counted {
            Counted::Started | Counted::Done if known => counts.pending -= n,
            Counted::Started | Counted::Done => counts.total += n,
            Counted::Restarted => counts.pending_redrive -= n,
            Counted::Succeeded | Counted::Failed | Counted::Aborted | Counted::TimedOut => {
                counts.running -= n
            }
        }
        match counted {
            Counted::Started | Counted::Restarted => counts.running += n,
            Counted::Done | Counted::Succeeded => counts.succeeded += n,
            Counted::Failed => counts.failed += n,
            Counted::Aborted => counts.aborted += n,
            Counted::TimedOut => counts.timed_out += n,
        }
    }
}

/// Records the start of the child of `slot` in the Map Run of `children`, if it has one;
/// answers whether it started for the first time or again, rerun by a redrive.
pub(super) fn record_child(
    run: &mut Run<'_>,
    children: &Children,
    slot: usize,
    items: u64,
    input: &Value,
) -> Counted {
    let Some(map_run) = children.map_run else {
        return Counted::Started;
    };
    let keep_input = run.execution.config.map_run_children_data || children.keep_inputs;
    let now = run.now;
    let record = &mut run.execution.map_runs[map_run];
    if record.children.len() <= slot {
        record.children.resize(slot + 1, None);
    }
    // A child rerun by a redrive is the same execution, redriven: its history goes on.
    let (start_millis, next_event_id, redrive_count, redrive_point) =
        match record.children[slot].as_mut() {
            Some(before) => (
                before.start_millis,
                before.next_event_id,
                before.redrive_count + 1,
                before.redrive_point.take(),
            ),
            None => (now, 1, 0, None),
        };
    record.children[slot] = Some(MapRunChild {
        status: Status::Running,
        next_event_id,
        redrive_count,
        start_millis,
        stop_millis: None,
        item_count: items,
        input: keep_input.then(|| crate::run::to_text(input)),
        output: None,
        error: None,
        timer_id: None,
        redrive_point,
    });
    if redrive_count == 0 {
        Counted::Started
    } else {
        Counted::Restarted
    }
}

/// Records the end of the child of `slot` in the Map Run of `children`, if it has one.
pub(super) fn child_record_ended(
    run: &mut Run<'_>,
    children: &Children,
    slot: usize,
    result: &Result<Value, Failure>,
) {
    let Some(map_run) = children.map_run else {
        return;
    };
    let keep_data = run.execution.config.map_run_children_data;
    let keep_error = keep_data || children.keep_inputs;
    let now = run.now;
    let record = &mut run.execution.map_runs[map_run];
    let Some(Some(child)) = record.children.get_mut(slot) else {
        return;
    };
    child.stop_millis = Some(now);
    match result {
        Ok(output) => {
            child.status = Status::Succeeded;
            child.output = keep_data.then(|| output.clone());
        }
        Err(failure) => {
            child.status = Status::Failed;
            child.error = keep_error.then(|| crate::event::ErrorCause {
                error: Some(failure.error.clone()),
                cause: Some(failure.cause.clone()),
            });
        }
    }
}

/// Counts with `total` items (or children) pending, or none yet when unknown.
pub(super) fn pending(total: Option<u64>) -> MapRunCounts {
    let total = total.unwrap_or(0);
    MapRunCounts {
        pending: total,
        total,
        ..MapRunCounts::default()
    }
}
