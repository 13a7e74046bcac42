//! Which workflow variables each state reads: DescribeStateMachine's `variableReferences`,
//! "a map of state name to a list of variables referenced by that state; states that do not
//! use variable references will not be shown" (AWS's API reference).
//!
//! A state reads a variable through a JSONata expression (`{% $x + 1 %}`), a JSONPath whose
//! root is a variable (`"Variable": "$x.total"`, `"items.$": "$list[0]"`, `"SecondsPath":
//! "$delay"`), or an intrinsic function's argument (`"States.Format('{}', $name)"`). Nested
//! states (Parallel branches, Map item processors) are states of their own and are listed
//! under their own names. Each state's variables are listed once, in the order they are found
//! (an expression's own in alphabetical order).

use crate::jsonata::{expression_text, Expression};
use serde_json::{Map, Value};

/// The variables each state reads, states in definition order, those that read none left out.
pub fn variable_references(definition: &Value) -> Vec<(String, Vec<String>)> {
    let mut references = Vec::new();
    collect_states(definition, &mut references);
    references
}

fn collect_states(machine: &Value, references: &mut Vec<(String, Vec<String>)>) {
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        let Some(state) = state.as_object() else {
            continue;
        };
        let mut names = Vec::new();
        for (key, value) in state {
            if !matches!(key.as_str(), "Branches" | "ItemProcessor" | "Iterator") {
                walk(key, value, &mut names);
            }
        }
        if !names.is_empty() {
            references.push((name.clone(), names));
        }
        for branch in state
            .get("Branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_states(branch, references);
        }
        for processor in ["ItemProcessor", "Iterator"] {
            if let Some(processor) = state.get(processor) {
                collect_states(processor, references);
            }
        }
    }
}

fn walk(key: &str, value: &Value, names: &mut Vec<String>) {
    match value {
        Value::String(text) => strings(key, text, names),
        Value::Array(items) => items.iter().for_each(|item| walk(key, item, names)),
        Value::Object(members) => walk_object(members, names),
        _ => {}
    }
}

fn walk_object(members: &Map<String, Value>, names: &mut Vec<String>) {
    for (key, value) in members {
        walk(key, value, names);
    }
}

fn strings(key: &str, text: &str, names: &mut Vec<String>) {
    if let Some(inner) = expression_text(text) {
        if let Ok(expression) = Expression::parse(inner) {
            for variable in expression.variables() {
                add(names, variable);
            }
        }
        return;
    }
    let is_path =
        key.ends_with(".$") || (key.ends_with("Path") && key != "ResultPath") || key == "Variable";
    if !is_path {
        return;
    }
    if text.starts_with("States.") {
        intrinsic_arguments(text, names);
    } else if let Some(variable) = root_variable(text) {
        add(names, variable);
    }
}

/// `x` of a path `$x`, `$x.field` or `$x[0]`; `None` for the input (`$`, `$.a`) and the
/// Context object (`$$`).
fn root_variable(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('$')?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    name.starts_with(|c: char| c.is_alphabetic() || c == '_')
        .then_some(name)
}

/// Variables among an intrinsic function's arguments, outside quoted strings.
fn intrinsic_arguments(text: &str, names: &mut Vec<String>) {
    let mut quoted = false;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' => quoted = !quoted,
            '$' if !quoted && !text[..at].ends_with('$') => {
                if let Some(variable) = root_variable(&text[at..]) {
                    add(names, variable);
                }
            }
            _ => {}
        }
    }
}

fn add(names: &mut Vec<String>, variable: &str) {
    if !names.iter().any(|name| name == variable) {
        names.push(variable.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonpath_jsonata_and_intrinsic_references_are_listed_per_state() {
        let definition = json!({
            "StartAt": "Check",
            "States": {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$limit", "NumericGreaterThanPath": "$.amount", "Next": "Wait"}],
                    "Default": "Wait"
                },
                "Wait": {"Type": "Wait", "SecondsPath": "$delay", "Next": "Tell"},
                "Tell": {
                    "Type": "Pass",
                    "Parameters": {
                        "text.$": "States.Format('{} owes $fake {}', $customer.name, $$.Execution.Name)",
                        "input.$": "$.order",
                        "context.$": "$$.State.Name"
                    },
                    "Assign": {"seen.$": "$customer"},
                    "Next": "Both"
                },
                "Both": {
                    "Type": "Parallel",
                    "QueryLanguage": "JSONata",
                    "Arguments": "{% {'total': $total + $tax, 'all': $states.input} %}",
                    "Branches": [{"StartAt": "Inner", "States": {
                        "Inner": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $inner %}", "End": true}
                    }}],
                    "Next": "Plain"
                },
                "Plain": {"Type": "Pass", "ResultPath": "$.done", "End": true}
            }
        });
        let references = variable_references(&definition);
        let expected: Vec<(String, Vec<String>)> = vec![
            ("Check".into(), vec!["limit".into()]),
            ("Wait".into(), vec!["delay".into()]),
            ("Tell".into(), vec!["customer".into()]),
            ("Both".into(), vec!["tax".into(), "total".into()]),
            ("Inner".into(), vec!["inner".into()]),
        ];
        assert_eq!(references, expected);
    }
}
