//! Comparing a recorded AWS execution history with the events steppe emitted.
//!
//! Each event is compared by type, id, previousEventId and its one `*EventDetails` object.
//! Timestamps are not compared (the recorder replaced them all by `"timestamp"`). Inside the
//! details, `input`, `output` and `parameters` (and each `assignedVariables` value) are JSON
//! text on our side; they are compared as JSON values with the recorded text or the value the
//! recorder parsed it into (see `docs/history-rules.md` §0 and §4).
//!
//! Parallel histories are damaged by the recorder (`docs/history-rules.md` §0): every event
//! between `ParallelStateStarted` and the end of the Parallel has `id: [0]` and
//! `previousEventId: 0`, those events are sorted by their JSON text, and a bug deleted every
//! `ParallelStateSucceeded` (and in nested Parallels the inner `ParallelStateExited`). For
//! those histories the comparison is partial: events with integer ids are compared with our
//! event of the same id (ids still count the deleted events), events with an array id are
//! matched, unordered and without ids, to our remaining events by type and details, and our
//! events left over may only be of the deleted types.

use crate::compare::{self, shorten};
use crate::placeholder::Placeholders;
use serde_json::Value;

/// Event types the recorder deleted from Parallel histories.
const DELETED_BY_RECORDER: [&str; 2] = ["ParallelStateSucceeded", "ParallelStateExited"];

