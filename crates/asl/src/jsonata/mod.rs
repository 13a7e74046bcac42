//! JSONata expressions, as Step Functions runs them.
//!
//! A `{% expr %}` string is parsed once, when the definition is compiled, into an
//! [`Expression`]; a JSON value with such strings anywhere inside becomes a [`Template`].
//! Evaluation binds `$states` and the workflow variables the expression refers to, adds the
//! functions Step Functions provides (`$partition`, `$range`, `$hash`, `$random`, `$uuid`,
//! `$parse`), disables `$eval`, and takes "now" and randomness from the caller, so that the
//! same inputs give the same results. Failures carry AWS's cause texts.
//!
//! The language itself is the `jsonata-core` crate (see ARCHITECTURE.md for why).

mod functions;
mod value;

use crate::limits::{JSONATA_BYTES_MAX, JSONATA_SEQUENCE_ITEMS_MAX};
use crate::timestamp;
use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{
    error_code_prefix, CancelToken, Context, Evaluator, EvaluatorError, EvaluatorOptions,
};
use jsonata_core::parser::ParserError;
use jsonata_core::value::JValue;
use serde_json::{Map, Value};
use std::sync::Arc;

pub use value::{from_json, to_json};

/// How long one expression may run, as AWS allows.
pub const EVALUATION_MILLIS_MAX: u64 = 1_000;

/// How deep one evaluation may nest (a runaway recursion ends as an error, not a crash).
pub const EVALUATION_DEPTH_MAX: usize = 2_000;

/// A compiled JSONata expression.
#[derive(Clone)]
pub struct Expression {
    /// The text between `{%` and `%}`, trimmed, as AWS quotes it in causes.
    text: String,
    ast: Arc<AstNode>,
    /// Workflow variables the expression may read (every `$name` but `$states`).
    variables: Arc<[String]>,
    uses_context: bool,
    uses_random: bool,
    /// Whether the expression names any function Step Functions adds or changes; only then
    /// does evaluation register them.
    uses_functions: bool,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expression({:?})", self.text)
    }
}

