//! A distributed Map's `ItemReader` streams its items into children: pages are asked of the
//! runtime as internal tasks while children run, a bounded number of items wait, and the
//! result is the same as a Map over the same items given in its input. The pages here come
//! from a stand-in for the runtime's reader (`steppe_tasks::s3::items::read_page` in steppe).

use serde_json::{json, Value};
use steppe_asl::Definition;
use steppe_engine::{
    apply, Command, Config, Execution, Input, Status, TaskInvocation, ITEM_READER_RESOURCE,
};

mod common;
use common::info;

/// The object's items, and how many a page holds.
struct Object {
    items: Vec<Value>,
    page_items: usize,
}

impl Object {
    fn numbers(count: u64, page_items: usize) -> Object {
        Object {
            items: (0..count).map(|n| json!({"n": n})).collect(),
            page_items,
        }
    }

    /// A page as the runtime answers it: from the cursor (or `Skip` without one) on.
    fn page(&self, request: &Value) -> Value {
        let start = match request["Cursor"]["Offset"].as_u64() {
            Some(offset) => offset,
            None => request["Skip"].as_u64().expect("a Skip"),
        } as usize;
        let end = (start + self.page_items).min(self.items.len());
        let more = end < self.items.len();
        let mut page = json!({"Items": self.items[start..end], "More": more});
        if more {
            page["Cursor"] = json!({"Offset": end});
        }
        page
    }
}

/// A machine whose distributed Map has `fields` and runs `processor`'s states.
fn machine(fields: Value, processor: Value) -> Definition {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Child",
            "States": {"Child": processor}
        },
        "End": true
    });
    for (key, value) in fields.as_object().expect("fields") {
        map[key] = value.clone();
    }
    let text = json!({"StartAt": "Map", "States": {"Map": map}}).to_string();
    steppe_asl::compile(&text).unwrap_or_else(|d| panic!("{d:?}"))
}

fn reader() -> Value {
    json!({
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSONL"},
        "Parameters": {"Bucket": "b", "Key": "k"}
    })
}

fn pass() -> Value {
    json!({"Type": "Pass", "End": true})
}

/// Drives an execution: `Continue` at once, pages from `object` as `answer_pages` allows,
/// child tasks as `answer_tasks` does. Keeps what happened.
struct Driver {
    definition: Definition,
    execution: Execution,
    /// Page requests and child tasks not answered yet.
    pages: Vec<TaskInvocation>,
    tasks: Vec<TaskInvocation>,
    pages_asked: usize,
    event_types: Vec<String>,
    events: Vec<steppe_engine::HistoryEvent>,
    /// The event count when the first page was asked for.
    events_before_first_page: Option<usize>,
}

impl Driver {
    fn new(definition: Definition, input: Value) -> Driver {
        Driver::with_config(definition, input, Config::standard())
    }

    fn with_config(definition: Definition, input: Value, config: Config) -> Driver {
        let execution = Execution::new(info(), input, config, 7);
        let mut driver = Driver {
            definition,
            execution,
            pages: Vec::new(),
            tasks: Vec::new(),
            pages_asked: 0,
            event_types: Vec::new(),
            events: Vec::new(),
            events_before_first_page: None,
        };
        driver.apply(Input::Start);
        driver
    }

    fn apply(&mut self, input: Input) {
        let mut inputs = vec![input];
        while let Some(input) = inputs.pop() {
            let transition = apply(&self.definition, &mut self.execution, input, 1_000);
            for event in transition.events {
                self.event_types.push(event.event_type());
                self.events.push(event);
            }
            for command in transition.commands {
                match command {
                    Command::Continue => inputs.push(Input::Continue),
                    Command::InvokeTask(task) if task.resource == ITEM_READER_RESOURCE => {
                        self.pages_asked += 1;
                        self.events_before_first_page
                            .get_or_insert(self.events.len());
                        self.pages.push(task);
                    }
                    Command::InvokeTask(task) => self.tasks.push(task),
                    _ => {}
                }
            }
        }
    }

