//! Tests of the JSONata layer: bindings, Step Functions' functions, templates and messages.

use super::*;
use serde_json::json;

struct TestEnv {
    variables: Map<String, Value>,
    draws: u64,
}

impl Env for TestEnv {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }
    fn random_u64(&mut self) -> u64 {
        self.draws += 1;
        self.draws.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn now_millis(&self) -> i64 {
        1_700_000_000_123
    }
}

fn env() -> TestEnv {
    TestEnv {
        variables: json!({"x": 41, "name": "Ada"}).as_object().unwrap().clone(),
        draws: 0,
    }
}

fn eval(text: &str, input: Value) -> Result<Option<Value>, String> {
    let expression = Expression::parse(text).map_err(|e| e.0)?;
    expression
        .evaluate(&States::new(&input, None), &mut env())
        .map_err(failure_text)
}

fn failure_text(failed: super::Failed) -> String {
    match failed {
        super::Failed::Threw(message) => message,
        super::Failed::Unsupported => "unsupported".to_string(),
    }
}

/// [`eval`] with a time bound of a minute instead of a second, so that the memory budget,
/// not the clock, stops an evaluation on a slow or busy machine (debug builds, CI).
fn eval_unhurried(text: &str) -> Result<Option<Value>, String> {
    let expression = Expression::parse(text).map_err(|e| e.0)?;
    let bounds = super::Bounds {
        millis_max: 60_000,
        ..super::STEP_FUNCTIONS_BOUNDS
    };
    expression
        .evaluate_within(&States::new(&json!({}), None), &mut env(), bounds)
        .map_err(failure_text)
}

#[test]
fn reads_states_input_and_variables() {
    assert_eq!(
        eval("$states.input.a + $x", json!({"a": 1})),
        Ok(Some(json!(42)))
    );
    assert_eq!(eval("'Hi ' & $name", json!({})), Ok(Some(json!("Hi Ada"))));
}

#[test]
fn a_function_result_is_unsupported() {
    // Step Functions refuses a result with no JSON form (issue 16 item 10); nested
    // functions are dropped or emptied as JSON.stringify does.
    assert_eq!(
        eval("function($x) { $x }", json!({})),
        Err("unsupported".to_string())
    );
    assert_eq!(eval("$sum", json!({})), Err("unsupported".to_string()));
    let field = super::evaluate_field(
        &Expression::parse("$string").unwrap(),
        "Items",
        &States::new(&json!({}), None),
        &mut env(),
    );
    assert_eq!(
        field.map_err(|error| error.message),
        Err("The JSONata expression '$string' specified for the field 'Items' returned an unsupported result type.".to_string())
    );
}

#[test]
fn an_unknown_variable_is_undefined() {
    assert_eq!(eval("$doesNotExist", json!({})), Ok(None));
}

#[test]
fn unqualified_names_see_no_document() {
    assert_eq!(eval("a", json!({"a": 1})), Ok(None));
}

#[test]
fn step_functions_functions() {
    assert_eq!(
        eval("$partition([1,2,3], 2)", json!({})),
        Ok(Some(json!([[1, 2], [3]])))
    );
    assert_eq!(
        eval("$range(0, 10, 5)", json!({})),
        Ok(Some(json!([0, 5, 10])))
    );
    // A one-item sequence is its item in AWS's output (held-out AWS recording, issue 16
    // item 10), and stays a sequence inside an expression.
    assert_eq!(eval("$range(1, 9, 9)", json!({})), Ok(Some(json!(1))));
    assert_eq!(
        eval("$count($range(1, 9, 9))", json!({})),
        Ok(Some(json!(1)))
    );
    assert_eq!(eval("[$range(1, 9, 9)]", json!({})), Ok(Some(json!([1]))));
    assert_eq!(eval("$range(1, 9, 9)[]", json!({})), Ok(Some(json!([1]))));
    assert_eq!(
        eval("$hash('abc', 'SHA-256')", json!({})),
        Ok(Some(json!(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )))
    );
    assert_eq!(
        eval("$parse('{\"a\":[1]}')", json!({})),
        Ok(Some(json!({"a": [1]})))
    );
    assert_eq!(eval("$parse('-0')", json!({})), Ok(Some(json!(0))));
    let uuid = eval("$uuid()", json!({})).unwrap().unwrap();
    let text = uuid.as_str().unwrap();
    assert_eq!(text.len(), 36);
    assert_eq!(&text[14..15], "4");
}

#[test]
fn random_is_in_range_and_seeded_random_repeats() {
    let value = eval("$random()", json!({}))
        .unwrap()
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((0.0..1.0).contains(&value));
    assert_eq!(eval("$random(7)", json!({})), eval("$random(7)", json!({})));
    assert_ne!(eval("$random(7)", json!({})), eval("$random(8)", json!({})));
}

