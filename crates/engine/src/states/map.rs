//! `Map`: runs the item processor once per item (or, with `ItemBatcher`, once per batch of
//! items; see `batch.rs`), at most `MaxConcurrency` at a time (AWS runs at most 40 inline
//! iterations at once), and collects the results in item order.

use super::batch::{self, Batcher};
use super::child_executions::{
    arm_child_timer, cancel_child_timer, child_record_ended, count_child, end_child_history,
    execution_record, failed_results, pending, record_child, start_child_history, Counted,
};
use super::items::Items;
use super::reader::Reading;
use super::result_files::ResultFiles;
use super::{abort, fail_state_with};
use crate::event::{Details, MapIteration};
use crate::execution::Status;
use crate::execution::{error_output, Frame, FrameId, MapItem, Phase};
use crate::io::{self, Env};
use crate::map_run::{ChildId, MapRun, MapRunStatus, MapRunUpdate};
use crate::run::{Next, Run};
use serde_json::Value;
use steppe_asl::definition::{Dynamic, Map, ResultTransformation, State};
use steppe_asl::error_name::{self, Failure};
use steppe_asl::limits;

/// The children of a Parallel or Map state, with the bookkeeping their events need.
#[derive(Debug, Clone, Default)]
pub(crate) struct Children {
    /// Each child's result, by slot (branch or item index).
    pub results: Vec<Option<Value>>,
    /// The running child of each slot.
    pub running: Vec<Option<FrameId>>,
    /// Children not yet ended.
    pub remaining: usize,
    /// Map: the items not started yet, and the index of the next one to start.
    pub items: Items,
    pub next_index: usize,
    /// A distributed Map reading its items with an `ItemReader`, while pages are left.
    pub reader: Option<Box<Reading>>,
    /// The Map's items come from an `ItemReader`: its Map Run counts them as they start.
    pub streamed: bool,
    /// What `$` means for `ItemSelector` (the Map's effective input).
    pub effective_input: Value,
    /// How many children may run at once, and how many do.
    pub max_concurrency: usize,
    pub active: usize,
    /// Map with `ItemBatcher`: builds each child's batch as it starts. Slots are batches,
    /// and `remaining` and `failures` count items.
    pub batcher: Option<Batcher>,
    /// Map, redriven: the results of children (items or batches) that already succeeded.
    pub completed: Vec<Option<Value>>,
    /// Map: failed items and the thresholds that tolerate them.
    pub failures: u64,
    pub tolerated_count: Option<u64>,
    pub tolerated_percentage: Option<f64>,
    /// The event the next `MapIterationStarted` follows from.
    pub handoff: u64,
    /// The event `*StateSucceeded` and `*StateExited` follow from.
    pub tail: u64,
    /// A distributed Map's map run.
    pub map_run_arn: String,
    /// The slots whose children failed within the tolerated threshold.
    pub failed_slots: Vec<usize>,
    /// A distributed Map's record in `Execution::map_runs`, by index.
    pub map_run: Option<usize>,
    /// The Map has a `ResultWriter`, whose execution records hold each child's input.
    pub keep_inputs: bool,
    /// The Map exports its results to S3: their files, written as children end. Its
    /// children's results are then not kept (`results` holds `null` for each ended child).
    pub result_files: Option<Box<super::result_files::ResultFiles>>,
}

impl Children {
    /// The frames still running.
    pub fn running_frames(&self) -> impl Iterator<Item = FrameId> + '_ {
        self.running.iter().flatten().copied()
    }

    /// Whether every item ended and none is left to read.
    pub fn all_done(&self) -> bool {
        self.remaining == 0 && self.reader.is_none()
    }

    /// Items read by the `ItemReader` join those waiting (with a slot each unless batched).
    pub fn add_items(&mut self, items: Vec<Value>, keys: Vec<String>) {
        let arrived = items.len();
        self.items.extend(items, keys);
        self.remaining += arrived;
        if self.batcher.is_none() {
            let slots = self.results.len() + arrived;
            self.results.resize(slots, None);
            self.running.resize(slots, None);
        }
    }
}

