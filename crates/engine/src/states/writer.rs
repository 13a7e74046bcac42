//! `ResultWriter` exports: a distributed Map that ends writes its children's results to
//! Amazon S3 before it succeeds. As with `ItemReader` (`reader.rs`), the engine does no I/O:
//! it asks the runtime with a [`Command::InvokeTask`] whose resource is
//! [`RESULT_WRITER_RESOURCE`] (no history events) and parks; the task's result is the Map's
//! output, `{MapRunArn, ResultWriterDetails: {Bucket, Key}}`, and a failure is the runtime's
//! `States.ResultWriterFailed`, which Retry and Catch see.
//!
//! The results themselves were sent while the Map Run ran (`result_files.rs`): the export
//! sends each file's last part and has it completed. Its parameters: `{"Parameters" (Bucket,
//! Prefix), "MapRunArn", "OutputType", "Files": [...], "Earlier": [...], "Pending": [...]}`
//! (`steppe_tasks::s3::results` says what each holds). A Map Run that failed writes its
//! results too, and its Map fails once they are written.

use super::result_files::ResultFiles;
use crate::event::{Details, ErrorCause};
use crate::execution::{Command, Frame, FrameId, Phase, TaskInvocation};
use crate::io;
use crate::map_run::{ExportedFile, MapRunStatus};
use crate::run::{Next, Run};
use serde_json::{json, Value};
use steppe_asl::definition::{Kind, ResultExport, State};
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
    /// The SUCCEEDED and FAILED files, their entries sent as the children ended.
    pub files: Box<ResultFiles>,
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
    /// The files this export writes, recorded in the Map Run once written.
    exported: Vec<ExportedFile>,
    /// Waiting for the part on its way before the export can go: what it writes then.
    before: Option<Box<Written>>,
}

/// The ResultWriter's `Parameters`/`Arguments` (Bucket, Prefix), evaluated.
pub(super) fn parameters(
    run: &mut Run<'_>,
    frame: &Frame,
    state: &State,
    export: &ResultExport,
) -> Result<Value, Failure> {
    match (&export.parameters, &export.arguments) {
        (Some(template), _) => {
            let effective = match io::json_path_io(state) {
                Some(json_path) => io::select(run, frame, &frame.input, &json_path.input_path),
                None => Ok(frame.input.clone()),
            };
            effective.and_then(|effective| io::evaluate_template(run, frame, &effective, template))
        }
        (None, Some(template)) => {
            let states = crate::jsonata::states(run, frame);
            crate::jsonata::evaluate(run, frame, template, "Arguments", &states)
        }
        (None, None) => Ok(json!({})),
    }
}

/// Asks for the results to be written, once the part on its way (if one is) was.
pub(crate) fn export(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    export: &ResultExport,
    written: Written,
) -> Next {
    if let Some((task_id, _)) = written.files.sending {
        frame.phase = Phase::AwaitWrite(Box::new(Writing {
            task_id,
            map_run_arn: written.map_run_arn.clone(),
            map_run: written.map_run,
            tail: written.tail,
            failure: written.failure.clone(),
            exported: Vec::new(),
            before: Some(Box::new(written)),
        }));
        return Next::Parked(frame);
    }
    let parameters = match parameters(run, &frame, state, export) {
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
    // A redriven Map Run's earlier SUCCEEDED files stay listed; its failures are rerun.
    let earlier: Vec<Value> = written
        .map_run
        .map(|map_run| run.execution.map_runs[map_run].exported.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|file| file.status == "SUCCEEDED")
        .map(|file| json!({"Status": file.status, "File": file.name, "Size": file.size}))
        .collect();
    let (files, exported) = written.files.finish();
    let task_id = run.new_wait_id();
    run.execution.waiting.insert(task_id, id);
    let output_type = if export.jsonl { "JSONL" } else { "JSON" };
    let request = json!({
        "Parameters": parameters,
        "MapRunArn": written.map_run_arn,
        "OutputType": output_type,
        "Files": files,
        "Earlier": earlier,
        "Pending": written.pending,
    });
    let task = TaskInvocation::internal(task_id, state, RESULT_WRITER_RESOURCE, request);
    run.commands.push(Command::InvokeTask(task));
    frame.phase = Phase::AwaitWrite(Box::new(Writing {
        task_id,
        map_run_arn: written.map_run_arn,
        map_run: written.map_run,
        tail: written.tail,
        failure: written.failure,
        exported,
        before: None,
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
    if let Some(mut before) = writing.before {
        // The part on its way was written: the export can go.
        let sent = super::result_files::part_written(run, &mut before.files, result);
        let export = match &state.kind {
            Kind::Map(map) => map.result_writer.as_ref().and_then(|w| w.export.as_ref()),
            _ => None,
        };
        let failure = match (sent, export) {
            (Ok(()), Some(export)) => return self::export(run, id, frame, state, export, *before),
            (Ok(()), None) => unreachable!("a Map writing its results has an export"),
            (Err(failure), _) => failure,
        };
        return end_failed(
            run,
            id,
            frame,
            state,
            (writing.tail, writing.map_run),
            failure,
        );
    }
    if let Some(map_run) = writing.map_run.filter(|_| result.is_ok()) {
        let record = &mut run.execution.map_runs[map_run];
        record.exported.extend(writing.exported);
        // Every ended child's result went to a file: SUCCEEDED_n or FAILED_n.
        for counts in [&mut record.items, &mut record.executions] {
            counts.results_written = counts.succeeded + counts.failed + counts.aborted;
        }
    }
    let failure = match (result, writing.failure) {
        (Ok(mut output), None) => {
            // The runtime answers the details; the ARN is the engine's.
            output["MapRunArn"] = json!(writing.map_run_arn);
            let tail = run.emit(writing.tail, || Details::MapRunSucceeded);
            if let Some(map_run) = writing.map_run {
                run.end_map_run(map_run, MapRunStatus::Succeeded);
            }
            run.emit(tail, || Details::MapStateSucceeded);
            frame.previous_event_id = tail;
            return super::finish_with_result(run, id, frame, state, output);
        }
        (Ok(_), Some(failure)) | (Err(failure), _) => failure,
    };
    end_failed(
        run,
        id,
        frame,
        state,
        (writing.tail, writing.map_run),
        failure,
    )
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