/// Why an expression failed to parse: JSONata's own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl Expression {
    /// Parses the text inside `{% %}`.
    pub fn parse(text: &str) -> Result<Expression, ParseError> {
        let text = text.trim();
        let ast =
            jsonata_core::parser::parse(text).map_err(|error| ParseError(parse_message(&error)))?;
        let mut names = Vec::new();
        let mut functions = Vec::new();
        if let Ok(tree) = serde_json::to_value(&ast) {
            collect_names(&tree, &mut names, &mut functions);
        }
        names.sort();
        names.dedup();
        let uses_random = names
            .iter()
            .chain(&functions)
            .any(|name| name == "random" || name == "uuid");
        let uses_functions = names
            .iter()
            .chain(&functions)
            .any(|name| functions::NAMES.contains(&name.as_str()));
        let variables: Vec<String> = names.into_iter().filter(|name| name != "states").collect();
        Ok(Expression {
            uses_context: uses_context(text),
            text: text.to_string(),
            ast: Arc::new(ast),
            variables: variables.into(),
            uses_random,
            uses_functions,
        })
    }

    /// The expression's text, as AWS quotes it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The workflow variables the expression may read.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Whether the expression may read `$states.context`.
    pub fn uses_context(&self) -> bool {
        self.uses_context
    }

    /// Evaluates the expression. `Ok(None)` means it returned nothing (undefined).
    /// Step Functions gives expressions no input document: state data comes from `$states`.
    /// No sequence may pass [`JSONATA_SEQUENCE_ITEMS_MAX`] items (D2015), so that
    /// `[1..10000000]` fails before it allocates, and none may hold more than
    /// [`JSONATA_BYTES_MAX`] at once (nested arrays, which no sequence limit sees).
    /// A result that is a function has no JSON form, and Step Functions refuses it
    /// ([`Failed::Unsupported`]).
    pub fn evaluate(&self, states: &States, env: &mut dyn Env) -> Result<Option<Value>, Failed> {
        self.evaluate_within(states, env, STEP_FUNCTIONS_BOUNDS)
    }

    /// [`Expression::evaluate`] within `bounds` (tests give the memory budget time to act
    /// on a slow machine).
    fn evaluate_within(
        &self,
        states: &States,
        env: &mut dyn Env,
        bounds: Bounds,
    ) -> Result<Option<Value>, Failed> {
        let mut context = Context::new();
        context.bind("states".to_string(), states.value.clone());
        self.run(context, &JValue::Undefined, Some(bounds), env, |result| {
            if matches!(
                result,
                JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. }
            ) {
                return Err(Failed::Unsupported);
            }
            Ok(value::to_json(&result))
        })
        .map_err(Failed::Threw)?
    }

    /// Evaluates the expression against an input document `$`, with extra bindings, and
    /// Step Functions' functions: how the JSONata test suite runs expressions. Sequences and
    /// memory are bounded only by jsonata-js's own limit (a range of at most 10^7 items,
    /// D2014), which the suite checks.
    pub fn evaluate_document(
        &self,
        document: Option<&Value>,
        bindings: &Map<String, Value>,
        env: &mut dyn Env,
    ) -> Result<Option<Value>, String> {
        let mut context = Context::new();
        for (name, value) in bindings {
            context.bind(name.clone(), value::from_json(value));
        }
        let document = document.map_or(JValue::Undefined, value::from_json);
        self.run(context, &document, None, env, |result| {
            value::to_json(&result)
        })
    }

    /// Runs the evaluation and `finish` (the conversion of its result) under the time and
    /// depth bounds, and under `bounds` when given. The memory budget counts what this thread
    /// allocates, less what it frees, from the bindings to the converted result; past it the
    /// evaluation is cancelled at its next step.
    fn run<T>(
        &self,
        mut context: Context,
        document: &JValue,
        bounds: Option<Bounds>,
        env: &mut dyn Env,
        finish: impl FnOnce(JValue) -> T,
    ) -> Result<T, String> {
        let cancel = Cancel(CancelToken::new());
        let budget = bounds.map(|bounds| steppe_budget::arm(bounds.bytes_max, &cancel));
        for name in self.variables.iter() {
            if let Some(value) = env.variable(name) {
                context.bind(name.clone(), value::from_json(value));
            }
        }
        let options = EvaluatorOptions {
            timeout_ms: Some(bounds.map_or(EVALUATION_MILLIS_MAX, |bounds| bounds.millis_max)),
            max_stack_depth: Some(EVALUATION_DEPTH_MAX),
            max_sequence_length: bounds.map(|bounds| bounds.sequence_items_max),
            cancel: Some(cancel.0.clone()),
        };
        let mut evaluator = Evaluator::with_options(context, options);
        if self.uses_functions {
            let seed = self.uses_random.then(|| env.random_u64());
            functions::register(&mut evaluator, env.now_millis(), seed).map_err(describe)?;
        }
        let result = evaluator.evaluate(&self.ast, document);
        let finished = result.map(finish);
        if budget.as_ref().is_some_and(|budget| budget.exceeded()) {
            return Err(memory_exceeded());
        }
        finished.map_err(describe)
    }
}

/// Bounds on one evaluation beyond its depth.
#[derive(Clone, Copy)]
struct Bounds {
    sequence_items_max: usize,
    bytes_max: usize,
    millis_max: u64,
}

/// Step Functions' evaluations: no sequence past [`JSONATA_SEQUENCE_ITEMS_MAX`] items (D2015)
/// and no more than [`JSONATA_BYTES_MAX`] held at once.
const STEP_FUNCTIONS_BOUNDS: Bounds = Bounds {
    sequence_items_max: JSONATA_SEQUENCE_ITEMS_MAX,
    bytes_max: JSONATA_BYTES_MAX,
    millis_max: EVALUATION_MILLIS_MAX,
};

/// The cancel token of one evaluation, cancelled by its memory budget.
struct Cancel(CancelToken);

impl steppe_budget::Exceeded for Cancel {
    fn exceeded(&self) {
        self.0.cancel();
    }
}

/// The cause of an evaluation stopped by its memory budget. jsonata-js has no memory bound and
/// so no code for it; AWS documents a memory limit per expression without its size or text.
fn memory_exceeded() -> String {
    format!(
        "U1004: Evaluation used more than {} MiB of memory",
        JSONATA_BYTES_MAX >> 20
    )
}

/// Why [`Expression::evaluate`] gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// The evaluation threw: JSONata's coded message.
    Threw(String),
    /// The result is a function (or a regular expression), which has no JSON form.
    Unsupported,
}

/// AWS's text for an evaluation error: JSONata's coded message, `T1006: ...`.
/// jsonata-js's wording (and so AWS's) for an evaluation error: the coded message. jsonata-core
/// names the culprit after some messages and puts a prefix before others.
fn describe(error: EvaluatorError) -> String {
    let message = error.message();
    const NOT_A_FUNCTION: &str = "T1006: Attempted to invoke a non-function";
    if message.starts_with(NOT_A_FUNCTION) {
        return NOT_A_FUNCTION.to_string();
    }
    coded(message).to_string()
}