pub(crate) fn run(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    map: &Map,
) -> Next {
    // With an ItemReader the items are read as the children run (`reader.rs`).
    let prepared = (|| {
        let reading = match &map.item_reader {
            Some(reader) => Some(super::reader::reading(run, &frame, state, reader)?),
            None => None,
        };
        let (effective, items) = match io::json_path_io(state) {
            Some(io) => {
                let effective = io::select(run, &frame, &frame.input, &io.input_path)?;
                let items = match &reading {
                    Some(_) => Value::Array(Vec::new()),
                    None => items(run, &frame, &effective, map)?,
                };
                (effective, items)
            }
            None if reading.is_some() => (frame.input.clone(), Value::Array(Vec::new())),
            None => (frame.input.clone(), items_jsonata(run, &frame, map)?),
        };
        let (keys, items) = key_value_pairs(items);
        let max_concurrency = configured_concurrency(run, &frame, &map.max_concurrency)?;
        Ok::<_, Failure>((effective, keys, items, max_concurrency, reading))
    })();
    let (effective, keys, items, max_concurrency, reading) = match prepared {
        Ok(prepared) => prepared,
        Err(failure) => {
            return super::fail_before_start(
                run,
                id,
                frame,
                state,
                failure,
                Some(Details::MapStateFailed),
            )
        }
    };
    let length = items.len();
    let mut started = run.emit(frame.previous_event_id, || Details::MapStateStarted {
        length,
    });
    frame.previous_event_id = started;
    let tolerance = (|| {
        let count = tolerated_count(run, &frame, map.tolerated_failure_count.as_ref())?;
        let percentage =
            tolerated_percentage(run, &frame, map.tolerated_failure_percentage.as_ref())?;
        let batcher = match &map.item_batcher {
            Some(batcher) => Some(Batcher::new(run, &frame, batcher, &effective)?),
            None => None,
        };
        Ok::<_, Failure>((count, percentage, batcher))
    })();
    let (tolerated_count, tolerated_percentage, batcher) = match tolerance {
        Ok(tolerance) => tolerance,
        Err(failure) => {
            return super::fail_before_start(
                run,
                id,
                frame,
                state,
                failure,
                Some(Details::MapStateFailed),
            )
        }
    };
    let mut run_arn = String::new();
    let mut map_run = None;
    // Batches, and items read from S3, are counted as their children start.
    let streamed = reading.is_some();
    let children_known = (map.item_batcher.is_none() && !streamed).then_some(length as u64);
    let redriven = match frame.completed {
        Some(_) if map.distributed => redriven_map_run(run, state, map),
        _ => None,
    };
    if let Some(index) = redriven {
        if run.execution.map_runs[index].redrive_count >= limits::MAP_RUN_REDRIVES_MAX {
            let cause = format!(
                "The Map Run has been redriven {} times, its limit.",
                limits::MAP_RUN_REDRIVES_MAX
            );
            let failure = io::runtime_failure(run, &frame, &cause);
            let failed = Some(Details::MapStateFailed);
            return super::fail_before_start(run, id, frame, state, failure, failed);
        }
        // A redrive reruns the same Map Run: its unsuccessful children start again and
        // the counts are taken afresh (children that succeeded count as they are skipped,
        // those to be rerun as pending a redrive until they start).
        let now = run.now;
        let record = &mut run.execution.map_runs[index];
        record.status = MapRunStatus::Running;
        record.stop_millis = None;
        record.redrive_count += 1;
        record.redrive_millis = Some(now);
        record.items = pending(Some(length as u64));
        record.executions = pending(children_known);
        // Every child that did not succeed runs again, those whose failure was tolerated
        // (and whose error output was kept as their result) too.
        let completed = frame.completed.get_or_insert_with(Vec::new);
        let (mut items_rerun, mut children_rerun) = (0, 0);
        for (slot, child) in record.children.iter().enumerate() {
            let Some(child) = child.as_ref().filter(|c| c.status != Status::Succeeded) else {
                continue;
            };
            if let Some(result) = completed.get_mut(slot) {
                *result = None;
            }
            items_rerun += child.item_count;
            children_rerun += 1;
        }
        match streamed {
            false => record.items.pending -= items_rerun,
            true => record.items.total += items_rerun,
        }
        record.items.pending_redrive = items_rerun;
        match children_known {
            Some(_) => record.executions.pending -= children_rerun,
            // Batches are counted as they start, except those that start again.
            None => record.executions.total += children_rerun,
        }
        record.executions.pending_redrive = children_rerun;
        let (map_run_arn, redrive_count) = (record.map_run_arn.clone(), record.redrive_count);
        run_arn = map_run_arn.clone();
        started = run.emit(started, || Details::MapRunRedriven {
            map_run_arn,
            redrive_count,
        });
        frame.previous_event_id = started;
        map_run = Some(index);
    } else if map.distributed {
        run_arn = map_run_arn(run, state, map);
        let map_run_arn = run_arn.clone();
        started = run.emit(started, || Details::MapRunStarted { map_run_arn });
        frame.previous_event_id = started;
        map_run = Some(run.execution.map_runs.len());
        run.execution.map_runs.push(MapRun {
            map_run_arn: run_arn.clone(),
            status: MapRunStatus::Running,
            start_millis: run.now,
            stop_millis: None,
            max_concurrency,
            tolerated_failure_count: tolerated_count.unwrap_or(0),
            tolerated_failure_percentage: tolerated_percentage.unwrap_or(0.0),
            items: pending(Some(length as u64)),
            executions: pending(children_known),
            redrive_count: 0,
            redrive_millis: None,
            children: Vec::new(),
            exported: Vec::new(),
        });
    }
    // Batches are built as their children start, so their slots are added then.
    let slots = if batcher.is_some() { 0 } else { length };
    let export = map.result_writer.as_ref().and_then(|w| w.export.as_ref());
    let result_files = match (export, map_run) {
        (Some(export), Some(map_run)) => {
            let earlier = &run.execution.map_runs[map_run].exported;
            Some(Box::new(ResultFiles::new(export, earlier)))
        }
        _ => None,
    };
    let mut children = Children {
        results: vec![None; slots],
        running: vec![None; slots],
        remaining: length,
        items: Items::new(items, keys),
        reader: reading.map(Box::new),
        streamed,
        effective_input: effective,
        max_concurrency: concurrency_limit(max_concurrency, map.distributed),
        tolerated_count,
        tolerated_percentage,
        handoff: started,
        tail: started,
        batcher,
        map_run_arn: run_arn,
        map_run,
        keep_inputs: map.result_writer.is_some(),
        result_files,
        ..Children::default()
    };
    // A redrive reruns only the iterations that did not succeed: those that did are
    // skipped as their turn comes (`start_iterations`).
    children.completed = frame.completed.take().unwrap_or_default();
    frame.phase = Phase::AwaitChildren(Box::new(children));
    go_on(run, id, frame, state)
}

