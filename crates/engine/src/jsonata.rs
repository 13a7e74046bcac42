//! JSONata-mode input and output: `Arguments`, `Output`, `Assign` and the `{% %}` fields,
//! evaluated with the `$states` reserved variable.
//!
//! `$states.input` is the state's raw input, `$states.context` the Context object,
//! `$states.result` the result of a Task, Parallel or Map, and `$states.errorOutput` the error
//! output a catcher sees. `Output` and `Assign` are evaluated independently, against the
//! variables as they were when the state was entered. A failed evaluation is a
//! `States.QueryEvaluationError` that history records with an `EvaluationFailed` event.

use crate::execution::Frame;
use crate::io::{self, Assignment};
use crate::run::Run;
use serde_json::Value;
use steppe_asl::definition::{
    Assign, Expression, JsonataIo, JsonataTemplate, Kind, RuleTest, State,
};
use steppe_asl::error_name::Failure;
use steppe_asl::jsonata::{self, EvaluationError, States};

/// What an expression sees of the execution: variables, randomness and "now".
struct Env<'r, 'a> {
    run: &'r mut Run<'a>,
    frame: &'r Frame,
}

impl jsonata::Env for Env<'_, '_> {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.run.variable(self.frame.scope, name)
    }

    fn random_u64(&mut self) -> u64 {
        self.run.execution.random.next_u64()
    }

    fn now_millis(&self) -> i64 {
        self.run.now
    }
}

/// `$states` for the frame's current state: its raw input and, when any expression of the
/// state may read it, the Context object.
pub(crate) fn states(run: &Run<'_>, frame: &Frame) -> States {
    states_for_input(run, frame, &frame.input)
}

/// Like [`states`], with `input` as `$states.input`.
pub(crate) fn states_for_input(run: &Run<'_>, frame: &Frame, input: &Value) -> States {
    let state = run.definition.state(frame.state);
    let context = uses_context(state).then(|| io::context_object(run, frame));
    States::new(input, context.as_ref())
}

/// Evaluates a template for `field`.
pub(crate) fn evaluate(
    run: &mut Run<'_>,
    frame: &Frame,
    template: &JsonataTemplate,
    field: &str,
    states: &States,
) -> Result<Value, Failure> {
    if let JsonataTemplate::Constant(value) = template {
        return Ok(value.clone());
    }
    let mut env = Env { run, frame };
    template
        .evaluate(field, states, &mut env)
        .map_err(|error| failure(run, frame, error))
}

/// Evaluates one expression for `field`.
pub(crate) fn evaluate_expression(
    run: &mut Run<'_>,
    frame: &Frame,
    expression: &Expression,
    field: &str,
    states: &States,
) -> Result<Value, Failure> {
    let mut env = Env { run, frame };
    jsonata::evaluate_field(expression, field, states, &mut env)
        .map_err(|error| failure(run, frame, error))
}

/// A `States.QueryEvaluationError` of the frame's state, with AWS's cause prefix.
pub(crate) fn failure(run: &Run<'_>, frame: &Frame, error: EvaluationError) -> Failure {
    Failure::evaluation(
        io::state_cause(run, frame, &error.message),
        Some(error.location),
    )
}

/// The state's `Arguments` (Task, Parallel), or its raw input when it has none.
pub(crate) fn arguments(
    run: &mut Run<'_>,
    frame: &Frame,
    io: &JsonataIo,
) -> Result<Value, Failure> {
    match &io.arguments {
        Some(arguments) => {
            let states = states(run, frame);
            evaluate(run, frame, arguments, "Arguments", &states)
        }
        None => Ok(frame.input.clone()),
    }
}

/// The state's `Output` (or `default` when it has none) and its evaluated `Assign`.
pub(crate) fn output_and_assign(
    run: &mut Run<'_>,
    frame: &Frame,
    output: Option<&JsonataTemplate>,
    assign: Option<&Assign>,
    states: &States,
    default: Value,
) -> Result<(Value, Option<Assignment>), Failure> {
    let assigned = match assign {
        Some(Assign::Jsonata(template)) => {
            match evaluate(run, frame, template, "Assign", states)? {
                Value::Object(values) => io::assignment(run, frame, values)?,
                _ => None,
            }
        }
        Some(Assign::JsonPath(_)) | None => None,
    };
    let output = match output {
        Some(template) => evaluate(run, frame, template, "Output", states)?,
        None => default,
    };
    Ok((output, assigned))
}

