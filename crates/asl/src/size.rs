//! The size of a value's compact JSON text, computed without building it.
//!
//! Limits such as [`PAYLOAD_BYTES_MAX`](crate::limits::PAYLOAD_BYTES_MAX) are on this size.
//! [`json_bytes_within`] stops as soon as a bound is passed, so checking a value that may be
//! huge (a selection full of duplicates) costs at most the bound, not the value's size.

use serde_json::Value;

/// The length of `value`'s compact JSON text (`serde_json::to_string`), in bytes.
pub fn json_bytes(value: &Value) -> usize {
    json_bytes_within(value, usize::MAX).unwrap_or(usize::MAX)
}

/// `Some(size)` of `value`'s compact JSON text when it is at most `max` bytes; `None`, as soon
/// as it is known, when it is larger.
pub fn json_bytes_within(value: &Value, max: usize) -> Option<usize> {
    let mut left = max;
    spend(value, &mut left)?;
    Some(max - left)
}

/// Takes `value`'s size from `left`; `None` once `left` does not cover it.
fn spend(value: &Value, left: &mut usize) -> Option<()> {
    let own = match value {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(number) => number.to_string().len(),
        Value::String(text) => string_bytes(text),
        Value::Array(items) => {
            for item in items {
                spend(item, left)?;
            }
            2 + items.len().saturating_sub(1)
        }
        Value::Object(map) => {
            for (key, child) in map {
                spend(child, left)?;
                take(left, string_bytes(key) + 1)?;
            }
            2 + map.len().saturating_sub(1)
        }
    };
    take(left, own)
}

fn take(left: &mut usize, bytes: usize) -> Option<()> {
    *left = left.checked_sub(bytes)?;
    Some(())
}

/// A string's size as a JSON literal: quotes, and one more byte for each character that
/// `serde_json` escapes with a backslash (`\u00XX` escapes take five more).
fn string_bytes(text: &str) -> usize {
    let escapes: usize = text
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0C => 1,
            0..=0x1F => 5,
            _ => 0,
        })
        .sum();
    text.len() + 2 + escapes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: Value) {
        let text = serde_json::to_string(&value).expect("serializable");
        assert_eq!(json_bytes(&value), text.len(), "{text}");
        assert_eq!(json_bytes_within(&value, text.len()), Some(text.len()));
        assert_eq!(json_bytes_within(&value, text.len() - 1), None, "{text}");
    }

    #[test]
    fn sizes_match_serde_json() {
        check(json!(null));
        check(json!(false));
        check(json!(-1.5e300));
        check(json!("a\"b\\c\n\u{1}\u{7f}é"));
        check(json!([]));
        check(json!({}));
        check(json!([1, [2, {"k\"": null}], "x"]));
        check(json!({"a": {"b": [true, {"": ""}]}, "c\u{2}": 0}));
    }
}