/// Starts what children may start of a Map awaiting them (`frame.phase`), then parks it,
/// or ends it when every item ended (a redrive may find every one done already).
pub(super) fn go_on(run: &mut Run<'_>, id: FrameId, mut frame: Frame, state: &State) -> Next {
    let steppe_asl::definition::Kind::Map(map) = &state.kind else {
        unreachable!("a Map state")
    };
    let Phase::AwaitChildren(mut children) = std::mem::replace(&mut frame.phase, Phase::Run) else {
        unreachable!("a Map with children awaits them")
    };
    if let Some(export) = map.result_writer.as_ref().and_then(|w| w.export.as_ref()) {
        let sent = super::result_files::send_part(run, id, &frame, state, export, &mut children);
        if let Err(failure) = sent {
            // Nothing more is written: the Map Run fails as a failed export does.
            children.result_files = None;
            frame.previous_event_id = children.tail;
            return fail_map_run(run, id, frame, state, children, failure);
        }
    }
    if !children.all_done() {
        if let Err(failure) = start_iterations(run, id, &mut frame, state, map, &mut children) {
            super::reader::cancel(run, &children);
            super::result_files::cancel(run, &children);
            return Next::Failed(frame, failure);
        }
    }
    if children.all_done() {
        return succeed(run, id, frame, state, *children);
    }
    frame.phase = Phase::AwaitChildren(children);
    Next::Parked(frame)
}

/// Starts the next iteration, if the concurrency limit allows and an item is left.
///
/// Iterations start one at a time: the next starts when a running one ends or waits for a
/// task or timer (see [`kick`]). Iterations that never wait therefore run back to back, as
/// in AWS's histories, and waiting ones still overlap up to `MaxConcurrency`.
fn start_iterations(
    run: &mut Run<'_>,
    id: FrameId,
    frame: &mut Frame,
    state: &State,
    map: &Map,
    children: &mut Children,
) -> Result<(), Failure> {
    // Children wait while a result file holds too much text not written yet.
    let held = children.result_files.as_ref().is_some_and(|f| f.full());
    if held {
        super::reader::refill(run, id, state, children);
        return Ok(());
    }
    if children.batcher.is_some() {
        start_batch(run, id, frame, state, map, children)?;
    } else {
        start_item(run, id, frame, state, map, children)?;
    }
    super::reader::refill(run, id, state, children);
    Ok(())
}

/// Starts the next item's child, if the concurrency limit allows and an item is left;
/// items that already succeeded before a redrive are skipped.
fn start_item(
    run: &mut Run<'_>,
    id: FrameId,
    frame: &mut Frame,
    state: &State,
    map: &Map,
    children: &mut Children,
) -> Result<(), Failure> {
    while children.next_index < children.items.len() {
        let index = children.next_index;
        let Some(result) = children.completed.get_mut(index).and_then(Option::take) else {
            break;
        };
        children.items.take(index);
        children.next_index += 1;
        children.results[index] = Some(result);
        children.remaining -= 1;
        count_child(run, children, Counted::Done, 1);
    }
    if children.next_index < children.items.len() && children.active < children.max_concurrency {
        let index = children.next_index;
        children.next_index += 1;
        let Some(item) = children.items.take(index) else {
            unreachable!("items not started are held")
        };
        let input = select_item(run, frame, map, &children.effective_input, item)?;
        let started = record_child(run, children, index, 1, &input);
        count_child(run, children, started, 1);
        start_child(run, id, frame, state, map, children, index, input);
    }
    Ok(())
}

