//! `ItemReader`: a distributed Map whose items come from Amazon S3, streamed into its
//! children. The engine does no I/O: it asks the runtime for one page of items at a time
//! with a [`Command::InvokeTask`] whose resource is [`ITEM_READER_RESOURCE`] (no history
//! events: AWS records none for reading), and each page arrives as that task's result, so
//! pages are inputs in the execution's log and a replay never reads S3 again.
//!
//! The Map starts its Map Run at once (`MapStateStarted` with `length` 0, then
//! `MapRunStarted`, as AWS records a Map with an `ItemReader`) and reads while its children
//! run: each page's items start children as the concurrency allows, and the next page is
//! asked for only while fewer than [`limits::ITEM_READER_WAITING_ITEMS_MAX`] items wait, so
//! a Map holds a bounded number of items whatever the object's size. A failed read fails
//! the Map Run (`MapRunFailed` with `States.ItemReaderFailed`, as AWS records it).
//!
//! The task's parameters: `{"Resource", "ReaderConfig", "Parameters", "MaxItems", "Skip",
//! "Cursor"?}` (`Parameters` evaluated, `MaxItems` 0 for all, `Skip` the items read so far,
//! `Cursor` the previous page's, opaque to the engine); its result:
//! `{"Items": [...], "Keys": [...]?, "More": bool, "Cursor"?}`. A failed read is the task's
//! failure (`States.ItemReaderFailed`).

use super::map::{number_field, Children};
use crate::execution::{Command, Frame, FrameId, Phase, TaskInvocation};
use crate::io;
use crate::run::{Next, Run};
use serde_json::{json, Value};
use steppe_asl::definition::{ItemReader, State};
use steppe_asl::error_name::Failure;
use steppe_asl::limits;

/// The resource of the tasks that read a page of items.
pub const ITEM_READER_RESOURCE: &str = "steppe:itemReader";

/// The error of every failed read.
const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";

/// A Map's reading, while pages are left to read.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    /// The page being read, if one is.
    pub task_id: Option<u64>,
    /// The page request, `Skip` and `Cursor` aside.
    request: Value,
    /// How many items were read so far.
    read: u64,
    /// Where the runtime said the next page starts (`Cursor` of the last page), if it did.
    cursor: Option<Value>,
}

/// Evaluates the reader's `Parameters`/`Arguments` and `MaxItems` into the reading of a Map
/// about to start.
pub(crate) fn reading(
    run: &mut Run<'_>,
    frame: &Frame,
    state: &State,
    reader: &ItemReader,
) -> Result<Reading, Failure> {
    let parameters = match (&reader.parameters, &reader.arguments) {
        (Some(template), _) => {
            let effective = match io::json_path_io(state) {
                Some(json_path) => io::select(run, frame, &frame.input, &json_path.input_path)?,
                None => frame.input.clone(),
            };
            io::evaluate_template(run, frame, &effective, template)?
        }
        (None, Some(template)) => {
            let states = crate::jsonata::states(run, frame);
            crate::jsonata::evaluate(run, frame, template, "Arguments", &states)?
        }
        (None, None) => json!({}),
    };
    let max_items = match &reader.max_items {
        Some(field) => {
            let parse = |value: &Value| {
                super::map::integer(value)
                    .and_then(|n| u64::try_from(n).ok())
                    .filter(|n| *n <= limits::READER_MAX_ITEMS_MAX)
            };
            number_field(run, frame, field, "MaxItems", "integer", parse)?
        }
        None => 0,
    };
    let request = json!({
        "Resource": reader.resource,
        "ReaderConfig": reader.reader_config,
        "Parameters": parameters,
        "MaxItems": max_items,
    });
    Ok(Reading {
        task_id: None,
        request,
        read: 0,
        cursor: None,
    })
}

/// Asks for the next page if the Map reads, no page is on its way and few items wait.
pub(super) fn refill(run: &mut Run<'_>, id: FrameId, state: &State, children: &mut Children) {
    let waiting = children.items.waiting();
    let Some(reading) = children.reader.as_mut() else {
        return;
    };
    if reading.task_id.is_some() || waiting >= limits::ITEM_READER_WAITING_ITEMS_MAX {
        return;
    }
    let task_id = run.new_wait_id();
    reading.task_id = Some(task_id);
    let mut parameters = reading.request.clone();
    parameters["Skip"] = json!(reading.read);
    if let Some(cursor) = &reading.cursor {
        parameters["Cursor"] = cursor.clone();
    }
    run.execution.waiting.insert(task_id, id);
    let task = TaskInvocation::internal(task_id, state, ITEM_READER_RESOURCE, parameters);
    run.commands.push(Command::InvokeTask(task));
}

/// Forgets the page on its way, if one is: the Map ends without it.
pub(crate) fn cancel(run: &mut Run<'_>, children: &Children) {
    if let Some(task_id) = children.reader.as_ref().and_then(|r| r.task_id) {
        run.cancel_task(task_id);
    }
}

/// A page arrived (or the read failed): its items start children, or the Map Run fails.
pub(crate) fn page(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    mut children: Box<Children>,
    result: Result<Value, Failure>,
) -> Next {
    let state = run.definition.state(frame.state);
    let Some(reading) = children.reader.as_mut() else {
        unreachable!("a page arrives for a reading Map")
    };
    if let Some(task_id) = reading.task_id.take() {
        run.execution.waiting.remove(&task_id);
    }
    frame.previous_event_id = children.tail;
    let page = match result {
        Ok(Value::Object(page)) => page,
        Ok(_) => {
            let failure = Failure::new(ITEM_READER_FAILED, "The item reader answered no page");
            return super::map::fail_map_run(run, id, frame, state, children, failure);
        }
        Err(failure) => return super::map::fail_map_run(run, id, frame, state, children, failure),
    };
    let mut page = page;
    let more = page.get("More").and_then(Value::as_bool).unwrap_or(false);
    reading.cursor = page.remove("Cursor");
    let items = match page.remove("Items") {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let keys: Vec<String> = match page.remove("Keys") {
        Some(Value::Array(keys)) => keys
            .into_iter()
            .map(|key| key.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => Vec::new(),
    };
    let arrived = items.len();
    reading.read += arrived as u64;
    if !more || arrived == 0 {
        children.reader = None;
    }
    children.add_items(items, keys);
    frame.phase = Phase::AwaitChildren(children);
    super::map::go_on(run, id, frame, state)
}