    /// Answers every page request, as long as any comes.
    fn answer_pages(&mut self, object: &Object) {
        while let Some(task) = self.pages.pop() {
            let output = object.page(&task.parameters);
            self.apply(Input::TaskSucceeded {
                task_id: task.task_id,
                output,
            });
        }
    }
}

#[test]
fn a_map_over_items_read_in_pages_gives_what_a_map_over_the_same_items_in_its_input_gives() {
    // Pages of 700 items do not line up with batches of 300: batches are cut by the
    // batcher's limits only, never by where a page ends.
    let object = Object::numbers(2_500, 700);
    let batcher = json!({"MaxItemsPerBatch": 300, "BatchInput": {"b": 1}});
    let fields = json!({"ItemReader": reader(), "ItemBatcher": batcher, "MaxConcurrency": 3,
        "ItemSelector": {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value"}});
    let mut streamed = Driver::new(machine(fields.clone(), pass()), json!({}));
    streamed.answer_pages(&object);
    assert_eq!(streamed.execution.status, Status::Succeeded);
    assert_eq!(streamed.pages_asked, 4, "2,500 items in pages of 700");

    let mut given = fields;
    given.as_object_mut().expect("fields").remove("ItemReader");
    let in_input = Driver::new(machine(given, pass()), json!(object.items));
    assert_eq!(in_input.execution.status, Status::Succeeded);
    let output = streamed.execution.output.clone().expect("an output");
    assert_eq!(Some(&output), in_input.execution.output.as_ref());
    assert_eq!(
        output.as_array().map(Vec::len),
        Some(9),
        "8 batches of 300, one of 100"
    );
    assert_eq!(output[8]["Items"][99]["index"], json!(2_499));

    // The Map Run counts every item and batch once.
    let record = &streamed.execution.map_runs()[0];
    assert_eq!((record.items.total, record.items.succeeded), (2_500, 2_500));
    assert_eq!(
        (record.executions.total, record.executions.succeeded),
        (9, 9)
    );
    assert_eq!((record.items.pending, record.executions.pending), (0, 0));
}

#[test]
fn the_map_run_starts_before_reading_and_a_map_with_a_reader_has_length_zero() {
    // AWS's recorded histories of Maps with an ItemReader (LocalStack's snapshots,
    // `test_map_item_reader_base_csv_headers_first_line`): MapStateStarted with length 0,
    // then MapRunStarted, then the children.
    let object = Object::numbers(3, 1_000);
    let mut driver = Driver::new(machine(json!({"ItemReader": reader()}), pass()), json!({}));
    assert_eq!(
        &driver.event_types[..],
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted"
        ]
    );
    assert_eq!(driver.events_before_first_page, Some(4));
    let started = driver.events[2].to_json();
    assert_eq!(started["mapStateStartedEventDetails"], json!({"length": 0}));
    driver.answer_pages(&object);
    assert_eq!(driver.execution.output, Some(json!(object.items)));
}

#[test]
fn a_failed_read_fails_the_map_run_as_aws_records_it() {
    // AWS's recording `test_map_item_reader_json_no_json_list_object`: MapRunStarted,
    // MapRunFailed with the reader's error and cause, MapStateFailed, ExecutionFailed.
    let mut driver = Driver::new(machine(json!({"ItemReader": reader()}), pass()), json!({}));
    let page = driver.pages.pop().expect("a page request");
    let cause = "Attempting to map over non-iterable node.";
    driver.apply(Input::TaskFailed {
        task_id: page.task_id,
        error: "States.ItemReaderFailed".into(),
        cause: cause.into(),
    });
    assert_eq!(
        &driver.event_types[4..],
        ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    );
    let failed = &driver.events[4];
    assert_eq!(failed.previous_event_id, 4, "follows MapRunStarted");
    assert_eq!(
        failed.to_json()["mapRunFailedEventDetails"],
        json!({"error": "States.ItemReaderFailed", "cause": cause})
    );
    assert_eq!(driver.execution.status, Status::Failed);
}

#[test]
fn a_map_holds_a_bounded_number_of_items_whatever_the_objects_size() {
    // Children that wait for their task: the Map asks for pages only while fewer than
    // ITEM_READER_WAITING_ITEMS_MAX items wait, so it never holds more than that and a page.
    let waiting_max = steppe_asl::limits::ITEM_READER_WAITING_ITEMS_MAX;
    let object = Object::numbers(10_000, 1_000);
    let task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "End": true});
    let fields = json!({"ItemReader": reader(), "MaxConcurrency": 50});
    let mut driver = Driver::new(machine(fields, task), json!({}));
    let mut ended = 0;
    while driver.execution.status == Status::Running {
        driver.answer_pages(&object);
        let read = driver.pages_asked.min(10) * 1_000;
        let started = ended + driver.tasks.len();
        assert!(
            read - started <= waiting_max + 1_000,
            "{read} items read, {started} started"
        );
        let Some(task) = driver.tasks.pop() else {
            panic!("a running Map with items left runs children")
        };
        ended += 1;
        let output = task.parameters["Payload"].clone();
        driver.apply(Input::TaskSucceeded {
            task_id: task.task_id,
            output,
        });
    }
    assert_eq!(driver.execution.status, Status::Succeeded);
    assert_eq!(ended, 10_000);
    assert_eq!(driver.pages_asked, 10);
    let output = driver.execution.output.clone().expect("an output");
    assert_eq!(output.as_array().map(Vec::len), Some(10_000));
    assert_eq!(output[9_999], json!({"n": 9_999}));
}