#[test]
fn now_and_millis_come_from_the_caller() {
    assert_eq!(
        eval("$millis()", json!({})),
        Ok(Some(json!(1_700_000_000_123i64)))
    );
    assert_eq!(
        eval("$now()", json!({})),
        Ok(Some(json!("2023-11-14T22:13:20.123Z")))
    );
}

#[test]
fn eval_is_not_a_function() {
    let error = eval("$eval('1')", json!({})).unwrap_err();
    assert_eq!(error, "T1006: Attempted to invoke a non-function");
    let error = eval("$randomSeeded(1)", json!({})).unwrap_err();
    assert_eq!(error, "T1006: Attempted to invoke a non-function");
}

#[test]
fn runaway_recursion_is_an_error() {
    let error = eval("($f := function($n){ $n + $f($n + 1) }; $f(0))", json!({})).unwrap_err();
    assert!(!error.is_empty());
}

#[test]
fn templates_evaluate_nested_expressions_with_field_paths() {
    let template = Template::compile(
        &json!({"a": "{% $states.input.v %}", "b": [1, "{% $nope %}"], "c": "plain"}),
    )
    .unwrap();
    let states = States::new(&json!({"v": 5}), None);
    let error = template
        .evaluate("Output", &states, &mut env())
        .unwrap_err();
    assert_eq!(error.location, "Output/b/1");
    assert_eq!(
        error.message,
        "The JSONata expression '$nope' specified for the field 'Output/b/1' returned nothing (undefined)."
    );
    let template = Template::compile(&json!({"a": "{% $states.input.v %}", "c": "plain"})).unwrap();
    assert_eq!(
        template.evaluate("Output", &states, &mut env()),
        Ok(json!({"a": 5, "c": "plain"}))
    );
}

#[test]
fn parse_errors_name_their_location() {
    let (location, _) = Template::compile(&json!({"a": {"b": "{% 1 + %}"}})).unwrap_err();
    assert_eq!(location, "a/b");
}

#[test]
fn context_use_is_detected_conservatively() {
    assert!(!Expression::parse("$states.input.a & $states.result")
        .unwrap()
        .uses_context());
    assert!(Expression::parse("$states.context.Execution.Id")
        .unwrap()
        .uses_context());
    assert!(Expression::parse("$keys($states)").unwrap().uses_context());
}

#[test]
fn variables_are_collected_without_states() {
    let expression = Expression::parse("$x + $states.input.y + $count($list)").unwrap();
    assert_eq!(
        expression.variables(),
        ["list".to_string(), "x".to_string()]
    );
}

#[test]
fn expressions_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expression>();
    assert_send_sync::<Template>();
}

/// Issue 12: `[1..10000000]` allocated a gigabyte; sequences past
/// `limits::JSONATA_SEQUENCE_ITEMS_MAX` now fail at once with D2015 (jsonata-js's D2014
/// still refuses ranges over 10^7). Checked without the wall-clock time bound: these limits are
/// what must answer, and a loaded machine could meet the time bound first.
#[test]
fn long_sequences_fail_fast() {
    fn check(text: &str, expected: Result<Option<Value>, &str>) {
        let found = eval_unhurried(text);
        match expected {
            Ok(value) => assert_eq!(found, Ok(value), "{text}"),
            Err(code) => assert!(
                found
                    .as_ref()
                    .is_err_and(|message| message.starts_with(code)),
                "{text}: {found:?}"
            ),
        }
    }
    check("$count([1..1000000])", Ok(Some(json!(1_000_000))));
    check(
        "[1..10000000]",
        Err("D2015: The maximum sequence length of 1000000 was exceeded."),
    );
    check("$count([1..1000001])", Err("D2015"));
    check("[0..10000000]", Err("D2014"));
    check("$count([1..1001].([1..1000]))", Err("D2015"));
    // Arrays of arrays are not one sequence: the memory budget bounds them instead.
    assert_eq!(
        eval_unhurried("$count($map([1..20000], function($v) {[1..1000]}))"),
        Err("U1004: Evaluation used more than 256 MiB of memory".to_string())
    );
    check(
        "$count($map([1..20], function($v) {[1..1000]}))",
        Ok(Some(json!(20))),
    );
}

/// Issue 12: nested literal arrays of ranges are each within the sequence limit, yet built
/// gigabytes within the time bound; the memory budget stops them, and the thread's allocations
/// are given back.
#[test]
fn evaluations_stop_at_their_memory_budget() {
    let literal = format!("[{}]", vec!["[1..999999]"; 40].join(","));
    let found = eval_unhurried(&literal);
    assert_eq!(
        found,
        Err("U1004: Evaluation used more than 256 MiB of memory".to_string())
    );
    // A million-item sequence, at the sequence limit, fits the budget.
    assert_eq!(
        eval("$count([1..1000000])", json!({})),
        Ok(Some(json!(1_000_000)))
    );
    // A later evaluation on the same thread starts from a fresh budget.
    assert_eq!(eval("[1..3]", json!({})), Ok(Some(json!([1, 2, 3]))));
}
