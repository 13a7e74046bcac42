//! A `ResultWriter` export's result files, written while the Map Run runs: each child's
//! entry is formatted into its file's text as the child ends (its output or execution record
//! is then dropped), and each time a file holds [`limits::RESULT_WRITER_PART_BYTES`] of text
//! not sent yet, the text goes to the runtime as a part of the file's multipart upload (a
//! [`Command::InvokeTask`] of [`RESULT_WRITER_RESOURCE`], `"Action": "UploadPart"`; the
//! answer, `{UploadId, ETag}`, is an input in the log like any task's). The export at the
//! end (`writer.rs`) sends what is left and completes the files.
//!
//! One part is on its way at a time (the first one's answer names the upload the others
//! join), and no child starts while a file holds [`limits::RESULT_WRITER_HELD_BYTES_MAX`]
//! unsent, so a Map Run holds a bounded amount of result text whatever its number of
//! children. Everything here is rebuilt by replaying the log: a part whose answer was
//! committed is never sent again, and one on its way at a crash is sent again (as the same
//! part of the same upload, which replaces itself) from the runtime's tasks.

use super::map::Children;
use super::writer::RESULT_WRITER_RESOURCE;
use crate::execution::{Command, Frame, FrameId, Phase, TaskInvocation};
use crate::map_run::ExportedFile;
use crate::run::{Next, Run};
use serde_json::{json, Value};
use steppe_asl::definition::{ResultExport, State};
use steppe_asl::error_name::{Failure, RESULT_WRITER_FAILED};
use steppe_asl::limits;

/// The SUCCEEDED and FAILED files of a Map Run's export (PENDING entries are known only at
/// the end, and written then).
#[derive(Debug, Clone)]
pub(crate) struct ResultFiles {
    /// `OutputType` JSONL: one entry per line, else a JSON array.
    jsonl: bool,
    /// SUCCEEDED, then FAILED.
    files: [ResultFile; 2],
    /// The ResultWriter's parameters (Bucket, Prefix), evaluated when the first part goes.
    parameters: Option<Value>,
    /// The part on its way, if one is: its task and its file.
    pub sending: Option<(u64, usize)>,
}

/// The file of succeeded children's entries.
pub(crate) const SUCCEEDED: usize = 0;
/// The file of failed (and aborted, timed out) children's entries.
pub(crate) const FAILED: usize = 1;

#[derive(Debug, Clone)]
struct ResultFile {
    /// `SUCCEEDED`, `FAILED`.
    status: &'static str,
    /// Its `n` in `SUCCEEDED_n.json`.
    index: usize,
    /// Its upload, once its first part was written.
    upload_id: Option<String>,
    /// The parts written, `(number, ETag)`.
    parts: Vec<(u32, String)>,
    /// Its text not sent yet.
    text: String,
    /// Entries in it so far, sent or not.
    entries: u64,
    /// Bytes in it so far, sent or not.
    size: u64,
}

impl ResultFile {
    fn new(status: &'static str, earlier: &[ExportedFile]) -> ResultFile {
        // A redriven Map Run's files follow its earlier runs' files, never replacing them.
        let index = earlier.iter().filter(|file| file.status == status).count();
        ResultFile {
            status,
            index,
            upload_id: None,
            parts: Vec::new(),
            text: String::new(),
            entries: 0,
            size: 0,
        }
    }

    fn name(&self) -> String {
        format!("{}_{}.json", self.status, self.index)
    }

    fn push(&mut self, text: &str) {
        self.text.push_str(text);
        self.size += text.len() as u64;
    }
}

impl ResultFiles {
    /// The files of a Map Run whose earlier runs exported `earlier`.
    pub fn new(export: &ResultExport, earlier: &[ExportedFile]) -> ResultFiles {
        ResultFiles {
            jsonl: export.jsonl,
            files: [
                ResultFile::new("SUCCEEDED", earlier),
                ResultFile::new("FAILED", earlier),
            ],
            parameters: None,
            sending: None,
        }
    }

    /// Adds `entry` to file `file` (`SUCCEEDED` or `FAILED`).
    pub fn append(&mut self, file: usize, entry: &Value) {
        let jsonl = self.jsonl;
        let file = &mut self.files[file];
        let separator = match (jsonl, file.entries) {
            (true, _) => "",
            (false, 0) => "[",
            (false, _) => ",",
        };
        file.push(separator);
        file.push(&crate::run::to_text(entry));
        if jsonl {
            file.push("\n");
        }
        file.entries += 1;
    }

    /// Whether a file holds so much unsent text that no child may start.
    pub fn full(&self) -> bool {
        self.files
            .iter()
            .any(|file| file.text.len() >= limits::RESULT_WRITER_HELD_BYTES_MAX)
    }