/// The coded part of a message: itself if it starts with a code (`T0410: ...`), else the first
/// coded message after a `": "`, else all of it.
fn coded(message: &str) -> &str {
    if error_code_prefix(message).is_some() {
        return message;
    }
    message
        .match_indices(": ")
        .map(|(at, _)| &message[at + 2..])
        .find(|rest| error_code_prefix(rest).is_some())
        .unwrap_or(message)
}

/// jsonata-js's wording for a syntax error: `S0202: ...`, without jsonata-core's prefixes.
fn parse_message(error: &ParserError) -> String {
    match error {
        ParserError::InvalidSyntax(inner) | ParserError::InvalidNumber(inner) => {
            coded(inner).to_string()
        }
        ParserError::UnclosedComment => "S0106: Comment has no closing tag".to_string(),
        other => other.to_string(),
    }
}

/// Whether `text` may read `$states.context`: some `$states` is not followed by one of the
/// other three fields. Conservative: a `$states` passed around whole counts.
fn uses_context(text: &str) -> bool {
    text.match_indices("$states").any(|(at, _)| {
        let rest = &text[at + "$states".len()..];
        ![".input", ".result", ".errorOutput"]
            .iter()
            .any(|field| rest.starts_with(field))
    })
}

/// Collects the `$name`s an AST refers to, and the functions it calls by name.
fn collect_names(tree: &Value, names: &mut Vec<String>, functions: &mut Vec<String>) {
    match tree {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("Variable", Value::String(name)) => names.push(name.clone()),
                    ("Function", Value::Object(call)) => {
                        if let Some(Value::String(name)) = call.get("name") {
                            functions.push(name.clone());
                        }
                    }
                    _ => {}
                }
                collect_names(child, names, functions);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_names(item, names, functions)),
        _ => {}
    }
}

/// What an expression can see of the execution besides `$states`.
pub trait Env {
    /// A workflow variable in scope.
    fn variable(&self, name: &str) -> Option<&Value>;
    /// A uniformly random u64 from the execution's seeded generator.
    fn random_u64(&mut self) -> u64;
    /// The time of the evaluation, epoch milliseconds (`$now()`, `$millis()`).
    fn now_millis(&self) -> i64;
}

/// The `$states` reserved variable: `input`, `context`, and `result` or `errorOutput`.
#[derive(Clone)]
pub struct States {
    value: JValue,
}

impl States {
    /// `$states` with the state's raw input and, if any expression needs it, the Context
    /// object.
    pub fn new(input: &Value, context: Option<&Value>) -> States {
        let mut map = indexmap::IndexMap::with_capacity(4);
        map.insert("input".to_string(), value::from_json(input));
        if let Some(context) = context {
            map.insert("context".to_string(), value::from_json(context));
        }
        States {
            value: JValue::object(map),
        }
    }

    /// The same `$states` with `result` (Task, Parallel and Map `Output` and `Assign`).
    pub fn with_result(&self, result: &Value) -> States {
        self.with("result", result)
    }

    /// The same `$states` with `errorOutput` (a catcher's `Output` and `Assign`).
    pub fn with_error_output(&self, error_output: &Value) -> States {
        self.with("errorOutput", error_output)
    }

    fn with(&self, key: &str, value: &Value) -> States {
        let mut map = self.value.as_object().cloned().unwrap_or_default();
        map.insert(key.to_string(), value::from_json(value));
        States {
            value: JValue::object(map),
        }
    }
}

/// A JSON value in which `{% %}` strings are expressions, compiled.
#[derive(Debug, Clone)]
pub enum Template {
    /// A value with no expression inside.
    Constant(Value),
    /// A `{% %}` string.
    Expression(Expression),
    /// An object with an expression somewhere inside.
    Object(Vec<(String, Template)>),
    /// An array with an expression somewhere inside.
    Array(Vec<Template>),
}

/// Why a template could not be evaluated: the field path (AWS's `location`) and the message
/// that follows AWS's "An error occurred while executing the state ..." prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationError {
    /// The field, with `/` between nested keys: `Output/result`.
    pub location: String,
    /// The message.
    pub message: String,
}

