//! `ResultWriter` exports: a distributed Map that ends writes its children's results to
//! Amazon S3 before it succeeds. As with `ItemReader` (`reader.rs`), the engine does no I/O:
//! it asks the runtime with a [`Command::InvokeTask`] whose resource is
//! [`RESULT_WRITER_RESOURCE`] (no history events) and parks; the task's result is the Map's
//! output, `{MapRunArn, ResultWriterDetails: {Bucket, Key}}`, and a failure is the runtime's
//! `States.ResultWriterFailed`, which Retry and Catch see.
//!
//! The task's parameters: `{"Parameters" (Bucket, Prefix), "MapRunArn", "OutputType",
//! "Succeeded": [...], "Failed": [...], "Pending": [...]}`. A Map Run that failed writes its
//! results too, and its Map fails once they are written.

use crate::event::{Details, ErrorCause};
use crate::execution::{Command, Frame, FrameId, Phase, TaskInvocation};
use crate::io;
use crate::map_run::MapRunStatus;
use crate::run::{Next, Run};
use serde_json::{json, Value};
use steppe_asl::definition::{ResultExport, State};
use steppe_asl::error_name::Failure;

/// The resource of the tasks that write a Map's results.
pub const RESULT_WRITER_RESOURCE: &str = "steppe:resultWriter";

/// What an ended Map writes.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub map_run_arn: String,
    /// The Map Run's record in `Execution::map_runs`.
    pub map_run: Option<usize>,
    /// The event the Map's end events follow from.
    pub tail: u64,
    /// The succeeded children's outputs, shaped by the `Transformation`.
    pub succeeded: Vec<Value>,
    /// The execution records of the children that failed (or were aborted).
    pub failed: Vec<Value>,
    /// The entries of the children never started (a failed Map Run's).
    pub pending: Vec<Value>,
    /// Why the Map Run failed, if it did: the Map fails with it once the results are written.
    pub failure: Option<Failure>,
}

/// A Map waiting for its results to be written.
#[derive(Debug, Clone)]
pub(crate) struct Writing {
    pub task_id: u64,
    map_run_arn: String,
    /// The Map Run's record in `Execution::map_runs`.
    pub map_run: Option<usize>,
    tail: u64,
    failure: Option<Failure>,
}

/// Evaluates `Parameters`/`Arguments` and asks for the results to be written.
pub(crate) fn export(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    export: &ResultExport,
    written: Written,
) -> Next {
    let parameters = match (&export.parameters, &export.arguments) {
        (Some(template), _) => {
            let effective = match io::json_path_io(state) {
                Some(json_path) => io::select(run, &frame, &frame.input, &json_path.input_path),
                None => Ok(frame.input.clone()),
            };
            effective.and_then(|effective| io::evaluate_template(run, &frame, &effective, template))
        }
        (None, Some(template)) => {
            let states = crate::jsonata::states(run, &frame);
            crate::jsonata::evaluate(run, &frame, template, "Arguments", &states)
        }
        (None, None) => Ok(json!({})),
    };
    let parameters = match parameters {
        Ok(parameters) => parameters,
        Err(failure) => {
            return end_failed(
                run,
                id,
                frame,
                state,
                (written.tail, written.map_run),
                failure,
            )
        }
    };
    let task_id = run.new_wait_id();
    run.execution.waiting.insert(task_id, id);
    let output_type = if export.jsonl { "JSONL" } else { "JSON" };
    run.commands.push(Command::InvokeTask(TaskInvocation {
        task_id,
        state_name: state.name.clone(),
        resource: RESULT_WRITER_RESOURCE.to_string(),
        parameters: json!({
            "Parameters": parameters,
            "MapRunArn": written.map_run_arn,
            "OutputType": output_type,
            "Succeeded": written.succeeded,
            "Failed": written.failed,
            "Pending": written.pending,
        }),
        timeout_seconds: None,
        heartbeat_seconds: None,
        task_token: None,
        invocation: 0,
    }));
    frame.phase = Phase::AwaitWrite(Box::new(Writing {
        task_id,
        map_run_arn: written.map_run_arn,
        map_run: written.map_run,
        tail: written.tail,
        failure: written.failure,
    }));
    Next::Parked(frame)
}

/// The results were written (or not): the Map succeeds with the export's details, or fails.
pub(crate) fn written(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    writing: Writing,
    result: Result<Value, Failure>,
) -> Next {
    run.execution.waiting.remove(&writing.task_id);
    let state = run.definition.state(frame.state);
    frame.phase = Phase::Run;
    if let Some(map_run) = writing.map_run.filter(|_| result.is_ok()) {
        let record = &mut run.execution.map_runs[map_run];
        // Every ended child's result went to a file: SUCCEEDED_n or FAILED_n.
        for counts in [&mut record.items, &mut record.executions] {
            counts.results_written = counts.succeeded + counts.failed + counts.aborted;
        }
    }
    match (result, writing.failure) {
        (Ok(_), Some(failure)) => end_failed(
            run,
            id,
            frame,
            state,
            (writing.tail, writing.map_run),
            failure,
        ),
        (Ok(mut output), None) => {
            // The runtime answers the details; the ARN is the engine's.
            output["MapRunArn"] = json!(writing.map_run_arn);
            let tail = run.emit(writing.tail, || Details::MapRunSucceeded);
            if let Some(map_run) = writing.map_run {
                run.end_map_run(map_run, MapRunStatus::Succeeded);
            }
            run.emit(tail, || Details::MapStateSucceeded);
            frame.previous_event_id = tail;
            super::finish_with_result(run, id, frame, state, output)
        }
        (Err(failure), _) => end_failed(
            run,
            id,
            frame,
            state,
            (writing.tail, writing.map_run),
            failure,
        ),
    }
}

/// The map run fails, and with it the Map, handled by its Retry and Catch.
fn end_failed(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    (tail, map_run): (u64, Option<usize>),
    failure: Failure,
) -> Next {
    if let Some(map_run) = map_run {
        run.execution.map_runs[map_run].end(MapRunStatus::Failed, run.now);
    }
    let details = ErrorCause {
        error: Some(failure.error.clone()),
        cause: Some(failure.cause.clone()),
    };
    frame.previous_event_id = run.emit(tail, || Details::MapRunFailed(details));
    super::fail_state(run, id, frame, state, failure)
}
