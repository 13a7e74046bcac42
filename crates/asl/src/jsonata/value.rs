//! Conversion between `serde_json` values and JSONata's.

use jsonata_core::value::{JArray, JValue};
use serde_json::{Map, Number, Value};

/// A JSON value as JSONata sees it. Numbers become doubles, as in JavaScript.
pub fn from_json(value: &Value) -> JValue {
    match value {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => {
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(
                items.iter().map(from_json).collect(),
                flat,
            ))
        }
        Value::Object(map) => JValue::object(
            map.iter()
                .map(|(key, child)| (key.clone(), from_json(child)))
                .collect(),
        ),
    }
}

/// A JSONata result as JSON; `None` for undefined. Undefined members of objects and arrays
/// are left out, functions become `""` and non-finite numbers `null`, as `JSON.stringify`
/// does.
pub fn to_json(value: &JValue) -> Option<Value> {
    Some(match value {
        JValue::Undefined => return None,
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => Value::Array(items.iter().filter_map(to_json).collect()),
        JValue::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, child) in map.iter() {
                if let Some(child) = to_json(child) {
                    out.insert(key.clone(), child);
                }
            }
            Value::Object(out)
        }
        JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. } => {
            Value::String(String::new())
        }
    })
}

/// A double as JSON: integral values that fit an i64 as integers (JavaScript prints every
/// integral double below 10^21 in full), others as floats.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        return Value::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}