/// A result writer standing in for the runtime's (`steppe_tasks::s3::results`): what each
/// part and the export's end hold.
fn answer_part(driver: &mut Driver, task: TaskInvocation, bodies: &mut Vec<String>) {
    let number = task.parameters["PartNumber"]
        .as_u64()
        .expect("a part number");
    assert_eq!(number as usize, bodies.len() + 1, "parts go in order");
    if number > 1 {
        assert_eq!(task.parameters["UploadId"], json!("upload-1"));
    }
    bodies.push(
        task.parameters["Body"]
            .as_str()
            .expect("a body")
            .to_string(),
    );
    driver.apply(Input::TaskSucceeded {
        task_id: task.task_id,
        output: json!({"UploadId": "upload-1", "ETag": format!("\"etag-{number}\"")}),
    });
}

#[test]
fn an_exporting_map_run_sends_its_results_in_parts_and_holds_a_bounded_amount_of_them() {
    // 200 items of about 100 KB: 20 MB of results, held by the engine a few parts at a time.
    let part_bytes = steppe_asl::limits::RESULT_WRITER_PART_BYTES;
    let held_max = steppe_asl::limits::RESULT_WRITER_HELD_BYTES_MAX;
    let pad = "x".repeat(100_000);
    let object = Object {
        items: (0..200).map(|n| json!({"n": n, "pad": pad})).collect(),
        page_items: 50,
    };
    let entry_bytes = object.items[0].to_string().len() + 1;
    let writer = json!({"Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "out", "Prefix": "jobs"},
        "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSON"}});
    let fields = json!({"ItemReader": reader(), "ResultWriter": writer});
    let mut driver = Driver::new(machine(fields, pass()), json!({}));
    driver.answer_pages(&object);
    // The first part is on its way, unanswered: children stop once the file holds
    // RESULT_WRITER_HELD_BYTES_MAX of text not sent.
    let part = driver.tasks.pop().expect("a part");
    assert!(driver.tasks.is_empty());
    assert_eq!(part.parameters["Action"], json!("UploadPart"));
    assert_eq!(part.parameters["File"], json!("SUCCEEDED_0.json"));
    assert_eq!(
        part.parameters["Parameters"],
        json!({"Bucket": "out", "Prefix": "jobs"})
    );
    assert!(
        part.parameters.get("UploadId").is_none(),
        "the first part starts the upload"
    );
    let ended = driver.execution.map_runs()[0].items.succeeded as usize;
    let sent = part.parameters["Body"].as_str().unwrap().len();
    assert!(sent >= part_bytes, "{sent}");
    assert!(ended < 200, "children wait while the part is on its way");
    let held = ended * entry_bytes - sent;
    assert!(
        held >= held_max && held < held_max + entry_bytes,
        "{ended} ended, {held} bytes held"
    );
    let mut bodies = Vec::new();
    answer_part(&mut driver, part, &mut bodies);
    let export = loop {
        driver.answer_pages(&object);
        let task = driver.tasks.pop().expect("a part or the export");
        if task.parameters["Action"] != json!("UploadPart") {
            break task;
        }
        let body = task.parameters["Body"].as_str().unwrap().len();
        assert!(
            (part_bytes..held_max + entry_bytes).contains(&body),
            "{body}"
        );
        answer_part(&mut driver, task, &mut bodies);
    };
    assert_eq!(driver.execution.map_runs()[0].items.succeeded, 200);
    // The export completes the file: its parts, then the text left.
    let file = &export.parameters["Files"][0];
    assert_eq!(file["File"], json!("SUCCEEDED_0.json"));
    assert_eq!(file["UploadId"], json!("upload-1"));
    let numbers: Vec<u64> = file["Parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|part| part["PartNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=bodies.len() as u64).collect::<Vec<_>>());
    assert!(bodies.len() >= 2, "20 MB in parts of 5 to 10 MiB");
    bodies.push(file["Body"].as_str().unwrap().to_string());
    let text = bodies.concat();
    assert_eq!(file["Size"], json!(text.len()));
    let written: Value = serde_json::from_str(&text).expect("one JSON array");
    assert_eq!(written, json!(object.items), "every result once, in order");
    assert_eq!(
        export.parameters["Files"].as_array().unwrap().len(),
        1,
        "no failures"
    );
    driver.apply(Input::TaskSucceeded {
        task_id: export.task_id,
        output: json!({"ResultWriterDetails": {"Bucket": "out", "Key": "jobs/x/manifest.json"}}),
    });
    assert_eq!(driver.execution.status, Status::Succeeded);
    assert_eq!(driver.execution.map_runs()[0].items.results_written, 200);
}

