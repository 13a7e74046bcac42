//! `ItemReader`: a distributed Map whose items come from Amazon S3. The engine does no I/O:
//! it asks the runtime for one page of items at a time with a [`Command::InvokeTask`] whose
//! resource is [`ITEM_READER_RESOURCE`] (no history events: AWS records none for reading), and
//! each page arrives as that task's result, so pages are inputs in the execution's log and a
//! replay never reads S3 again. Once every page is in, the Map runs over the items as over
//! items from its input.
//!
//! The task's parameters: `{"Resource", "ReaderConfig", "Parameters", "MaxItems", "Skip",
//! "Cursor"?}` (`Parameters` evaluated, `MaxItems` 0 for all, `Skip` the items read so far,
//! `Cursor` the previous page's, opaque to the engine); its result:
//! `{"Items": [...], "Keys": [...]?, "More": bool, "Cursor"?}`. A failed read is the task's failure
//! (`States.ItemReaderFailed`), which the Map's Retry and Catch see.

use super::map::number_field;
use crate::execution::{Command, Frame, FrameId, Phase, TaskInvocation};
use crate::io;
use crate::run::{Next, Run};
use serde_json::{json, Value};
use steppe_asl::definition::{ItemReader, State};
use steppe_asl::error_name::Failure;
use steppe_asl::{limits, size};

/// The resource of the tasks that read a page of items.
pub const ITEM_READER_RESOURCE: &str = "steppe:itemReader";

/// The error of every failed read.
const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";

/// A Map reading its items.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    /// The page being read.
    pub task_id: u64,
    /// The page request, `Skip` aside.
    request: Value,
    /// The items read so far, and their keys (a JSON object's pairs).
    items: Vec<Value>,
    keys: Vec<String>,
    /// The JSON size of `items`, bytes.
    bytes: usize,
    /// Where the runtime said the next page starts (`Cursor` of the last page), if it did.
    cursor: Option<Value>,
}

/// The items a Map read, for its run.
#[derive(Debug, Clone, Default)]
pub(crate) struct ItemsRead {
    pub items: Vec<Value>,
    pub keys: Vec<String>,
}

/// Evaluates the reader's `Parameters`/`Arguments` and `MaxItems` and asks for the first page.
pub(crate) fn start(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    reader: &ItemReader,
) -> Next {
    let request = (|| {
        let parameters = match (&reader.parameters, &reader.arguments) {
            (Some(template), _) => {
                let effective = match io::json_path_io(state) {
                    Some(json_path) => {
                        io::select(run, &frame, &frame.input, &json_path.input_path)?
                    }
                    None => frame.input.clone(),
                };
                io::evaluate_template(run, &frame, &effective, template)?
            }
            (None, Some(template)) => {
                let states = crate::jsonata::states(run, &frame);
                crate::jsonata::evaluate(run, &frame, template, "Arguments", &states)?
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
                number_field(run, &frame, field, "MaxItems", "integer", parse)?
            }
            None => 0,
        };
        Ok::<_, Failure>(json!({
            "Resource": reader.resource,
            "ReaderConfig": reader.reader_config,
            "Parameters": parameters,
            "MaxItems": max_items,
        }))
    })();
    let request = match request {
        Ok(request) => request,
        Err(failure) => {
            return super::fail_before_start(
                run,
                id,
                frame,
                state,
                failure,
                Some(crate::event::Details::MapStateFailed),
            )
        }
    };
    let reading = Reading {
        task_id: 0,
        request,
        items: Vec::new(),
        keys: Vec::new(),
        bytes: 0,
        cursor: None,
    };
    ask(run, id, &mut frame, state, reading);
    Next::Parked(frame)
}

/// Asks for the page after the items read so far.
fn ask(run: &mut Run<'_>, id: FrameId, frame: &mut Frame, state: &State, mut reading: Reading) {
    let task_id = run.new_wait_id();
    reading.task_id = task_id;
    let mut parameters = reading.request.clone();
    parameters["Skip"] = json!(reading.items.len());
    if let Some(cursor) = &reading.cursor {
        parameters["Cursor"] = cursor.clone();
    }
    run.execution.waiting.insert(task_id, id);
    run.commands.push(Command::InvokeTask(TaskInvocation {
        task_id,
        state_name: state.name.clone(),
        resource: ITEM_READER_RESOURCE.to_string(),
        parameters,
        timeout_seconds: None,
        heartbeat_seconds: None,
        task_token: None,
        invocation: 0,
    }));
    frame.phase = Phase::AwaitItems(Box::new(reading));
}

/// A page arrived (or the read failed): ask for the next, or run the Map over the items.
pub(crate) fn page(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    mut reading: Reading,
    result: Result<Value, Failure>,
) -> Next {
    run.execution.waiting.remove(&reading.task_id);
    let state = run.definition.state(frame.state);
    frame.phase = Phase::Run;
    let page = match result {
        Ok(page) => page,
        Err(failure) => return super::fail_state(run, id, frame, state, failure),
    };
    let Value::Object(mut page) = page else {
        let failure = Failure::new(ITEM_READER_FAILED, "The item reader answered no page");
        return super::fail_state(run, id, frame, state, failure);
    };
    let more = page.get("More").and_then(Value::as_bool).unwrap_or(false);
    reading.cursor = page.remove("Cursor");
    let items = match page.remove("Items") {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    if let Some(Value::Array(keys)) = page.remove("Keys") {
        reading.keys.extend(
            keys.into_iter()
                .map(|key| key.as_str().unwrap_or_default().to_string()),
        );
    }
    for item in &items {
        let room = limits::ITEM_READER_HELD_BYTES_MAX.saturating_sub(reading.bytes);
        match size::json_bytes_within(item, room) {
            Some(bytes) => reading.bytes += bytes + 1,
            None => {
                let cause = format!(
                    "steppe holds at most {} bytes of items read by an ItemReader, and the items of this Map pass it",
                    limits::ITEM_READER_HELD_BYTES_MAX
                );
                let failure = Failure::new(ITEM_READER_FAILED, cause);
                return super::fail_state(run, id, frame, state, failure);
            }
        }
    }
    let arrived = items.len();
    reading.items.extend(items);
    if more && arrived > 0 {
        ask(run, id, &mut frame, state, reading);
        return Next::Parked(frame);
    }
    let Reading { items, keys, .. } = reading;
    frame.items_read = Some(Box::new(ItemsRead { items, keys }));
    Next::Ready(frame)
}