/// Starts the next batch's child, if the concurrency limit allows and an item is left;
/// batches that already succeeded before a redrive are built and skipped.
fn start_batch(
    run: &mut Run<'_>,
    id: FrameId,
    frame: &mut Frame,
    state: &State,
    map: &Map,
    children: &mut Children,
) -> Result<(), Failure> {
    while children.active < children.max_concurrency {
        let Children {
            batcher,
            items,
            next_index,
            effective_input,
            reader,
            ..
        } = children;
        let batcher = batcher.as_mut().expect("a batching Map has a batcher");
        let complete = reader.is_none();
        let Some(batch) = batch::next_batch(
            run,
            frame,
            map,
            batcher,
            (items, complete),
            next_index,
            effective_input,
        )?
        else {
            return Ok(());
        };
        let slot = children.results.len();
        let done = children.completed.get_mut(slot).and_then(Option::take);
        children.running.push(None);
        match done {
            Some(result) => {
                children.results.push(Some(result));
                children.remaining -= batch.count;
                count_child(run, children, Counted::Done, batch.count as u64);
            }
            None => {
                children.results.push(None);
                let items = batch.count as u64;
                let started = record_child(run, children, slot, items, &batch.input);
                count_child(run, children, started, items);
                start_child(run, id, frame, state, map, children, slot, batch.input);
                return Ok(());
            }
        }
    }
    Ok(())
}

/// `ItemSelector` applied to `item`, or the item's value without one.
pub(super) fn select_item(
    run: &mut Run<'_>,
    frame: &mut Frame,
    map: &Map,
    effective: &Value,
    item: MapItem,
) -> Result<Value, Failure> {
    match (&map.item_selector, &map.item_selector_jsonata) {
        (Some(selector), _) => {
            // `$$.Map.Item` is visible to the ItemSelector only, so the item is set on the
            // Map's frame just for this evaluation.
            frame.map_item = Some(item);
            let input = io::evaluate_template(run, frame, effective, selector);
            frame.map_item = None;
            input
        }
        (None, Some(selector)) => {
            frame.map_item = Some(item);
            let states = crate::jsonata::states(run, frame);
            let input = crate::jsonata::evaluate(run, frame, selector, "ItemSelector", &states);
            frame.map_item = None;
            input
        }
        (None, None) => Ok(item.value),
    }
}

/// Starts the child of `slot` with `input`.
#[allow(clippy::too_many_arguments)]
fn start_child(
    run: &mut Run<'_>,
    id: FrameId,
    frame: &Frame,
    state: &State,
    map: &Map,
    children: &mut Children,
    index: usize,
    input: Value,
) {
    let block = run.definition.block(map.processor);
    children.active += 1;
    let name = state.name.clone();
    // A distributed Map's iterations are child executions with histories of their own,
    // which cannot read the parent's variables.
    let (started, scope, sink) = match children.map_run.filter(|_| map.distributed) {
        Some(map_run) => {
            let child = ChildId {
                map_run,
                slot: index,
            };
            let started = start_child_history(run, child, &input);
            if map.express_children {
                arm_child_timer(run, child);
            }
            (started, run.new_scope(None), Some(child))
        }
        None if map.distributed => (children.handoff, run.new_scope(None), run.sink),
        None => {
            let started = run.emit(children.handoff, || {
                Details::MapIterationStarted(MapIteration { name, index })
            });
            (started, run.new_scope(Some(frame.scope)), run.sink)
        }
    };
    // A Standard child rerun by a redrive resumes at the state it ended in, with that
    // state's input and its variables; any other starts at the processor's first state.
    let point = sink.and_then(|child| {
        let record = run.execution.map_runs[child.map_run].child_mut(child.slot)?;
        record
            .redrive_point
            .take()
            .filter(|_| record.redrive_count > 0)
    });
    let (start_at, input, completed) = match point {
        Some(point) => {
            for (name, value) in point.variables {
                run.set_variable(scope, name, value);
            }
            (point.state, point.input, point.completed)
        }
        None => (block.start_at, input, None),
    };
    let child = run.new_frame(Some((id, index)), scope, start_at, input, started);
    if let Some(child) = run.execution.frames[child.0].as_mut() {
        child.sink = sink;
        child.completed = completed;
    }
    children.running[index] = Some(child);
    run.ready(child);
}

