//! JSONPath-mode input and output processing, and the environment paths are evaluated in.
//!
//! The order is AWS's: `InputPath` → `Parameters` → (the state's work) → `ResultSelector` →
//! `ResultPath` → `OutputPath`. Failures carry AWS's error names and cause texts.

use crate::execution::{ContextObject, Frame};
use crate::run::{to_text, Run};
use serde_json::{json, Map, Value};
use steppe_asl::definition::{Assign, Io, JsonPathIo, ResultPath, Selector, State};
use steppe_asl::error_name::{self, Failure};
use steppe_asl::path::{Path, Root, Segment, SetError};
use steppe_asl::template::Template;
use steppe_asl::{choice, intrinsic, template, timestamp};

/// Evaluates paths against a state's data, the Context object and the variables in scope.
pub(crate) struct Env<'r, 'a> {
    pub run: &'r mut Run<'a>,
    pub frame: &'r Frame,
    /// What `$` means here.
    pub document: &'r Value,
    context: Option<Value>,
}

impl<'r, 'a> Env<'r, 'a> {
    pub fn new(run: &'r mut Run<'a>, frame: &'r Frame, document: &'r Value) -> Env<'r, 'a> {
        Env {
            run,
            frame,
            document,
            context: None,
        }
    }

    /// The value `path` selects, or `None` when a definite path finds nothing; a
    /// `States.DataLimitExceeded` failure of the state when selecting passes a limit.
    pub fn lookup(&mut self, path: &Path) -> Result<Option<Value>, Failure> {
        let selected = match path.root() {
            Root::Input => path.select_value(self.document),
            Root::Context => {
                if self.context.is_none() {
                    self.context = Some(context_object(self.run, self.frame));
                }
                path.select_value(self.context.as_ref().expect("just built"))
            }
            Root::Variable(name) => match self.run.variable(self.frame.scope, name) {
                Some(value) => path.select_value(value),
                None => Ok(None),
            },
        };
        selected.map_err(|limit| {
            let failure = limit.failure(path);
            Failure::new(
                failure.error,
                state_cause(self.run, self.frame, &failure.cause),
            )
        })
    }

    /// A `States.Runtime` failure of the current state.
    pub fn runtime(&self, message: &str) -> Failure {
        runtime_failure(self.run, self.frame, message)
    }
}

impl template::Env for Env<'_, '_> {
    fn resolve_field(&mut self, key: &str, path: &Path) -> Result<Value, Failure> {
        self.lookup(path)?.ok_or_else(|| {
            let message = format!(
                "The JSONPath '{}' specified for the field '{key}' could not be found in the input '{}'",
                path.as_str(),
                to_text(self.document)
            );
            self.runtime(&message)
        })
    }
}

impl intrinsic::Env for Env<'_, '_> {
    fn resolve(&mut self, path: &Path) -> Result<Value, Failure> {
        self.lookup(path)?.ok_or_else(|| {
            let message = format!(
                "The JSONPath '{}' could not be found in the input '{}'",
                path.as_str(),
                to_text(self.document)
            );
            self.runtime(&message)
        })
    }

    fn random_u64(&mut self) -> u64 {
        self.run.execution.random.next_u64()
    }
}

impl choice::Env for Env<'_, '_> {
    fn resolve(&mut self, path: &Path) -> Result<Option<Value>, Failure> {
        self.lookup(path)
    }
}

/// A `States.Runtime` failure with AWS's prefix naming the state and its entered event.
pub(crate) fn runtime_failure(run: &Run<'_>, frame: &Frame, message: &str) -> Failure {
    Failure::new(error_name::RUNTIME, state_cause(run, frame, message))
}

/// AWS's cause text for a failure inside a state.
pub(crate) fn state_cause(run: &Run<'_>, frame: &Frame, message: &str) -> String {
    let name = &run.definition.state(frame.state).name;
    format!("An error occurred while executing the state '{name}' (entered at the event id #{}). {message}", frame.entered_event_id)
}

/// The Context object (`$$`) as the current state sees it: the configured one (see
/// [`ContextObject`]).
pub(crate) fn context_object(run: &Run<'_>, frame: &Frame) -> Value {
    match &run.execution.config.context_object {
        ContextObject::Built => built_context_object(run, frame),
        ContextObject::Amended(amendments) => amended(built_context_object(run, frame), amendments),
        ContextObject::Given(context) => context.clone(),
    }
}

/// `context` with each given section's members set over its own.
fn amended(mut context: Value, amendments: &Map<String, Value>) -> Value {
    for (section, members) in amendments {
        match (context.get_mut(section), members) {
            (Some(Value::Object(built)), Value::Object(members)) => {
                for (name, value) in members {
                    built.insert(name.clone(), value.clone());
                }
            }
            _ => context[section.as_str()] = members.clone(),
        }
    }
    context
}