impl Template {
    /// Compiles a value; `Err` has the location (relative to the value, `""` for itself) and
    /// the parse error of the first invalid expression.
    pub fn compile(value: &Value) -> Result<Template, (String, ParseError)> {
        match value {
            Value::String(text) => match expression_text(text) {
                Some(inner) => Expression::parse(inner)
                    .map(Template::Expression)
                    .map_err(|error| (String::new(), error)),
                None => Ok(Template::Constant(value.clone())),
            },
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                let mut constant = true;
                for (key, child) in map {
                    let template =
                        Template::compile(child).map_err(|(at, error)| (join(key, &at), error))?;
                    constant &= matches!(template, Template::Constant(_));
                    fields.push((key.clone(), template));
                }
                Ok(if constant {
                    Template::Constant(value.clone())
                } else {
                    Template::Object(fields)
                })
            }
            Value::Array(items) => {
                let mut elements = Vec::with_capacity(items.len());
                let mut constant = true;
                for (index, child) in items.iter().enumerate() {
                    let template = Template::compile(child)
                        .map_err(|(at, error)| (join(&index.to_string(), &at), error))?;
                    constant &= matches!(template, Template::Constant(_));
                    elements.push(template);
                }
                Ok(if constant {
                    Template::Constant(value.clone())
                } else {
                    Template::Array(elements)
                })
            }
            _ => Ok(Template::Constant(value.clone())),
        }
    }

    /// Whether any expression inside may read `$states.context`.
    pub fn uses_context(&self) -> bool {
        match self {
            Template::Constant(_) => false,
            Template::Expression(expression) => expression.uses_context(),
            Template::Object(fields) => fields.iter().any(|(_, field)| field.uses_context()),
            Template::Array(items) => items.iter().any(Template::uses_context),
        }
    }

    /// The expression, if the whole template is one.
    pub fn as_expression(&self) -> Option<&Expression> {
        match self {
            Template::Expression(expression) => Some(expression),
            _ => None,
        }
    }

    /// Evaluates the template for the field `field` (`Output`, `Arguments`, ...).
    /// An expression that returns nothing is an error, as in AWS.
    pub fn evaluate(
        &self,
        field: &str,
        states: &States,
        env: &mut dyn Env,
    ) -> Result<Value, EvaluationError> {
        match self {
            Template::Constant(value) => Ok(value.clone()),
            Template::Expression(expression) => evaluate_field(expression, field, states, env),
            Template::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (key, template) in fields {
                    let value = template.evaluate(&join(field, key), states, env)?;
                    map.insert(key.clone(), value);
                }
                Ok(Value::Object(map))
            }
            Template::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| item.evaluate(&join(field, &index.to_string()), states, env))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }
}

/// Evaluates one expression for `field`, with AWS's messages for errors and for nothing.
pub fn evaluate_field(
    expression: &Expression,
    field: &str,
    states: &States,
    env: &mut dyn Env,
) -> Result<Value, EvaluationError> {
    let text = expression.text();
    match expression.evaluate(states, env) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(EvaluationError {
            location: field.to_string(),
            message: format!(
                "The JSONata expression '{text}' specified for the field '{field}' returned nothing (undefined)."
            ),
        }),
        Err(Failed::Threw(error)) => Err(EvaluationError {
            location: field.to_string(),
            message: format!(
                "The JSONata expression '{text}' specified for the field '{field}' threw an error during evaluation. {error}"
            ),
        }),
        Err(Failed::Unsupported) => Err(EvaluationError {
            location: field.to_string(),
            message: format!(
                "The JSONata expression '{text}' specified for the field '{field}' returned an unsupported result type."
            ),
        }),
    }
}

/// AWS's message for an expression whose result has the wrong type for its field.
pub fn unexpected_type(
    expression: &Expression,
    field: &str,
    expected: &str,
    value: &Value,
) -> EvaluationError {
    EvaluationError {
        location: field.to_string(),
        message: format!(
            "The JSONata expression '{}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{}' for value: {}",
            expression.text(),
            type_name(value),
            value
        ),
    }
}

/// JSON's name for a value's type, as AWS's messages use it.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The expression inside a string of the form `{% expr %}`, or `None` for a plain string.
pub fn expression_text(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{%")?.strip_suffix("%}")?;
    Some(inner.trim())
}

fn join(field: &str, key: &str) -> String {
    match (field.is_empty(), key.is_empty()) {
        (_, true) => field.to_string(),
        (true, false) => key.to_string(),
        (false, false) => format!("{field}/{key}"),
    }
}

/// `$now()`'s text for `millis`: ISO 8601 in UTC with three digits of milliseconds, as
/// JavaScript's `toISOString` writes it.
fn now_text(millis: i64) -> String {
    let seconds = timestamp::format_iso8601(millis.div_euclid(1000) * 1000);
    let whole = seconds.strip_suffix('Z').unwrap_or(&seconds);
    format!("{whole}.{:03}Z", millis.rem_euclid(1000))
}

#[cfg(test)]
mod tests;