/// An iteration ended.
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
        unreachable!("a Map with children awaits them")
    };
    let steppe_asl::definition::Kind::Map(map) = &state.kind else {
        unreachable!("a Map state")
    };
    children.running[slot] = None;
    children.active -= 1;
    // A batch's child stands for all its items.
    let items = children
        .batcher
        .as_ref()
        .map_or(1, |batcher| batcher.counts[slot]);
    children.remaining -= items;
    let name = state.name.clone();
    let iteration = MapIteration { name, index: slot };
    let last_event_id_of_child = last_event_id;
    let last_event_id = if map.distributed {
        children.tail
    } else {
        last_event_id
    };
    // A child ended from outside (`end_child`) has ended its history and record already.
    let ended = children.map_run.and_then(|map_run| {
        let record = run.execution.map_runs[map_run].child_mut(slot)?;
        (record.status != Status::Running).then_some(record.status)
    });
    let stopped = ended == Some(Status::Aborted);
    if let Some(map_run) = children.map_run {
        cancel_child_timer(run, ChildId { map_run, slot });
    }
    if let Some(map_run) = children
        .map_run
        .filter(|_| map.distributed && ended.is_none())
    {
        end_child_history(
            run,
            ChildId { map_run, slot },
            &result,
            last_event_id_of_child,
        );
    }
    let outcome = match result {
        Ok(_) => Counted::Succeeded,
        Err(_) if stopped => Counted::Aborted,
        Err(_) if ended == Some(Status::TimedOut) => Counted::TimedOut,
        Err(_) => Counted::Failed,
    };
    count_child(run, &children, outcome, items as u64);
    if ended.is_none() {
        child_record_ended(run, &children, slot, &result);
    }
    // An exported child's entry goes to its result file now; its result is not kept.
    let result = match children.result_files.is_some() {
        true => {
            export_entry(run, &mut children, map, slot, &result);
            result.map(|_| Value::Null)
        }
        false => result,
    };
    match result {
        Ok(output) => {
            children.results[slot] = Some(output);
            if !map.distributed {
                children.tail =
                    run.emit(last_event_id, || Details::MapIterationSucceeded(iteration));
            }
        }
        Err(failure) => {
            if !map.distributed {
                run.emit(last_event_id, || Details::MapIterationFailed(iteration));
            }
            children.failures += items as u64;
            if !tolerates(&children) {
                return fail(run, id, frame, state, children, failure, last_event_id);
            }
            children.results[slot] = Some(match children.result_files.is_some() {
                true => Value::Null,
                false => error_output(&failure),
            });
            children.failed_slots.push(slot);
            children.tail = last_event_id;
        }
    }
    children.handoff = last_event_id;
    frame.phase = Phase::AwaitChildren(children);
    go_on(run, id, frame, state)
}

/// Adds the entry of the child of `slot`, which ended with `result`, to its result file: with
/// `Transformation` NONE, or when it failed, its execution record; else its output (each
/// element of an array output with FLATTEN). The input its record needed is dropped.
fn export_entry(
    run: &mut Run<'_>,
    children: &mut Children,
    map: &Map,
    slot: usize,
    result: &Result<Value, Failure>,
) {
    let transformation = map.result_writer.as_ref().map(|w| w.transformation);
    let entries = match result {
        Ok(output) if transformation == Some(ResultTransformation::None) => {
            let record = execution_record(run, children, slot, output.clone(), false);
            vec![(super::result_files::SUCCEEDED, record)]
        }
        Ok(output) => {
            let flatten = transformation == Some(ResultTransformation::Flatten);
            shape(vec![output.clone()], flatten)
                .into_iter()
                .map(|entry| (super::result_files::SUCCEEDED, entry))
                .collect()
        }
        Err(failure) => {
            let record = execution_record(run, children, slot, error_output(failure), true);
            vec![(super::result_files::FAILED, record)]
        }
    };
    if let Some(files) = children.result_files.as_mut() {
        for (file, entry) in &entries {
            files.append(*file, entry);
        }
    }
    forget_child_data(run, children, slot);
}

/// Drops what the record of the child of `slot` kept only for its result file's entry.
pub(super) fn forget_child_data(run: &mut Run<'_>, children: &Children, slot: usize) {
    if run.execution.config.map_run_children_data {
        return;
    }
    let Some(map_run) = children.map_run else {
        return;
    };
    if let Some(record) = run.execution.map_runs[map_run].child_mut(slot) {
        record.input = None;
        record.error = None;
    }
}

/// A running iteration of Map frame `id` started waiting: start another if allowed.
pub(crate) fn kick(run: &mut Run<'_>, id: FrameId) {
    let Some(mut frame) = run.execution.frames[id.0].take() else {
        return;
    };
    let state = run.definition.state(frame.state);
    let (Phase::AwaitChildren(children), steppe_asl::definition::Kind::Map(map)) =
        (&mut frame.phase, &state.kind)
    else {
        run.store(id, frame);
        return;
    };
    let mut children = std::mem::take(children);
    let child_sink = std::mem::replace(&mut run.sink, frame.sink);
    let started = start_iterations(run, id, &mut frame, state, map, &mut children);
    if started.is_err() {
        super::reader::cancel(run, &children);
    }
    frame.phase = Phase::AwaitChildren(children);
    match started {
        Ok(()) => run.store(id, frame),
        Err(failure) => run.settle(id, Next::Failed(frame, failure)),
    }
    run.sink = child_sink;
}

fn tolerates(children: &Children) -> bool {
    // Items read from S3 count as they are read.
    let total = children.items.len().max(1) as f64;
    let within_count = children
        .tolerated_count
        .is_some_and(|count| children.failures <= count);
    let within_percentage = children
        .tolerated_percentage
        .is_some_and(|pct| children.failures as f64 * 100.0 / total <= pct);
    within_count || within_percentage
}