#[test]
fn a_redriven_map_run_exports_its_new_results_in_the_next_files() {
    // The first run: item 1 succeeds, item 2 fails it, item 3 never starts; its export
    // writes SUCCEEDED_0, FAILED_0 and PENDING entries.
    let task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "OutputPath": "$.Payload",
        "End": true});
    let writer = json!({"Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "out"},
        "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSON"}});
    let fields = json!({"ResultWriter": writer, "MaxConcurrency": 1});
    let mut driver = Driver::new(machine(fields, task), json!([1, 2, 3]));
    let answer = |driver: &mut Driver, fail: bool| {
        let task = driver.tasks.pop().expect("a task");
        let item = task.parameters["Payload"].clone();
        let input = match fail {
            true => Input::TaskFailed {
                task_id: task.task_id,
                error: "Boom".into(),
                cause: "no".into(),
            },
            false => Input::TaskSucceeded {
                task_id: task.task_id,
                output: json!({"Payload": {"done": item}}),
            },
        };
        driver.apply(input);
    };
    answer(&mut driver, false);
    answer(&mut driver, true);
    let export = driver.tasks.pop().expect("the export");
    let files = &export.parameters["Files"];
    assert_eq!(files[0]["File"], json!("SUCCEEDED_0.json"));
    assert_eq!(files[0]["Body"], json!(r#"[{"done":1}]"#));
    assert_eq!(files[1]["File"], json!("FAILED_0.json"));
    assert_eq!(export.parameters["Pending"][0]["Input"], json!("3"));
    assert_eq!(export.parameters["Earlier"], json!([]));
    driver.apply(Input::TaskSucceeded {
        task_id: export.task_id,
        output: json!({}),
    });
    assert_eq!(driver.execution.status, Status::Failed);

    // The redrive reruns items 2 and 3: their results go to SUCCEEDED_1, and the manifest
    // lists SUCCEEDED_0 too.
    driver.apply(Input::Redrive);
    answer(&mut driver, false);
    answer(&mut driver, false);
    let export = driver.tasks.pop().expect("the export");
    let files = export.parameters["Files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["File"], json!("SUCCEEDED_1.json"));
    assert_eq!(files[0]["Body"], json!(r#"[{"done":2},{"done":3}]"#));
    assert_eq!(
        export.parameters["Earlier"],
        json!([{"Status": "SUCCEEDED", "File": "SUCCEEDED_0.json", "Size": 12}])
    );
    assert_eq!(export.parameters["Pending"], json!([]));
    driver.apply(Input::TaskSucceeded {
        task_id: export.task_id,
        output: json!({}),
    });
    assert_eq!(driver.execution.status, Status::Succeeded);
}

/// A distributed Map whose children (of `execution_type`) pass a `Prep` state, then wait for
/// a Lambda task; child 0 fails its task.
fn prep_then_work(execution_type: &str) -> Definition {
    let text = json!({"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "MaxConcurrency": 2,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
            "StartAt": "Prep",
            "States": {
                "Prep": {"Type": "Pass", "Parameters": {"item.$": "$"}, "Next": "Work"},
                "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "End": true}
            }
        },
        "End": true}}});
    steppe_asl::compile(&text.to_string()).unwrap_or_else(|d| panic!("{d:?}"))
}

/// The types of the events of Map Run child `slot`'s history, after one child failed the
/// Map Run (the other aborted with it) and the parent was redriven.
fn child_history_after_redrive(execution_type: &str, slot: usize) -> Vec<String> {
    let mut config = Config::standard();
    config.child_history = Some(steppe_engine::ChildId { map_run: 0, slot });
    let mut driver = Driver::with_config(prep_then_work(execution_type), json!([1, 2]), config);
    assert_eq!(driver.tasks.len(), 2, "both children wait at Work");
    let first = driver.tasks.remove(0);
    assert_eq!(first.parameters["Payload"], json!({"item": 1}));
    driver.apply(Input::TaskFailed {
        task_id: first.task_id,
        error: "Boom".into(),
        cause: "no".into(),
    });
    assert_eq!(driver.execution.status, Status::Failed);
    driver.tasks.clear();
    driver.apply(Input::Redrive);
    // Both run again, each from the state it ended in: Work, with the input Prep gave it.
    let payloads: Vec<Value> = driver
        .tasks
        .iter()
        .map(|task| task.parameters["Payload"].clone())
        .collect();
    assert_eq!(payloads, [json!({"item": 1}), json!({"item": 2})]);
    driver.event_types
}

#[test]
fn a_redrive_resumes_standard_children_at_the_state_they_ended_in() {
    // "Redriving Map Runs": Standard children are redriven (RedriveExecution: from the
    // unsuccessful state, the states before it not run again); Express children are
    // started again (StartExecution). Child 0 failed in Work; child 1 was aborted in it.
    for slot in [0, 1] {
        let types = child_history_after_redrive("STANDARD", slot);
        let redriven = types.iter().position(|t| t == "ExecutionRedriven");
        let redriven = redriven.unwrap_or_else(|| panic!("{types:?}"));
        assert_eq!(
            types[redriven + 1..],
            ["TaskStateEntered", "TaskScheduled"],
            "child {slot}: {types:?}"
        );
        let prepared = types.iter().filter(|t| *t == "PassStateEntered").count();
        assert_eq!(prepared, 1, "child {slot}: {types:?}");
    }
    let types = child_history_after_redrive("EXPRESS", 0);
    let prepared = types.iter().filter(|t| *t == "PassStateEntered").count();
    assert_eq!(prepared, 2, "an Express child starts again: {types:?}");
}
