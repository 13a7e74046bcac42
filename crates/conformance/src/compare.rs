//! Comparing an expected JSON value (with placeholders) with what steppe produced.
//!
//! Objects are compared by key set, ignoring key order (the recorder sorted keys), arrays
//! element by element, numbers by their exact JSON number (`1.0` is not `1`), and strings as
//! placeholder patterns. A string that is one placeholder of a kind that stands for any
//! value (a test transformer's replacement) matches any value.

use crate::placeholder::{Kind, Placeholders};
use serde_json::Value;
use std::fmt;

/// Where and how two values differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// A JSON-pointer-like path to the difference ("" for the whole value).
    pub path: String,
    /// The expected part, shortened.
    pub expected: String,
    /// The actual part, shortened.
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() {
            String::new()
        } else {
            format!(" at {}", self.path)
        };
        write!(f, "expected {}, got {}{at}", self.expected, self.actual)
    }
}

/// Compares two JSON values.
pub fn values(
    expected: &Value,
    actual: &Value,
    placeholders: &Placeholders,
) -> Result<(), Mismatch> {
    values_at(expected, actual, placeholders, "")
}

/// Compares an expected payload with the JSON text steppe produced (`input`, `output`,
/// `parameters` of history events). The expected side is either the JSON text AWS sent, or
/// the value the recorder parsed it into; both are compared as JSON values.
pub fn payload(
    expected: &Value,
    actual_text: &str,
    placeholders: &Placeholders,
) -> Result<(), Mismatch> {
    let Ok(actual) = serde_json::from_str::<Value>(actual_text) else {
        return Err(mismatch(
            "",
            expected,
            &Value::String(actual_text.to_string()),
        ));
    };
    match expected {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(expected) => values(&expected, &actual, placeholders),
            // Not JSON text: a placeholder stands for the whole text.
            Err(_) if placeholders.text_matches(text, actual_text) => Ok(()),
            Err(_) => Err(mismatch("", expected, &actual)),
        },
        _ => values(expected, &actual, placeholders),
    }
}

/// Compares exact text, with placeholders.
pub fn text(expected: &str, actual: &str, placeholders: &Placeholders) -> Result<(), Mismatch> {
    if placeholders.text_matches(expected, actual) {
        Ok(())
    } else {
        Err(Mismatch {
            path: String::new(),
            expected: shorten(&format!("{expected:?}")),
            actual: shorten(&format!("{actual:?}")),
        })
    }
}

fn values_at(
    expected: &Value,
    actual: &Value,
    placeholders: &Placeholders,
    path: &str,
) -> Result<(), Mismatch> {
    match (expected, actual) {
        (Value::String(expected_text), _)
            if placeholders.whole(expected_text) == Some(Kind::AnyValue) =>
        {
            Ok(())
        }
        (Value::String(expected_text), Value::String(actual_text)) => {
            if placeholders.text_matches(expected_text, actual_text) {
                Ok(())
            } else {
                Err(mismatch(path, expected, actual))
            }
        }
        (Value::Object(expected_map), Value::Object(actual_map)) => {
            if let Some(key) = expected_map
                .keys()
                .find(|key| !actual_map.contains_key(*key))
            {
                return Err(Mismatch {
                    path: format!("{path}/{key}"),
                    expected: shorten(&expected_map[key].to_string()),
                    actual: "nothing".into(),
                });
            }
            if let Some(key) = actual_map
                .keys()
                .find(|key| !expected_map.contains_key(*key))
            {
                return Err(Mismatch {
                    path: format!("{path}/{key}"),
                    expected: "nothing".into(),
                    actual: shorten(&actual_map[key].to_string()),
                });
            }
            expected_map.iter().try_for_each(|(key, value)| {
                values_at(
                    value,
                    &actual_map[key],
                    placeholders,
                    &format!("{path}/{key}"),
                )
            })
        }
        (Value::Array(expected_items), Value::Array(actual_items)) => {
            if expected_items.len() != actual_items.len() {
                return Err(mismatch(path, expected, actual));
            }
            expected_items
                .iter()
                .zip(actual_items)
                .enumerate()
                .try_for_each(|(item_idx, (expected, actual))| {
                    values_at(
                        expected,
                        actual,
                        placeholders,
                        &format!("{path}/{item_idx}"),
                    )
                })
        }
        _ if expected == actual => Ok(()),
        _ => Err(mismatch(path, expected, actual)),
    }
}

fn mismatch(path: &str, expected: &Value, actual: &Value) -> Mismatch {
    Mismatch {
        path: path.to_string(),
        expected: shorten(&expected.to_string()),
        actual: shorten(&actual.to_string()),
    }
}

/// Cuts long text to keep failure reports readable.
pub fn shorten(text: &str) -> String {
    const CHARS_MAX: usize = 300;
    if text.chars().count() <= CHARS_MAX {
        text.to_string()
    } else {
        let head: String = text.chars().take(CHARS_MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_is_ignored_and_numbers_are_exact() {
        let none = Placeholders::default();
        assert!(values(
            &json!({"a": 1, "b": [1.5]}),
            &json!({"b": [1.5], "a": 1}),
            &none
        )
        .is_ok());
        assert!(values(&json!({"a": 1.0}), &json!({"a": 1}), &none).is_err());
        let error = values(&json!({"a": {"b": 1}}), &json!({"a": {"c": 1}}), &none).unwrap_err();
        assert_eq!(error.path, "/a/b");
    }

    #[test]
    fn payload_text_and_parsed_forms() {
        let none = Placeholders::default();
        assert!(payload(&json!("[1, 2]"), "[1,2]", &none).is_ok());
        assert!(payload(&json!({"a": "x"}), r#"{"a":"x"}"#, &none).is_ok());
        assert!(payload(&json!("\"Hello\""), "\"Hello\"", &none).is_ok());
        assert!(payload(&json!([1, 2]), "[1,2]", &none).is_ok());
        assert!(payload(&json!("\"date\""), "\"2024-01-01T00:00:00Z\"", &none).is_err());
        assert!(payload(
            &json!("\"date\""),
            "\"2024-01-01T00:00:00Z\"",
            &Placeholders::new(["date"])
        )
        .is_ok());
    }

    #[test]
    fn replacement_words_match_any_value() {
        let placeholders = Placeholders::new(["RandomNumberGenerated"]);
        assert!(values(
            &json!({"r": "RandomNumberGenerated"}),
            &json!({"r": 42}),
            &placeholders
        )
        .is_ok());
    }
}