fn fail(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    children: Box<Children>,
    failure: Failure,
    source: u64,
) -> Next {
    let failure = if children.tolerated_count.is_some() || children.tolerated_percentage.is_some() {
        Failure::new(
            error_name::EXCEED_TOLERATED_FAILURE_THRESHOLD,
            "The specified tolerated failure threshold was exceeded",
        )
    } else {
        failure
    };
    frame.previous_event_id = source;
    fail_map_run(run, id, frame, state, children, failure)
}

/// Fails the Map with `failure` after its event `frame.previous_event_id`: its running
/// children are aborted, its reading stops, and its Map Run fails (its results written
/// first when it has a `ResultWriter`).
pub(super) fn fail_map_run(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    children: Box<Children>,
    failure: Failure,
) -> Next {
    // Standard children it aborts resume where they were when it is redriven.
    let steppe_asl::definition::Kind::Map(map) = &state.kind else {
        unreachable!("a Map state")
    };
    let running: Vec<FrameId> = children.running_frames().collect();
    for child in &running {
        if let Some(child_frame) = run.execution.frames[child.0].clone() {
            super::child_executions::keep_redrive_point_of(run, &child_frame, map);
        }
    }
    running.into_iter().for_each(|child| abort(run, child));
    super::reader::cancel(run, &children);
    let source = frame.previous_event_id;
    frame.completed = Some(children.results.clone());
    if let Some(map_run) = children.map_run {
        run.end_map_run(map_run, MapRunStatus::Failed);
    }
    let export = map.result_writer.as_ref().and_then(|w| w.export.as_ref());
    if let (Some(export), Some(_), true) =
        (export, children.map_run, children.result_files.is_some())
    {
        // A failed Map Run's results are written too (SUCCEEDED, FAILED and PENDING files:
        // ResultWriter page); the Map fails once they are.
        let written = failed_results(run, &mut frame, map, *children, failure);
        return super::writer::export(run, id, frame, state, export, written);
    }
    if is_distributed(state) {
        let details = crate::event::ErrorCause {
            error: Some(failure.error.clone()),
            cause: Some(failure.cause.clone()),
        };
        frame.previous_event_id = run.emit(source, || Details::MapRunFailed(details));
    }
    fail_state_with(
        run,
        id,
        frame,
        state,
        failure,
        Some(Details::MapStateFailed),
    )
}

fn succeed(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    mut children: Children,
) -> Next {
    let writer = match &state.kind {
        steppe_asl::definition::Kind::Map(map) => map.result_writer.as_ref(),
        _ => None,
    };
    let transformation = writer.map(|writer| writer.transformation);
    let flatten = transformation == Some(ResultTransformation::Flatten);
    let none = transformation == Some(ResultTransformation::None);
    let mut failed = vec![false; children.results.len()];
    for slot in &children.failed_slots {
        failed[*slot] = true;
    }
    if writer.is_some() && children.result_files.is_none() {
        // With a ResultWriter, a child's entry is its execution record with NONE, and a
        // failed child's always is ("If a child workflow execution fails, Step Functions
        // returns its execution result unchanged", as with NONE: ResultWriter page).
        let results = std::mem::take(&mut children.results);
        children.results = results
            .into_iter()
            .enumerate()
            .map(|(slot, result)| {
                let result = result.unwrap_or_default();
                Some(match none || failed[slot] {
                    true => execution_record(run, &children, slot, result, failed[slot]),
                    false => result,
                })
            })
            .collect();
    }
    let export = writer.and_then(|writer| writer.export.as_ref());
    if let (Some(export), Some(files)) = (export, children.result_files.take()) {
        // The results were sent as the children ended; the Map succeeds once the files are
        // complete.
        let written = super::writer::Written {
            map_run_arn: children.map_run_arn,
            map_run: children.map_run,
            tail: children.tail,
            files,
            pending: Vec::new(),
            failure: None,
        };
        return super::writer::export(run, id, frame, state, export, written);
    }
    let mut tail = children.tail;
    if is_distributed(state) {
        tail = run.emit(tail, || Details::MapRunSucceeded);
    }
    if let Some(map_run) = children.map_run {
        run.end_map_run(map_run, MapRunStatus::Succeeded);
    }
    run.emit(tail, || Details::MapStateSucceeded);
    frame.previous_event_id = tail;
    let results = children
        .results
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let result = Value::Array(shape(results, flatten));
    super::finish_with_result(run, id, frame, state, result)
}

/// `ResultWriter.WriterConfig` FLATTEN: "If a child workflow execution returns an array, this
/// option flattens the array" (ResultWriter page); COMPACT leaves outputs as they are.
pub(super) fn shape(results: Vec<Value>, flatten: bool) -> Vec<Value> {
    if !flatten {
        return results;
    }
    let mut flat = Vec::new();
    for result in results {
        match result {
            Value::Array(elements) => flat.extend(elements),
            other => flat.push(other),
        }
    }
    flat
}