/// The Context object AWS builds for the current state.
fn built_context_object(run: &Run<'_>, frame: &Frame) -> Value {
    let info = &run.execution.info;
    let state = run.definition.state(frame.state);
    let retry_count: u64 = frame.retry_attempts.iter().sum();
    let can_retry = matches!(
        state.kind,
        steppe_asl::definition::Kind::Task(_)
            | steppe_asl::definition::Kind::Parallel(_)
            | steppe_asl::definition::Kind::Map(_)
    );
    let mut context = json!({
        "Execution": {
            "Id": info.execution_arn,
            "Input": run.execution.input,
            "StartTime": timestamp::format_iso8601(info.start_time_millis),
            "Name": info.name,
            "RoleArn": info.role_arn,
            "RedriveCount": info.redrive_count,
        },
        "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
        "State": {
            "EnteredTime": timestamp::format_iso8601(frame.entered_time_millis),
            "Name": state.name,
        },
    });
    if can_retry {
        context["State"]["RetryCount"] = json!(retry_count);
    }
    if let Some(millis) = run.execution.redrive_time_millis {
        context["Execution"]["RedriveTime"] = json!(timestamp::format_iso8601(millis));
    }
    if info.execution_arn.contains(":express:") {
        if let Some(execution) = context["Execution"].as_object_mut() {
            execution.remove("RedriveCount");
        }
    }
    if let Some(token) = &frame.task_token {
        context["Task"] = json!({"Token": token});
    }
    if let Some(item) = &frame.map_item {
        // `Source` is `STATE_DATA` for items from the state input, the only source steppe
        // has (no ItemReader); `Key` is "only valid for JSON objects" (Context object page).
        let mut fields = Map::new();
        fields.insert("Index".to_string(), json!(item.index));
        if let Some(key) = &item.key {
            fields.insert("Key".to_string(), json!(key));
        }
        fields.insert("Value".to_string(), item.value.clone());
        fields.insert("Source".to_string(), json!("STATE_DATA"));
        context["Map"] = json!({"Item": fields});
    }
    context
}

/// Applies `InputPath` and `Parameters`: the state's effective input.
pub(crate) fn effective_input(
    run: &mut Run<'_>,
    frame: &Frame,
    io: &JsonPathIo,
) -> Result<Value, Failure> {
    let selected = select(run, frame, &frame.input, &io.input_path)?;
    match &io.parameters {
        Some(parameters) => evaluate_template(run, frame, &selected, parameters),
        None => Ok(selected),
    }
}

/// Applies `ResultSelector`, `ResultPath` and `OutputPath` to a result.
pub(crate) fn state_output(
    run: &mut Run<'_>,
    frame: &Frame,
    io: &JsonPathIo,
    result: Value,
) -> Result<Value, Failure> {
    let selected = match &io.result_selector {
        Some(selector) => evaluate_template(run, frame, &result, selector)?,
        None => result,
    };
    let combined = apply_result_path(run, frame, &io.result_path, selected)?;
    select_owned(run, frame, combined, &io.output_path)
}

/// Applies a `ResultPath` (a state's or a catcher's) to the frame's raw input.
pub(crate) fn apply_result_path(
    run: &Run<'_>,
    frame: &Frame,
    result_path: &ResultPath,
    result: Value,
) -> Result<Value, Failure> {
    match result_path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(frame.input.clone()),
        ResultPath::Path(path) => {
            let mut target = frame.input.clone();
            match path.set(&mut target, result) {
                Ok(()) => Ok(target),
                Err(SetError::NotAContainer | SetError::IndexOutOfBounds) => {
                    let message = format!(
                        "Unable to apply ResultPath '{}' to input '{}'",
                        path.as_str(),
                        to_text(&frame.input)
                    );
                    Err(Failure::new(
                        error_name::RESULT_PATH_MATCH_FAILURE,
                        state_cause(run, frame, &message),
                    ))
                }
            }
        }
    }
}

/// Applies an `InputPath`/`OutputPath`-style selector to a borrowed document.
pub(crate) fn select(
    run: &mut Run<'_>,
    frame: &Frame,
    document: &Value,
    selector: &Selector,
) -> Result<Value, Failure> {
    match selector {
        Selector::Whole => Ok(document.clone()),
        Selector::Null => Ok(Value::Object(Map::new())),
        Selector::Path(path) => select_path(run, frame, document, path),
    }
}

/// Like [`select`], but moves the document when the selector keeps all of it.
pub(crate) fn select_owned(
    run: &mut Run<'_>,
    frame: &Frame,
    document: Value,
    selector: &Selector,
) -> Result<Value, Failure> {
    match selector {
        Selector::Whole => Ok(document),
        _ => select(run, frame, &document, selector),
    }
}

fn select_path(
    run: &mut Run<'_>,
    frame: &Frame,
    document: &Value,
    path: &Path,
) -> Result<Value, Failure> {
    let mut env = Env::new(run, frame, document);
    env.lookup(path)?.ok_or_else(|| {
        let message = format!(
            "Invalid path '{}' : No results for path: {}",
            path.as_str(),
            normalized(path)
        );
        env.runtime(&message)
    })
}