    /// The files' last parts and how to complete them, for the export's request (files
    /// without entries are not written), and the files this export writes, for the Map
    /// Run's record.
    pub fn finish(mut self) -> (Vec<Value>, Vec<ExportedFile>) {
        assert!(self.sending.is_none(), "the last part was written");
        let jsonl = self.jsonl;
        let mut requests = Vec::new();
        let mut exported = Vec::new();
        for file in self.files.iter_mut().filter(|file| file.entries > 0) {
            if !jsonl {
                file.push("]");
            }
            let mut request = json!({"Status": file.status, "File": file.name(),
                "Body": std::mem::take(&mut file.text), "Size": file.size});
            if let Some(upload_id) = &file.upload_id {
                request["UploadId"] = json!(upload_id);
                let parts: Vec<Value> = file
                    .parts
                    .iter()
                    .map(|(number, etag)| json!({"PartNumber": number, "ETag": etag}))
                    .collect();
                request["Parts"] = Value::Array(parts);
            }
            requests.push(request);
            exported.push(ExportedFile {
                status: file.status.to_string(),
                name: file.name(),
                size: file.size,
            });
        }
        (requests, exported)
    }
}

/// Sends the next part, if none is on its way and a file holds a part's worth of text.
/// `Err` when the ResultWriter's parameters cannot be evaluated or a file has too many parts.
pub(super) fn send_part(
    run: &mut Run<'_>,
    id: FrameId,
    frame: &Frame,
    state: &State,
    export: &ResultExport,
    children: &mut Children,
) -> Result<(), Failure> {
    let map_run_arn = children.map_run_arn.clone();
    let Some(files) = children.result_files.as_mut() else {
        return Ok(());
    };
    if files.sending.is_some() {
        return Ok(());
    }
    let part_bytes = limits::RESULT_WRITER_PART_BYTES;
    let Some(index) = files
        .files
        .iter()
        .position(|file| file.text.len() >= part_bytes)
    else {
        return Ok(());
    };
    let parameters = match files.parameters.take() {
        Some(parameters) => parameters,
        None => super::writer::parameters(run, frame, state, export)?,
    };
    files.parameters = Some(parameters.clone());
    let file = &mut files.files[index];
    // The last part is the export's: this one is at most the one before it.
    let number = file.parts.len() as u32 + 1;
    if number >= limits::RESULT_WRITER_PARTS_MAX {
        let cause = format!(
            "The result file '{}' is over {} parts of the multipart upload S3 allows",
            file.name(),
            limits::RESULT_WRITER_PARTS_MAX
        );
        return Err(Failure::new(RESULT_WRITER_FAILED, cause));
    }
    let mut request = json!({"Action": "UploadPart", "Parameters": parameters,
        "MapRunArn": map_run_arn, "File": file.name(), "PartNumber": number,
        "Body": std::mem::take(&mut file.text)});
    if let Some(upload_id) = &file.upload_id {
        request["UploadId"] = json!(upload_id);
    }
    let task_id = run.new_wait_id();
    run.execution.waiting.insert(task_id, id);
    files.sending = Some((task_id, index));
    let task = TaskInvocation::internal(task_id, state, RESULT_WRITER_RESOURCE, request);
    run.commands.push(Command::InvokeTask(task));
    Ok(())
}

/// Records a part's answer (`{UploadId, ETag}`): `Err` when it was not written.
pub(super) fn part_written(
    run: &mut Run<'_>,
    files: &mut ResultFiles,
    result: Result<Value, Failure>,
) -> Result<(), Failure> {
    let Some((task_id, index)) = files.sending.take() else {
        return Ok(());
    };
    run.execution.waiting.remove(&task_id);
    let answer = result?;
    let (Some(upload_id), Some(etag)) = (answer["UploadId"].as_str(), answer["ETag"].as_str())
    else {
        return Err(Failure::new(
            RESULT_WRITER_FAILED,
            "The result writer answered no part",
        ));
    };
    let file = &mut files.files[index];
    file.upload_id = Some(upload_id.to_string());
    let number = file.parts.len() as u32 + 1;
    file.parts.push((number, etag.to_string()));
    Ok(())
}

/// A part of a running Map Run's files was written (or not): the next may go and children
/// held back may start, or the Map Run fails with `States.ResultWriterFailed` (nothing more
/// is written).
pub(crate) fn part_answered(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    mut children: Box<Children>,
    result: Result<Value, Failure>,
) -> Next {
    let state = run.definition.state(frame.state);
    frame.previous_event_id = children.tail;
    let written = match children.result_files.as_mut() {
        Some(files) => part_written(run, files, result),
        None => Ok(()),
    };
    if let Err(failure) = written {
        children.result_files = None;
        return super::map::fail_map_run(run, id, frame, state, children, failure);
    }
    frame.phase = Phase::AwaitChildren(children);
    super::map::go_on(run, id, frame, state)
}

/// Forgets the part on its way, if one is: the Map ends without it.
pub(crate) fn cancel(run: &mut Run<'_>, children: &Children) {
    let sending = children.result_files.as_ref().and_then(|f| f.sending);
    if let Some((task_id, _)) = sending {
        run.cancel_task(task_id);
    }
}