/// A number field (`TimeoutSeconds`, `MaxConcurrency`, ...) computed by an expression:
/// `parse` accepts the value or the field fails with AWS's unexpected-type message.
pub(crate) fn number_field<T>(
    run: &mut Run<'_>,
    frame: &Frame,
    expression: &Expression,
    field: &str,
    expected: &str,
    parse: impl Fn(&Value) -> Option<T>,
) -> Result<T, Failure> {
    let states = states(run, frame);
    let value = evaluate_expression(run, frame, expression, field, &states)?;
    parse(&value).ok_or_else(|| {
        let error = jsonata::unexpected_type(expression, field, expected, &value);
        failure(run, frame, error)
    })
}

/// Whether any expression of `state` may read `$states.context`.
fn uses_context(state: &State) -> bool {
    let template =
        |template: Option<&JsonataTemplate>| template.is_some_and(JsonataTemplate::uses_context);
    let assign = |assign: Option<&Assign>| matches!(assign, Some(Assign::Jsonata(template)) if template.uses_context());
    let io = match &state.io {
        steppe_asl::definition::Io::Jsonata(io) => {
            template(io.arguments.as_ref()) || template(io.output.as_ref())
        }
        steppe_asl::definition::Io::JsonPath(_) => false,
    };
    let catchers = state
        .catch
        .iter()
        .any(|catcher| template(catcher.output.as_ref()) || assign(catcher.assign.as_ref()));
    let kind = match &state.kind {
        Kind::Choice(choice) => choice.rules.iter().any(|rule| {
            matches!(&rule.test, RuleTest::Condition(condition) if condition.uses_context())
                || template(rule.output.as_ref())
                || assign(rule.assign.as_ref())
        }),
        Kind::Map(map) => {
            let batch_input =
                map.item_batcher
                    .as_ref()
                    .and_then(|batcher| match &batcher.batch_input {
                        Some(steppe_asl::definition::BatchInput::Jsonata(batch_input)) => {
                            Some(batch_input)
                        }
                        _ => None,
                    });
            template(map.items.as_ref())
                || template(map.item_selector_jsonata.as_ref())
                || template(batch_input)
        }
        _ => false,
    };
    io || catchers || kind || assign(state.assign.as_ref()) || dynamic_uses_context(state)
}

/// Whether a `{% %}` number or text field of `state` may read `$states.context`.
fn dynamic_uses_context(state: &State) -> bool {
    use steppe_asl::definition::{Dynamic, FailField, Wait};
    fn dynamic<T>(field: Option<&Dynamic<T>>) -> bool {
        matches!(field, Some(Dynamic::Jsonata(expression)) if expression.uses_context())
    }
    match &state.kind {
        Kind::Task(task) => {
            dynamic(task.timeout_seconds.as_ref()) || dynamic(task.heartbeat_seconds.as_ref())
        }
        Kind::Wait(Wait::Seconds(field)) => dynamic(Some(field)),
        Kind::Wait(Wait::Timestamp(field)) => dynamic(Some(field)),
        Kind::Fail(fail) => [&fail.error, &fail.cause].into_iter().any(|field| {
            matches!(field, Some(FailField::Jsonata(expression)) if expression.uses_context())
        }),
        Kind::Map(map) => {
            let batcher = map.item_batcher.as_ref();
            dynamic(Some(&map.max_concurrency))
                || dynamic(map.tolerated_failure_count.as_ref())
                || dynamic(map.tolerated_failure_percentage.as_ref())
                || dynamic(batcher.and_then(|batcher| batcher.max_items_per_batch.as_ref()))
                || dynamic(batcher.and_then(|batcher| batcher.max_input_bytes_per_batch.as_ref()))
        }
        _ => false,
    }
}