/// The items of a Map: an array, or (distributed Map) a JSON object, whose key-value pairs
/// [`key_value_pairs`] separates.
fn items(run: &mut Run<'_>, frame: &Frame, effective: &Value, map: &Map) -> Result<Value, Failure> {
    let selected = io::select(run, frame, effective, &map.items_path)?;
    match selected {
        Value::Array(_) => Ok(selected),
        Value::Object(_) if map.distributed => Ok(selected),
        other => {
            let message = format!(
                "Map state input must be an array but was: {}",
                crate::run::to_text(&other)
            );
            Err(io::runtime_failure(run, frame, &message))
        }
    }
}

/// A Map's items: an array's elements, or a JSON object's values with their keys.
///
/// AWS's documentation: a Distributed Map "can accept a JSON input passed from a previous
/// step ... a JSON array, a JSON object, or an array within a node of a JSON object. Step
/// Functions will iterate directly over the elements of an array, or the key-value pairs of
/// a JSON object" (ItemReader page), and `$$.Map.Item.Key` is "only valid for JSON objects"
/// (Context object page). An Inline Map "accepts only a JSON array as input" (Inline mode
/// page; AWS's recorded `Map state input must be an array but was: {...}` agrees).
fn key_value_pairs(items: Value) -> (Vec<String>, Vec<Value>) {
    match items {
        Value::Array(items) => (Vec::new(), items),
        Value::Object(pairs) => pairs.into_iter().unzip(),
        other => unreachable!("items are an array or an object, not {other}"),
    }
}

fn is_distributed(state: &State) -> bool {
    matches!(&state.kind, steppe_asl::definition::Kind::Map(map) if map.distributed)
}