/// Jayway's normalized form of a definite path, as AWS quotes it: `$['a']['b'][0]`.
fn normalized(path: &Path) -> String {
    let mut text = String::from("$");
    for segment in path.segments().unwrap_or_default() {
        match segment {
            Segment::Field(name) => text.push_str(&format!("['{name}']")),
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

pub(crate) fn evaluate_template(
    run: &mut Run<'_>,
    frame: &Frame,
    document: &Value,
    template: &Template,
) -> Result<Value, Failure> {
    if let Template::Constant(value) = template {
        return Ok(value.clone());
    }
    let mut env = Env::new(run, frame, document);
    template.evaluate(&mut env)
}

/// Evaluates a JSONPath-mode `Assign` against `document`; returns the values to assign.
pub(crate) fn evaluate_assign(
    run: &mut Run<'_>,
    frame: &Frame,
    document: &Value,
    assign: &Assign,
) -> Result<Map<String, Value>, Failure> {
    match assign {
        Assign::JsonPath(template) => match evaluate_template(run, frame, document, template)? {
            Value::Object(map) => Ok(map),
            _ => Ok(Map::new()),
        },
        Assign::Jsonata(template) => {
            let states = crate::jsonata::states_for_input(run, frame, document);
            match crate::jsonata::evaluate(run, frame, template, "Assign", &states)? {
                Value::Object(map) => Ok(map),
                _ => Ok(Map::new()),
            }
        }
    }
}

/// The effective input of a Task or Parallel: `InputPath` and `Parameters`, or `Arguments`.
pub(crate) fn arguments(run: &mut Run<'_>, frame: &Frame, state: &State) -> Result<Value, Failure> {
    match &state.io {
        Io::JsonPath(io) => effective_input(run, frame, io),
        Io::Jsonata(io) => crate::jsonata::arguments(run, frame, io),
    }
}

/// Variables an `Assign` evaluated, not yet visible: AWS makes them visible from the next
/// state, so output processing of the assigning state still sees the old values.
#[derive(Debug, Default)]
pub(crate) struct Assignment {
    values: Map<String, Value>,
}

/// Evaluated variables to commit, checked against AWS's size limits (one variable, one
/// `Assign`, and all of an execution's variables); `None` when there are none.
pub(crate) fn assignment(
    run: &Run<'_>,
    frame: &Frame,
    values: Map<String, Value>,
) -> Result<Option<Assignment>, Failure> {
    use crate::states::json_size;
    use steppe_asl::limits::{PAYLOAD_BYTES_MAX, VARIABLES_TOTAL_BYTES_MAX, VARIABLE_BYTES_MAX};
    if values.is_empty() {
        return Ok(None);
    }
    let limit = |message: String| {
        Err(Failure::new(
            error_name::DATA_LIMIT_EXCEEDED,
            state_cause(run, frame, &message),
        ))
    };
    let mut assigned = 0;
    let mut replaced = 0;
    for (name, value) in &values {
        let size = json_size(value);
        if size > VARIABLE_BYTES_MAX {
            return limit(format!(
                "The value assigned to the variable '{name}' exceeds the maximum size of {VARIABLE_BYTES_MAX} bytes."
            ));
        }
        assigned += size;
        replaced += run.scope_variable(frame.scope, name).map_or(0, json_size);
    }
    if assigned > PAYLOAD_BYTES_MAX {
        return limit(format!(
            "The values assigned by the state exceed the maximum size of {PAYLOAD_BYTES_MAX} bytes."
        ));
    }
    if run.execution.variables_bytes + assigned - replaced.min(run.execution.variables_bytes)
        > VARIABLES_TOTAL_BYTES_MAX
    {
        return limit(format!(
            "The execution's variables would exceed the maximum total size of {VARIABLES_TOTAL_BYTES_MAX} bytes."
        ));
    }
    Ok(Some(Assignment { values }))
}

/// Evaluates an `Assign` on `document` without committing it.
pub(crate) fn assign(
    run: &mut Run<'_>,
    frame: &Frame,
    assign: Option<&Assign>,
    document: &Value,
) -> Result<Option<Assignment>, Failure> {
    let Some(assign) = assign else {
        return Ok(None);
    };
    let values = evaluate_assign(run, frame, document, assign)?;
    assignment(run, frame, values)
}

/// Commits evaluated variables to the frame's scope; returns what history's
/// `assignedVariables` shows (name and compact JSON text).
pub(crate) fn commit(
    run: &mut Run<'_>,
    frame: &Frame,
    assignment: Option<Assignment>,
) -> Option<Vec<(String, String)>> {
    let assignment = assignment?;
    let record = run.record_payloads();
    let mut shown = Vec::with_capacity(assignment.values.len());
    for (name, value) in assignment.values {
        if record {
            shown.push((name.clone(), to_text(&value)));
        }
        run.set_variable(frame.scope, name, value);
    }
    Some(shown)
}

/// The state's JSONPath I/O fields; JSONata states have none.
pub(crate) fn json_path_io(state: &State) -> Option<&JsonPathIo> {
    match &state.io {
        steppe_asl::definition::Io::JsonPath(io) => Some(io),
        steppe_asl::definition::Io::Jsonata(_) => None,
    }
}
