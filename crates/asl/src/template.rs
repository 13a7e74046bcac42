//! Payload templates: the JSONPath-mode `Parameters`, `ResultSelector`, `ItemSelector` and
//! `Assign` objects, in which a key ending in `.$` takes its value from a path or an
//! intrinsic function call.
//!
//! A template is compiled once. Subtrees with no `.$` key anywhere stay constant JSON and are
//! cloned as they are, so a template costs nothing for the fields it does not compute.

use crate::diagnostic::Diagnostics;
use crate::error_name::Failure;
use crate::intrinsic::{self, Intrinsic};
use crate::path::Path;
use serde_json::{Map, Value};

/// A compiled payload template.
#[derive(Debug, Clone)]
pub enum Template {
    /// A constant value with no `.$` key inside.
    Constant(Value),
    /// An object with at least one computed field somewhere below.
    Object(Vec<Field>),
    /// An array with at least one computed element somewhere below.
    Array(Vec<Template>),
}

/// One field of a template object.
#[derive(Debug, Clone)]
pub struct Field {
    /// The output key (for a `.$` key, without its suffix).
    pub name: String,
    /// How the value is computed.
    pub value: FieldValue,
}

/// How a template field gets its value.
#[derive(Debug, Clone)]
pub enum FieldValue {
    /// A nested template or constant.
    Template(Template),
    /// `"key.$": "$.path"`: the value a path selects. `key` is kept for error messages.
    Path {
        /// The key as written, with its `.$` suffix.
        key: String,
        /// The path.
        path: Path,
    },
    /// `"key.$": "States.Format(...)"`.
    Intrinsic(Intrinsic),
}

/// What evaluating a template needs from the engine.
pub trait Env: intrinsic::Env {
    /// The value `path` selects for the field `key`, or AWS's failure when it selects nothing.
    fn resolve_field(&mut self, key: &str, path: &Path) -> Result<Value, Failure>;
}

impl Template {
    /// Compiles `value` found at JSON-pointer `location`, reporting every bad `.$` field.
    pub fn compile(value: &Value, location: &str, diagnostics: &mut Diagnostics) -> Template {
        match value {
            Value::Object(map) if needs_evaluation(value) => Template::Object(
                map.iter()
                    .map(|(key, child)| compile_field(key, child, location, diagnostics))
                    .collect(),
            ),
            Value::Array(items) if needs_evaluation(value) => Template::Array(
                items
                    .iter()
                    .map(|item| Template::compile(item, location, diagnostics))
                    .collect(),
            ),
            _ => Template::Constant(value.clone()),
        }
    }

    /// Computes the payload.
    pub fn evaluate(&self, env: &mut dyn Env) -> Result<Value, Failure> {
        match self {
            Template::Constant(value) => Ok(value.clone()),
            Template::Array(items) => items
                .iter()
                .map(|item| item.evaluate(env))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Template::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for field in fields {
                    let value = match &field.value {
                        FieldValue::Template(template) => template.evaluate(env)?,
                        FieldValue::Path { key, path } => env.resolve_field(key, path)?,
                        FieldValue::Intrinsic(call) => call.evaluate(env)?,
                    };
                    map.insert(field.name.clone(), value);
                }
                Ok(Value::Object(map))
            }
        }
    }

    /// Calls `visit` on every path the template reads, including those inside intrinsic calls.
    pub fn for_each_path(&self, visit: &mut dyn FnMut(&Path)) {
        match self {
            Template::Constant(_) => {}
            Template::Array(items) => items.iter().for_each(|item| item.for_each_path(visit)),
            Template::Object(fields) => {
                for field in fields {
                    match &field.value {
                        FieldValue::Template(template) => template.for_each_path(visit),
                        FieldValue::Path { path, .. } => visit(path),
                        FieldValue::Intrinsic(call) => call.for_each_path(visit),
                    }
                }
            }
        }
    }
}

fn compile_field(key: &str, child: &Value, location: &str, diagnostics: &mut Diagnostics) -> Field {
    let Some(name) = key.strip_suffix(".$") else {
        let child_location = format!("{location}/{}", escape_pointer(key));
        return Field {
            name: key.to_string(),
            value: FieldValue::Template(Template::compile(child, &child_location, diagnostics)),
        };
    };
    let value = match child.as_str().map(|text| compile_dynamic(key, text)) {
        Some(Ok(value)) => value,
        Some(Err(())) | None => {
            diagnostics.schema(
                location,
                format!("The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"),
            );
            FieldValue::Template(Template::Constant(Value::Null))
        }
    };
    Field {
        name: name.to_string(),
        value,
    }
}

fn compile_dynamic(key: &str, text: &str) -> Result<FieldValue, ()> {
    if intrinsic::is_intrinsic(text) {
        return Intrinsic::parse(text)
            .map(FieldValue::Intrinsic)
            .map_err(drop);
    }
    let path = Path::parse(text).map_err(drop)?;
    Ok(FieldValue::Path {
        key: key.to_string(),
        path,
    })
}

/// Whether any key at or below `value` ends in `.$`.
fn needs_evaluation(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, child)| key.ends_with(".$") || needs_evaluation(child)),
        Value::Array(items) => items.iter().any(needs_evaluation),
        _ => false,
    }
}

/// Escapes a key for use in a JSON pointer (RFC 6901).
pub fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