/// A map run's ARN: `arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<uuid>`,
/// with the Map's `Label` (its state name when it has none); see `crate::map_run` for the
/// UUID.
fn map_run_arn(run: &mut Run<'_>, state: &State, map: &Map) -> String {
    let info = &run.execution.info;
    let prefix = info
        .state_machine_arn
        .split(":stateMachine:")
        .next()
        .unwrap_or_default()
        .to_string();
    let machine = info.state_machine_name.clone();
    let execution_id = info.id;
    let random = &mut run.execution.random;
    let (mut high, low) = (random.next_u64(), random.next_u64());
    // The first half names the execution for a server (`map_run::execution_id_of`); an
    // execution with no store id keeps a random one.
    if execution_id != 0 {
        high = crate::map_run::scramble(execution_id);
    }
    format!(
        "{prefix}:mapRun:{machine}/{}:{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        map.label.as_deref().unwrap_or(&state.name),
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

/// JSONata mode: `Items`, or the input itself, must be an array (or, in a distributed Map,
/// an object).
fn items_jsonata(run: &mut Run<'_>, frame: &Frame, map: &Map) -> Result<Value, Failure> {
    let Some(template) = &map.items else {
        return match &frame.input {
            Value::Array(_) => Ok(frame.input.clone()),
            Value::Object(_) if map.distributed => Ok(frame.input.clone()),
            other => {
                let message = format!(
                    "Map state input must be an array but was: {}",
                    crate::run::to_text(other)
                );
                Err(Failure::evaluation(
                    io::state_cause(run, frame, &message),
                    None,
                ))
            }
        };
    };
    let states = crate::jsonata::states(run, frame);
    match crate::jsonata::evaluate(run, frame, template, "Items", &states)? {
        items @ Value::Array(_) => Ok(items),
        items @ Value::Object(_) if map.distributed => Ok(items),
        other => {
            let error = match template.as_expression() {
                Some(expression) => {
                    steppe_asl::jsonata::unexpected_type(expression, "Items", "array", &other)
                }
                None => steppe_asl::jsonata::EvaluationError {
                    location: "Items".to_string(),
                    message: format!(
                        "The field 'Items' must be an array, but was '{}'",
                        steppe_asl::jsonata::type_name(&other)
                    ),
                },
            };
            Err(crate::jsonata::failure(run, frame, error))
        }
    }
}

/// `MaxConcurrency` as the definition gives it (0: no limit but AWS's).
fn configured_concurrency(
    run: &mut Run<'_>,
    frame: &Frame,
    field: &Dynamic<u64>,
) -> Result<u64, Failure> {
    let parse = |value: &Value| integer(value).and_then(|n| u64::try_from(n).ok());
    number_field(run, frame, field, "MaxConcurrency", "integer", parse)
}

/// How many children may run at once for a configured `MaxConcurrency`: AWS runs at most 40
/// inline iterations and 10,000 child executions of a distributed Map at once.
fn concurrency_limit(configured: u64, distributed: bool) -> usize {
    let limit = if distributed {
        limits::DISTRIBUTED_MAP_CONCURRENCY_MAX
    } else {
        limits::INLINE_MAP_CONCURRENCY_MAX
    } as u64;
    (if configured == 0 {
        limit
    } else {
        configured.min(limit)
    }) as usize
}

/// The Map Run a redrive of this distributed Map reruns: the latest one it started that
/// ended unsuccessfully (a Map that failed before starting one starts a new one).
fn redriven_map_run(run: &Run<'_>, state: &State, map: &Map) -> Option<usize> {
    let marker = format!("/{}:", map.label.as_deref().unwrap_or(&state.name));
    run.execution.map_runs.iter().rposition(|record| {
        record.status != MapRunStatus::Running
            && record.status != MapRunStatus::Succeeded
            && record.map_run_arn.contains(&marker)
    })
}

/// `UpdateMapRun`, applied to the running Map Run `map_run_arn` (nothing happens if it is
/// not running): the new settings hold from now on, and more children start at once if the
/// concurrency grew.
pub(crate) fn update(run: &mut Run<'_>, map_run_arn: &str, update: MapRunUpdate) {
    let found = run
        .execution
        .frames
        .iter()
        .enumerate()
        .find_map(
            |(index, frame)| match frame.as_ref().map(|frame| &frame.phase) {
                Some(Phase::AwaitChildren(children)) if children.map_run_arn == map_run_arn => {
                    Some((FrameId(index), children.map_run?))
                }
                _ => None,
            },
        );
    let Some((id, map_run)) = found else {
        return;
    };
    let record = &mut run.execution.map_runs[map_run];
    if let Some(value) = update.max_concurrency {
        record.max_concurrency = value;
    }
    if let Some(value) = update.tolerated_failure_count {
        record.tolerated_failure_count = value;
    }
    if let Some(value) = update.tolerated_failure_percentage {
        record.tolerated_failure_percentage = value;
    }
    if let Some(Phase::AwaitChildren(children)) = run.execution.frames[id.0]
        .as_mut()
        .map(|frame| &mut frame.phase)
    {
        if let Some(value) = update.max_concurrency {
            children.max_concurrency = concurrency_limit(value, true);
        }
        if update.tolerated_failure_count.is_some() {
            children.tolerated_count = update.tolerated_failure_count;
        }
        if update.tolerated_failure_percentage.is_some() {
            children.tolerated_percentage = update.tolerated_failure_percentage;
        }
    }
    kick(run, id);
}

fn tolerated_count(
    run: &mut Run<'_>,
    frame: &Frame,
    field: Option<&Dynamic<i64>>,
) -> Result<Option<u64>, Failure> {
    let Some(field) = field else { return Ok(None) };
    let value = number_field(
        run,
        frame,
        field,
        "ToleratedFailureCount",
        "integer",
        integer,
    )?;
    if value < 0 {
        return Err(io::runtime_failure(
            run,
            frame,
            "ToleratedFailureCount cannot be negative.",
        ));
    }
    Ok(Some(value as u64))
}

fn tolerated_percentage(
    run: &mut Run<'_>,
    frame: &Frame,
    field: Option<&Dynamic<f64>>,
) -> Result<Option<f64>, Failure> {
    let Some(field) = field else { return Ok(None) };
    let value = number_field(
        run,
        frame,
        field,
        "ToleratedFailurePercentage",
        "float",
        float,
    )?;
    if !(0.0..=100.0).contains(&value) {
        return Err(io::runtime_failure(
            run,
            frame,
            "ToleratedFailurePercentage must be between 0 and 100.",
        ));
    }
    Ok(Some(value))
}

/// A Map number field `key`: its literal, or the value its `{key}Path` reads, parsed by
/// `parse`; a value that does not parse is a `States.Runtime` failure in AWS's words.
pub(super) fn number_field<T: Copy>(
    run: &mut Run<'_>,
    frame: &Frame,
    field: &Dynamic<T>,
    key: &str,
    kind: &str,
    parse: impl Fn(&Value) -> Option<T>,
) -> Result<T, Failure> {
    match field {
        Dynamic::Literal(value) => Ok(*value),
        Dynamic::Jsonata(expression) => {
            crate::jsonata::number_field(run, frame, expression, key, kind, parse)
        }
        Dynamic::Path(path) => {
            let value = path_value(run, frame, path)?;
            parse(&value).ok_or_else(|| {
                let message = format!(
                    "The {key}Path field refers to value \"{}\" which is not a valid {kind}: {}",
                    shown(&value),
                    path.as_str()
                );
                io::runtime_failure(run, frame, &message)
            })
        }
    }
}

fn path_value(
    run: &mut Run<'_>,
    frame: &Frame,
    path: &steppe_asl::path::Path,
) -> Result<Value, Failure> {
    let input = frame.input.clone();
    let value = Env::new(run, frame, &input).lookup(path)?;
    Ok(value.unwrap_or(Value::Null))
}

/// An integer, or a string holding one (AWS accepts both in `*Path` fields).
pub(super) fn integer(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
}

/// A number, or a string holding one (AWS accepts both in `ToleratedFailurePercentagePath`).
fn float(value: &Value) -> Option<f64> {
    value.as_f64().or_else(|| {
        value
            .as_str()
            .and_then(|text| text.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite())
    })
}

/// A value as AWS quotes it in these messages: strings bare, anything else as JSON text.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => crate::run::to_text(other),
    }
}