/// Compares `expected` (recorded) with `actual` (events as `HistoryEvent::to_json` gives
/// them); the error says where they first differ.
pub fn compare(
    expected: &[Value],
    actual: &[Value],
    placeholders: &Placeholders,
) -> Result<(), String> {
    if expected.iter().any(|event| event["id"].is_array()) {
        return compare_damaged(expected, actual, placeholders);
    }
    for (expected_event, actual_event) in expected.iter().zip(actual) {
        event(expected_event, actual_event, placeholders, true)?;
    }
    if expected.len() != actual.len() {
        let types = |events: &[Value]| {
            events
                .iter()
                .map(|event| event["type"].as_str().unwrap_or("?").to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let common = expected.len().min(actual.len());
        return Err(format!(
            "history: expected {} events, got {}; expected then [{}], got then [{}]",
            expected.len(),
            actual.len(),
            types(&expected[common..]),
            types(&actual[common..])
        ));
    }
    Ok(())
}

/// The partial comparison for histories with Parallel events normalised by the recorder.
fn compare_damaged(
    expected: &[Value],
    actual: &[Value],
    placeholders: &Placeholders,
) -> Result<(), String> {
    let mut claimed = vec![false; actual.len()];
    for expected_event in expected.iter().filter(|event| !event["id"].is_array()) {
        let id = expected_event["id"].as_u64().unwrap_or(0);
        let Some(event_idx) = actual
            .iter()
            .position(|event| event["id"].as_u64() == Some(id))
        else {
            return Err(format!(
                "history: no event with id {id} ({})",
                expected_event["type"]
            ));
        };
        event(expected_event, &actual[event_idx], placeholders, true)?;
        claimed[event_idx] = true;
    }
    for expected_event in expected.iter().filter(|event| event["id"].is_array()) {
        let found = (0..actual.len()).find(|&event_idx| {
            !claimed[event_idx]
                && event(expected_event, &actual[event_idx], placeholders, false).is_ok()
        });
        let Some(event_idx) = found else {
            return Err(format!(
                "history: no event matches the Parallel branch event {}",
                shorten(&expected_event.to_string())
            ));
        };
        claimed[event_idx] = true;
    }
    let unexpected = actual.iter().zip(&claimed).find(|(event, claimed)| {
        !**claimed && !DELETED_BY_RECORDER.contains(&event["type"].as_str().unwrap_or(""))
    });
    match unexpected {
        Some((event, _)) => Err(format!(
            "history: unexpected event {}",
            shorten(&event.to_string())
        )),
        None => Ok(()),
    }
}

/// Compares one event; ids are skipped where the recorder normalised them.
fn event(
    expected: &Value,
    actual: &Value,
    placeholders: &Placeholders,
    check_ids: bool,
) -> Result<(), String> {
    let at = format!(
        "event {} ({})",
        actual["id"],
        actual["type"].as_str().unwrap_or("?")
    );
    if expected["type"] != actual["type"] {
        return Err(format!("history {at}: expected type {}", expected["type"]));
    }
    if check_ids {
        for key in ["id", "previousEventId"] {
            if expected[key] != actual[key] {
                return Err(format!(
                    "history {at}: expected {key} {}, got {}",
                    expected[key], actual[key]
                ));
            }
        }
    }
    let details_key = |event: &Value| {
        event.as_object().and_then(|map| {
            map.keys()
                .find(|key| key.ends_with("EventDetails"))
                .cloned()
        })
    };
    let (expected_key, actual_key) = (details_key(expected), details_key(actual));
    if expected_key != actual_key {
        return Err(format!(
            "history {at}: expected details {expected_key:?}, got {actual_key:?}"
        ));
    }
    match expected_key {
        Some(key) => details(&expected[&key], &actual[&key], placeholders)
            .map_err(|mismatch| format!("history {at} {key}: {mismatch}")),
        None => Ok(()),
    }
}

/// Compares a details object: payload fields as JSON values, the rest as they are.
fn details(
    expected: &Value,
    actual: &Value,
    placeholders: &Placeholders,
) -> Result<(), compare::Mismatch> {
    let (Some(expected_map), Some(actual_map)) = (expected.as_object(), actual.as_object()) else {
        return compare::values(expected, actual, placeholders);
    };
    let missing = |from: &serde_json::Map<String, Value>, to: &serde_json::Map<String, Value>| {
        from.keys().find(|key| !to.contains_key(*key)).cloned()
    };
    if let Some(key) = missing(expected_map, actual_map) {
        return Err(compare::Mismatch {
            path: format!("/{key}"),
            expected: shorten(&expected_map[&key].to_string()),
            actual: "nothing".into(),
        });
    }
    if let Some(key) = missing(actual_map, expected_map) {
        return Err(compare::Mismatch {
            path: format!("/{key}"),
            expected: "nothing".into(),
            actual: shorten(&actual_map[&key].to_string()),
        });
    }
    for (key, expected_value) in expected_map {
        let actual_value = &actual_map[key];
        let res = match key.as_str() {
            "input" | "output" | "parameters" => {
                payload(expected_value, actual_value, placeholders)
            }
            "assignedVariables" => assigned_variables(expected_value, actual_value, placeholders),
            _ => compare::values(expected_value, actual_value, placeholders),
        };
        res.map_err(|mismatch| compare::Mismatch {
            path: format!("/{key}{}", mismatch.path),
            ..mismatch
        })?;
    }
    Ok(())
}

/// `assignedVariables`: variable name to the JSON text of its value.
fn assigned_variables(
    expected: &Value,
    actual: &Value,
    placeholders: &Placeholders,
) -> Result<(), compare::Mismatch> {
    let (Some(expected_map), Some(actual_map)) = (expected.as_object(), actual.as_object()) else {
        return compare::values(expected, actual, placeholders);
    };
    if expected_map.len() != actual_map.len()
        || expected_map.keys().any(|key| !actual_map.contains_key(key))
    {
        return compare::values(expected, actual, placeholders);
    }
    expected_map.iter().try_for_each(|(name, expected_value)| {
        payload(expected_value, &actual_map[name], placeholders).map_err(|mismatch| {
            compare::Mismatch {
                path: format!("/{name}{}", mismatch.path),
                ..mismatch
            }
        })
    })
}

fn payload(
    expected: &Value,
    actual: &Value,
    placeholders: &Placeholders,
) -> Result<(), compare::Mismatch> {
    match actual {
        Value::String(actual_text) => compare::payload(expected, actual_text, placeholders),
        _ => compare::values(expected, actual, placeholders),
    }
}
