//! Table tests for every intrinsic function, and the AWS-recorded corpus as a referee.
//!
//! Expected values marked "recorded" come from executions recorded against AWS (the shared
//! LocalStack corpus); those marked "java" were printed by OpenJDK 17 (`Random`,
//! `Double.toString`, `Base64`); hashes of unrecorded inputs come from Python's `hashlib`.

use super::{Env, Intrinsic};
use crate::error_name::{Failure, INTRINSIC_FAILURE};
use crate::path::{Path, Root};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Evaluates against `$` = `input` and `$$` = `context`; draws 0, u64::MAX, 0, … as
/// random numbers.
struct TestEnv {
    input: Value,
    context: Value,
    draws: u64,
}

impl TestEnv {
    fn new(input: Value) -> TestEnv {
        TestEnv {
            input,
            context: Value::Null,
            draws: 0,
        }
    }
}

impl Env for TestEnv {
    fn resolve(&mut self, path: &Path) -> Result<Value, Failure> {
        let document = match path.root() {
            Root::Input => &self.input,
            Root::Context => &self.context,
            Root::Variable(name) => panic!("tests have no variable {name}"),
        };
        let selection = path
            .select_value(document)
            .map_err(|limit| limit.failure(path))?;
        selection.ok_or_else(|| {
            Failure::new(
                "States.Runtime",
                format!(
                    "The JSONPath '{}' could not be found in the input",
                    path.as_str()
                ),
            )
        })
    }

    fn random_u64(&mut self) -> u64 {
        self.draws += 1;
        if self.draws % 2 == 1 {
            0
        } else {
            u64::MAX
        }
    }
}

/// `expected` is JSON text, `FAIL <cause>` for a `States.IntrinsicFailure`, or `REJECT` for
/// a call that must not parse.
fn check(expr: &str, input: &str, expected: &str) {
    let parsed = Intrinsic::parse(expr);
    if expected == "REJECT" {
        assert!(
            parsed.is_err(),
            "{expr}: expected a parse error, got {parsed:?}"
        );
        return;
    }
    let call = parsed.unwrap_or_else(|e| panic!("{expr}: {e}"));
    let input =
        serde_json::from_str(input).unwrap_or_else(|e| panic!("{expr}: bad test input: {e}"));
    let result = call.evaluate(&mut TestEnv::new(input));
    let wanted = match expected.strip_prefix("FAIL ") {
        Some(cause) => Err(Failure::new(INTRINSIC_FAILURE, cause)),
        None => Ok(serde_json::from_str::<Value>(expected)
            .unwrap_or_else(|e| panic!("{expr}: bad expectation: {e}"))),
    };
    assert_eq!(result, wanted, "{expr}");
}

#[rustfmt::skip]
#[test]
fn grammar() {
    check("States.Array()", "{}", "[]");
    check("States.Array('a', 1, -2, 1.5, -0.25, null, true, false)", "{}", r#"["a", 1, -2, 1.5, -0.25, null, true, false]"#);
    check("States.Array(  'a' ,'b'  )", "{}", r#"["a", "b"]"#);
    check(r"States.Array('it\'s', 'a\\b', '\{\}', '{}', '{')", "{}", r#"["it's", "a\\b", "{}", "{}", "{"]"#);
    check("States.StringSplit('Hello\nWorld', '\n')", "{}", r#"["Hello", "World"]"#); // recorded: a raw newline
    check(r#"States.StringToJson('{"a": [1, {"b": 2}]}')"#, "{}", r#"{"a": [1, {"b": 2}]}"#); // recorded: unescaped braces
    check("States.Array($['a b'], $.c[0], $.items[?(@.v == 1)].v, $['x,y'])", r#"{"a b": 1, "c": [2], "items": [{"v": 1}, {"v": 2}], "x,y": 3}"#, "[1, 2, [1], 3]");
    check("States.Array($, $.a)", r#"{"a": 1}"#, r#"[{"a": 1}, 1]"#);
    check("States.ArrayGetItem(States.StringSplit($.name, '-'), 0)", r#"{"name": "machine-7-x"}"#, r#""machine""#);
    check("States.MathAdd(States.MathAdd(States.MathAdd($.y, $.x), $.z), $.bias)", r#"{"x": 1, "y": 2, "z": 3, "bias": -1}"#, "5");
    check(r#"States.Format('He said, \"Hello, {}!\"', 'Test \"Name\" Here')"#, "{}", "REJECT"); // recorded: InvalidDefinition
    check(r"States.Array('\n')", "{}", "REJECT");
    check("States.Array('unterminated)", "{}", "REJECT");
    check("States.Nope()", "{}", "REJECT");
    check("States.array()", "{}", "REJECT");
    check("States.Array ('a')", "{}", "REJECT");
    check("States.Array(", "{}", "REJECT");
    check("States.Array('a'", "{}", "REJECT");
    check("States.Array('a',)", "{}", "REJECT");
    check("States.Array(,)", "{}", "REJECT");
    check("States.Array('a') ", "{}", "REJECT");
    check("States.Array('a')[0]", "{}", "REJECT");
    check("States.Array(1e3)", "{}", "REJECT");
    check("States.Array(1.)", "{}", "REJECT");
    check("States.Array(.5)", "{}", "REJECT");
    check("States.Array(-)", "{}", "REJECT");
    check("States.Array(nullx)", "{}", "REJECT");
    check("States.Array(\"a\")", "{}", "REJECT");
    check("States.Array($.a b)", "{}", "REJECT");
    check("States.Array($.a[)", "{}", "REJECT");
    check("$.a", "{}", "REJECT");
    check("States.", "{}", "REJECT");
}

#[rustfmt::skip]
#[test]
fn arity_is_checked_when_parsing() {
    check("States.Format()", "{}", "REJECT");
    check("States.StringToJson()", "{}", "REJECT");
    check("States.JsonToString(1, 2)", "{}", "REJECT");
    check("States.ArrayPartition($.a)", "{}", "REJECT");
    check("States.ArrayContains($.a)", "{}", "REJECT");
    check("States.ArrayRange(1, 2)", "{}", "REJECT");
    check("States.ArrayGetItem($.a)", "{}", "REJECT");
    check("States.ArrayLength()", "{}", "REJECT");
    check("States.ArrayUnique($.a, $.b)", "{}", "REJECT");
    check("States.Base64Encode()", "{}", "REJECT");
    check("States.Base64Decode('a', 'b')", "{}", "REJECT");
    check("States.Hash('a')", "{}", "REJECT");
    check("States.JsonMerge($.a, $.b)", "{}", "REJECT");
    check("States.MathRandom(1)", "{}", "REJECT");
    check("States.MathRandom(1, 2, 3, 4)", "{}", "REJECT");
    check("States.MathAdd(1, 2, 3)", "{}", "REJECT");
    check("States.StringSplit('a')", "{}", "REJECT");
    check("States.UUID(1)", "{}", "REJECT");
}

#[test]
fn nesting_is_limited_to_ten_calls() {
    let nest = |depth: usize| format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
    check(&nest(10), "{}", "[[[[[[[[[[1]]]]]]]]]]");
    check(&nest(11), "{}", "REJECT");
}

#[rustfmt::skip]
#[test]
fn format() {
    check("States.Format('Formatting argument {}.', $.v)", r#"{"v": " "}"#, r#""Formatting argument  .""#); // recorded
    check("States.Format('Formatting argument {}.', $.v)", r#"{"v": null}"#, r#""Formatting argument null.""#); // recorded
    check("States.Format('Formatting argument {}.', $.v)", r#"{"v": 1.1}"#, r#""Formatting argument 1.1.""#); // recorded
    check("States.Format('fst={} and snd={}.', $.a, $.b)", r#"{"a": {"Arg1": 1, "Arg2": []}, "b": "{\"x\": []}"}"#, r#""fst={Arg1=1, Arg2=[]} and snd={\"x\": []}.""#); // recorded
    check("States.Format('Hello {}, welcome to {}!', $.name, $.place)", r#"{"name": "John", "place": "LocalStack"}"#, r#""Hello John, welcome to LocalStack!""#); // recorded
    check("States.Format('{} {} {}', 7, true, 'x')", "{}", r#""7 true x""#);
    check("States.Format('no placeholders')", "{}", r#""no placeholders""#);
    check(r"States.Format('\{} is {}', 'x')", "{}", r#""{} is x""#);
    check(r"States.Format('{\} {', 'x')", "{}", "FAIL Invalid arguments in States.Format: the number of arguments (1) does not match the number of placeholders (0)");
    check("States.Format($.template, $.name)", r#"{"template": "Hi {}!", "name": "Ana"}"#, r#""Hi Ana!""#);
    check("States.Format($.template)", r#"{"template": "Hi {}!"}"#, "FAIL Invalid arguments in States.Format: the number of arguments (0) does not match the number of placeholders (1)");
    check("States.Format('{} {}', 'a')", "{}", "FAIL Invalid arguments in States.Format: the number of arguments (1) does not match the number of placeholders (2)");
    check("States.Format(1)", "{}", "FAIL Invalid arguments in States.Format: argument 1 must be a string, not a number");
    check("States.Format('{}', $.v)", r#"{"v": [1.5, "a", null, {"k": true}, 1.0]}"#, r#""[1.5, a, null, {k=true}, 1.0]""#); // java
    check("States.Format('{}|{}|{}|{}|{}|{}', $.a, $.b, $.c, $.d, $.e, $.f)", r#"{"a": 1e20, "b": 0.001, "c": 2.5e-4, "d": 12345678.9, "e": 100, "f": -0.0}"#, r#""1.0E20|0.001|2.5E-4|1.23456789E7|100|-0.0""#); // java
}

#[rustfmt::skip]
#[test]
fn json_text() {
    check("States.StringToJson($.v)", r#"{"v": ""}"#, "null"); // recorded
    check("States.StringToJson($.v)", r#"{"v": "true"}"#, "true"); // recorded
    check("States.StringToJson($.v)", r#"{"v": "\"HelloWorld\""}"#, r#""HelloWorld""#); // recorded
    check("States.StringToJson($.v)", r#"{"v": "[1, 2, \"HelloWorld\"]"}"#, r#"[1, 2, "HelloWorld"]"#); // recorded
    check("States.StringToJson($.v)", r#"{"v": "{\"Arg1\": 1, \"Arg2\": []}"}"#, r#"{"Arg1": 1, "Arg2": []}"#); // recorded
    check("States.StringToJson($.v)", r#"{"v": "  "}"#, "null");
    check("States.StringToJson($.v)", r#"{"v": "{nope"}"#, "FAIL Invalid arguments in States.StringToJson: argument 1 is not valid JSON");
    check("States.StringToJson($.v)", r#"{"v": {}}"#, "FAIL Invalid arguments in States.StringToJson: argument 1 must be a string, not an object");
    check("States.JsonToString($.v)", r#"{"v": null}"#, r#""null""#); // recorded
    check("States.JsonToString($.v)", r#"{"v": 1}"#, r#""1""#); // recorded
    check("States.JsonToString($.v)", r#"{"v": true}"#, r#""true""#); // recorded
    check("States.JsonToString($.v)", r#"{"v": "HelloWorld"}"#, r#""\"HelloWorld\"""#); // recorded
    check("States.JsonToString($.v)", r#"{"v": {"Arg1": 1, "Arg2": []}}"#, r#""{\"Arg1\":1,\"Arg2\":[]}""#); // recorded
    check("States.JsonToString($.v)", r#"{"v": [1.0, 1e20, "a\"\\\n\u001f/é"]}"#, r#""[1.0,1.0E20,\"a\\\"\\\\\\n\\u001F/é\"]""#);
}

#[rustfmt::skip]
#[test]
fn arrays() {
    check("States.Array($.a, $.b)", r#"{"a": {"Arg1": 1, "Arg2": []}, "b": 1.1}"#, r#"[{"Arg1": 1, "Arg2": []}, 1.1]"#); // recorded
    check("States.ArrayPartition($.a, $.n)", r#"{"a": [0, 1, 2, 3], "n": 2}"#, "[[0, 1], [2, 3]]"); // recorded
    check("States.ArrayPartition($.a, $.n)", r#"{"a": [0, 1, 2], "n": 4}"#, "[[0, 1, 2]]"); // recorded
    check("States.ArrayPartition($.a, $.n)", r#"{"a": [], "n": 1}"#, "[]"); // recorded
    check("States.ArrayPartition($.a, 1.5)", r#"{"a": [0, 1, 2]}"#, "[[0, 1], [2]]");
    check("States.ArrayPartition($.a, 0.4)", r#"{"a": [0]}"#, "FAIL Invalid arguments in States.ArrayPartition: the chunk size must be greater than 0");
    check("States.ArrayPartition($.a, -1)", r#"{"a": [0]}"#, "FAIL Invalid arguments in States.ArrayPartition: the chunk size must be greater than 0");
    check("States.ArrayPartition('a', 1)", "{}", "FAIL Invalid arguments in States.ArrayPartition: argument 1 must be an array, not a string");
    check("States.ArrayPartition($.a, '1')", r#"{"a": [0]}"#, "FAIL Invalid arguments in States.ArrayPartition: argument 2 must be a number, not a string");
    check("States.ArrayContains($.a, $.v)", r#"{"a": [], "v": null}"#, "false"); // recorded
    check("States.ArrayContains($.a, $.v)", r#"{"a": [[1, 2, 3], 2], "v": null}"#, "false"); // recorded
    check("States.ArrayContains($.a, $.v)", r#"{"a": [{"1": 2, "2": []}], "v": {"1": 2, "2": []}}"#, "true"); // recorded
    check("States.ArrayContains($.a, $.v)", r#"{"a": [true, false], "v": false}"#, "true"); // recorded
    check("States.ArrayContains($.a, 5)", r#"{"a": [1, 2, 3, 4, 5, 6]}"#, "true"); // recorded
    check("States.ArrayContains($.a, 1)", r#"{"a": [1.0]}"#, "false");
    check("States.ArrayContains($.a, 1)", r#"{"a": {}}"#, "FAIL Invalid arguments in States.ArrayContains: argument 1 must be an array, not an object");
    check("States.ArrayGetItem($.a, $.i)", r#"{"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5}"#, "6"); // recorded
    check("States.ArrayGetItem($.a, 0)", r#"{"a": ["x"]}"#, r#""x""#);
    check("States.ArrayGetItem($.a, 1.0)", r#"{"a": ["x", "y"]}"#, r#""y""#);
    check("States.ArrayGetItem($.a, 2)", r#"{"a": ["x", "y"]}"#, "FAIL Invalid arguments in States.ArrayGetItem: the index 2 is out of bounds for an array of 2 items");
    check("States.ArrayGetItem($.a, -1)", r#"{"a": ["x"]}"#, "FAIL Invalid arguments in States.ArrayGetItem: the index must be a non-negative integer");
    check("States.ArrayGetItem($.a, 0.5)", r#"{"a": ["x"]}"#, "FAIL Invalid arguments in States.ArrayGetItem: the index must be a non-negative integer");
    check("States.ArrayGetItem($.a, '0')", r#"{"a": ["x"]}"#, "FAIL Invalid arguments in States.ArrayGetItem: argument 2 must be a number, not a string");
    check("States.ArrayLength($.a)", r#"{"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]}"#, "9"); // recorded
    check("States.ArrayLength($.a)", r#"{"a": []}"#, "0");
    check("States.ArrayLength($.a)", r#"{"a": "abc"}"#, "FAIL Invalid arguments in States.ArrayLength: argument 1 must be an array, not a string");
    check("States.ArrayUnique($.a)", r#"{"a": [1, 2, 2, 3, 3, 4]}"#, "[1, 2, 3, 4]"); // recorded
    check("States.ArrayUnique($.a)", r#"{"a": [null, null, true, true, false, 1, 1, 1.1, 1.0, "1", [], [], [null], [null], {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1, "b": 1}]}"#, r#"[null, true, false, 1, 1.1, 1.0, "1", [], [null], {"a": 1, "b": 2}, {"a": 1, "b": 1}]"#);
    check("States.ArrayUnique(null)", "{}", "FAIL Invalid arguments in States.ArrayUnique: argument 1 must be an array, not null");
}

#[rustfmt::skip]
#[test]
fn array_range() {
    check("States.ArrayRange($.a, $.b, $.c)", r#"{"a": 1, "b": 9, "c": 2}"#, "[1, 3, 5, 7, 9]"); // recorded
    check("States.ArrayRange($.a, $.b, $.c)", r#"{"a": 1, "b": 9, "c": 9}"#, "[1]"); // recorded
    check("States.ArrayRange(1, 10, 2)", "{}", "[1, 3, 5, 7, 9]"); // recorded
    check("States.ArrayRange(0, 3, 1)", "{}", "[0, 1, 2, 3]"); // recorded
    check("States.ArrayRange(4, 4, 3)", "{}", "[4]");
    check("States.ArrayRange(5, 1, -2)", "{}", "[5, 3, 1]");
    check("States.ArrayRange(1, 5, -1)", "{}", "[]");
    check("States.ArrayRange(0.6, 2.4, 1.2)", "{}", "[1, 2]");
    check("States.ArrayRange(1, 5, 0)", "{}", "FAIL Invalid arguments in States.ArrayRange: the step must not be 0");
    check("States.ArrayRange(0, 1000, 1)", "{}", "FAIL Invalid arguments in States.ArrayRange: the range has 1001 items, more than the 1000 allowed");
    check("States.ArrayRange(0, 1000000000, 1)", "{}", "FAIL Invalid arguments in States.ArrayRange: the range has 1000000001 items, more than the 1000 allowed");
    check("States.ArrayRange(2147483647, -2147483648, -1)", "{}", "FAIL Invalid arguments in States.ArrayRange: the range has 4294967296 items, more than the 1000 allowed");
    check("States.ArrayRange(0, 10000000000, 1)", "{}", "FAIL Invalid arguments in States.ArrayRange: argument 2 must be between -2147483648 and 2147483647");
    check("States.ArrayRange(0, 'a', 1)", "{}", "FAIL Invalid arguments in States.ArrayRange: argument 2 must be a number, not a string");
    let thousand = Intrinsic::parse("States.ArrayRange(1, 1000, 1)")
        .unwrap()
        .evaluate(&mut TestEnv::new(json!({})));
    assert_eq!(
        thousand,
        Ok(Value::Array((1..=1000).map(Value::from).collect()))
    );
}

#[rustfmt::skip]
#[test]
fn encoding_and_hashing() {
    check("States.Base64Encode($.v)", r#"{"v": ""}"#, r#""""#); // recorded
    check("States.Base64Encode($.v)", r#"{"v": "Data to encode"}"#, r#""RGF0YSB0byBlbmNvZGU=""#); // recorded
    check("States.Base64Encode('héllo wörld')", "{}", r#""aMOpbGxvIHfDtnJsZA==""#); // java
    check("States.Base64Encode(1)", "{}", "FAIL Invalid arguments in States.Base64Encode: argument 1 must be a string, not a number");
    check("States.Base64Decode($.v)", r#"{"v": ""}"#, r#""""#); // recorded
    check("States.Base64Decode($.v)", r#"{"v": "SGVsbG8gV29ybGQ="}"#, r#""Hello World""#); // recorded
    check("States.Base64Decode('SGVsbG8gV29ybGQ')", "{}", r#""Hello World""#); // java
    check("States.Base64Decode('/w==')", "{}", r#""\ufffd""#); // java
    check("States.Base64Decode('!!!')", "{}", "FAIL Invalid arguments in States.Base64Decode: argument 1 is not valid Base64");
    let long = "a".repeat(10_001);
    check(&format!("States.Base64Encode('{}')", &long[1..]), "{}", &format!("{:?}", "YWFh".repeat(3333) + "YQ=="));
    check(&format!("States.Base64Encode('{long}')"), "{}", "FAIL Invalid arguments in States.Base64Encode: argument 1 must be at most 10000 characters long");
    check(&format!("States.Base64Decode('{long}')"), "{}", "FAIL Invalid arguments in States.Base64Decode: argument 1 must be at most 10000 characters long");
    check(&format!("States.Hash('{long}', 'MD5')"), "{}", "FAIL Invalid arguments in States.Hash: argument 1 must be at most 10000 characters long");
    let data = r#"{"v": "input data"}"#;
    check("States.Hash($.v, 'MD5')", data, r#""812f45842bc6d66ee14572ce20db8e86""#); // recorded
    check("States.Hash($.v, 'SHA-1')", data, r#""aaff4a450a104cd177d28d18d74485e8cae074b7""#); // recorded
    check("States.Hash($.v, 'SHA-256')", data, r#""b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3""#); // recorded
    check("States.Hash($.v, 'SHA-384')", data, r#""d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562""#);
    check("States.Hash($.v, 'SHA-512')", data, r#""6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4""#); // recorded
    check("States.Hash('Hash this string', 'SHA-256')", "{}", r#""1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e""#); // recorded
    check("States.Hash('', 'MD5')", "{}", r#""d41d8cd98f00b204e9800998ecf8427e""#);
    check("States.Hash($.v, 'SHA-1')", r#"{"v": {"a": 1}}"#, r#""9f89c740ceb46d7418c924a78ac57941d5e96520""#);
    check("States.Hash('x', 'sha-256')", "{}", "FAIL Invalid arguments in States.Hash: the algorithm 'sha-256' is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512");
    check("States.Hash('x', null)", "{}", "FAIL Invalid arguments in States.Hash: argument 2 must be a string, not null");
}

#[rustfmt::skip]
#[test]
fn json_merge() {
    let input = r#"{"a": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}, "b": {"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}}"#;
    check("States.JsonMerge($.a, $.b, false)", input, r#"{"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3, "d": 4}"#); // recorded
    check(r#"States.JsonMerge(States.StringToJson('{"k": "false"}'), $.a, false)"#, r#"{"a": {"x": "y"}}"#, r#"{"k": "false", "x": "y"}"#); // recorded
    check("States.JsonMerge($.a, $.b, true)", input, "FAIL Invalid arguments in States.JsonMerge: deep merging is not supported, so argument 3 must be false");
    check("States.JsonMerge($.a, $.b, 'false')", input, "FAIL Invalid arguments in States.JsonMerge: argument 3 must be a boolean, not a string");
    check("States.JsonMerge($.a, 1, false)", input, "FAIL Invalid arguments in States.JsonMerge: argument 2 must be an object, not a number");
}

#[rustfmt::skip]
#[test]
fn math() {
    for (a, b, sum) in [
        ("-9", "3", "-6"),                 // recorded
        ("1.49", "1.5", "3"),              // recorded
        ("1.5", "1.51", "4"),              // recorded
        ("-1.49", "-1.5", "-2"),           // recorded
        ("-1.5", "-1.51", "-3"),           // recorded
        ("0.5", "0", "1"),                 // recorded
        ("-0.5", "0.5", "1"),              // recorded
        ("-0.5", "0", "0"),                // recorded
        ("-2.5", "0", "-2"),               // recorded
        ("-3.5", "0", "-3"),               // recorded
        ("3.5", "0", "4"),                 // recorded
        ("0.49999999999999994", "0", "0"), // java
    ] {
        check(
            "States.MathAdd($.a, $.b)",
            &format!(r#"{{"a": {a}, "b": {b}}}"#),
            sum,
        );
    }
    check("States.MathAdd($.a, -1)", r#"{"a": 3}"#, "2"); // recorded
    check("States.MathAdd(2147483647, 1)", "{}", "FAIL Invalid arguments in States.MathAdd: the sum 2147483648 is outside the range -2147483648 to 2147483647");
    check("States.MathAdd(2147483648, 0)", "{}", "FAIL Invalid arguments in States.MathAdd: argument 1 must be between -2147483648 and 2147483647");
    check("States.MathAdd(1, '-1')", "{}", "FAIL Invalid arguments in States.MathAdd: argument 2 must be a number, not a string");
    check("States.MathRandom(0, 10, 42)", "{}", "0"); // java: new Random(42).nextInt(10)
    check("States.MathRandom(0, 999, 42)", "{}", "125"); // java
    check("States.MathRandom($.a, $.b, $.c)", r#"{"a": 0, "b": 999, "c": 3}"#, "239"); // java
    check("States.MathRandom(-1000, 1000, 3)", "{}", "734"); // java
    check("States.MathRandom(1, 9, -5)", "{}", "3"); // java
    check("States.MathRandom(-2000000000, 2000000000, 99)", "{}", "-1192035722"); // java: nextInt() until in range
    check("States.MathRandom($.a, $.b)", r#"{"a": 12.5, "b": 44.51}"#, "36"); // java: seed 0 drawn from the env
    check("States.MathRandom(5, 5)", "{}", "FAIL Invalid arguments in States.MathRandom: the start 5 must be less than the end 5");
    check("States.MathRandom(1, 'x')", "{}", "FAIL Invalid arguments in States.MathRandom: argument 2 must be a number, not a string");
    check("States.MathRandom(1, 2, 'x')", "{}", "FAIL Invalid arguments in States.MathRandom: argument 3 must be a number, not a string");
}

#[rustfmt::skip]
#[test]
fn strings_and_uuid() {
    let split = "States.StringSplit($.a, $.b)";
    check(split, r#"{"a": " , ", "b": ","}"#, r#"[" ", " "]"#); // recorded
    check(split, r#"{"a": ",,,,", "b": ","}"#, "[]"); // recorded
    check(split, r#"{"a": "1,2,3,4,5", "b": ","}"#, r#"["1", "2", "3", "4", "5"]"#); // recorded
    check(split, r#"{"a": "This.is+a,test=string", "b": ".+,="}"#, r#"["This", "is", "a", "test", "string"]"#); // recorded
    check(split, r#"{"a": "a\n,\n ,,b", "b": ","}"#, r#"["a\n", "\n ", "b"]"#); // recorded (shape)
    check(split, r#"{"a": "a,b", "b": ""}"#, r#"["a,b"]"#); // java StringTokenizer
    check(split, r#"{"a": "", "b": ","}"#, "[]");
    check(split, r#"{"a": 1, "b": ","}"#, "FAIL Invalid arguments in States.StringSplit: argument 1 must be a string, not a number");
    check("States.UUID()", "{}", r#""00000000-0000-4000-bfff-ffffffffffff""#);
}

#[test]
fn paths_are_visited_and_failures_pass_through() {
    let call =
        Intrinsic::parse("States.Format($tpl, States.Array($$.Map.Item.Value, $.a), 'x')").unwrap();
    let mut roots = Vec::new();
    call.for_each_path(&mut |path| roots.push(path.root().clone()));
    assert_eq!(
        roots,
        [Root::Variable("tpl".into()), Root::Context, Root::Input]
    );
    assert_eq!(call.function_name(), "States.Format");
    let missing = Intrinsic::parse("States.Array($.missing)")
        .unwrap()
        .evaluate(&mut TestEnv::new(json!({})));
    assert_eq!(missing.unwrap_err().error, "States.Runtime");
    assert!(super::is_intrinsic("States.UUID()"));
    assert!(!super::is_intrinsic("$.States"));
}

#[test]
fn context_paths() {
    let context = json!({
        "Execution": {"Name": "exec-1", "Input": {"FunctionInput": "Value1,Value2\n,,\ntrue,'x'\n"}},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm-1", "Name": "sm-1"},
    });
    let mut env = TestEnv {
        input: json!({}),
        context,
        draws: 0,
    };
    let mut run = |expr: &str| Intrinsic::parse(expr).unwrap().evaluate(&mut env);
    // recorded: the Context object's `StateMachine` prints as a Java map.
    let format = run("States.Format('fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)");
    let printed = "fst=exec-1 and snd={Id=arn:aws:states:us-east-1:111111111111:stateMachine:sm-1, Name=sm-1}.";
    assert_eq!(format, Ok(json!(printed)));
    // recorded: empty tokens go, whitespace-only ones stay.
    let split = run("States.StringSplit($$.Execution.Input.FunctionInput, ',')");
    assert_eq!(split, Ok(json!(["Value1", "Value2\n", "\ntrue", "'x'\n"])));
}

/// `States.Array($, $, …)` copied the input once per argument: 1,000 arguments on a 256 KiB
/// input built 256 MB. The arguments of one call are bounded, and so is the result.
#[test]
fn arguments_and_results_are_bounded() {
    use crate::limits::INTRINSIC_VALUES_BYTES_MAX;
    let input = json!({"big": "x".repeat(200_000)});
    let copies = INTRINSIC_VALUES_BYTES_MAX / 200_000 + 1;
    let run = |expr: &str| {
        Intrinsic::parse(expr)
            .unwrap()
            .evaluate(&mut TestEnv::new(input.clone()))
    };
    let under = vec!["$.big"; copies - 2].join(", ");
    let array = run(&format!("States.Array({under})")).unwrap();
    assert_eq!(array.as_array().map(Vec::len), Some(copies - 2));
    let over = vec!["$.big"; copies].join(", ");
    let failure = run(&format!("States.ArrayLength(States.Array({over}))")).unwrap_err();
    assert_eq!(failure.error, INTRINSIC_FAILURE);
    assert_eq!(
        failure.cause,
        format!("The arguments of States.Array exceed the maximum size of {INTRINSIC_VALUES_BYTES_MAX} bytes")
    );
    // Each `States.JsonToString` doubles the backslashes: 2^10 times 12 KB of them.
    let mut nested = "$.text".to_string();
    for _ in 0..10 {
        nested = format!("States.JsonToString({nested})");
    }
    let input = json!({"text": "\\".repeat(12_000)});
    let failure = Intrinsic::parse(&nested)
        .unwrap()
        .evaluate(&mut TestEnv::new(input))
        .unwrap_err();
    assert_eq!(failure.error, INTRINSIC_FAILURE);
}

/// Walks every JSONPath-mode case recorded under `intrinsic_functions` whose definition is
/// one Pass state with `Parameters`, evaluates those Parameters and compares with AWS.
#[test]
fn corpus_intrinsic_cases() {
    let shared = std::env::var("STEPPE_SHARED").unwrap_or_else(|_| "../../../shared".to_string());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(shared)
        .join("conformance/localstack/executions/intrinsic_functions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: shared corpus not found");
        return;
    };
    let mut files: Vec<_> = entries
        .map(|entry| entry.expect("readable directory").path())
        .collect();
    files.sort();
    let (mut passed, mut skipped, mut mismatches) = (0, BTreeMap::new(), Vec::new());
    for file in files
        .iter()
        .filter(|file| file.extension().is_some_and(|ext| ext == "json"))
    {
        let text = std::fs::read_to_string(file).expect("readable case");
        let case: Value = serde_json::from_str(&text).expect("a case is JSON");
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        match corpus::run(&case) {
            corpus::Outcome::Passed => passed += 1,
            corpus::Outcome::Skipped(reason) => *skipped.entry(reason).or_insert(0) += 1,
            corpus::Outcome::Mismatch(detail) => mismatches.push(format!("{name}: {detail}")),
        }
    }
    let n_skipped: usize = skipped.values().sum();
    println!("{passed} passed, {n_skipped} skipped {skipped:?}");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// A test-only runner for one recorded case: just enough of a Pass state's `Parameters`.
mod corpus {
    use super::TestEnv;
    use crate::intrinsic::{is_intrinsic, Intrinsic};
    use crate::path::{Path, Root};
    use serde_json::{Map, Value};

    pub(super) enum Outcome {
        Passed,
        Skipped(&'static str),
        Mismatch(String),
    }

    /// A compiled `Parameters` template.
    enum Node {
        Constant(Value),
        Object(Vec<(String, Node)>),
        Array(Vec<Node>),
        Path(Path),
        Call(Intrinsic),
    }

    pub(super) fn run(case: &Value) -> Outcome {
        let definition = &case["definition"];
        if definition
            .to_string()
            .contains(r#""QueryLanguage":"JSONata""#)
        {
            return Outcome::Skipped("JSONata");
        }
        let Some((state_name, parameters)) = single_pass_parameters(definition) else {
            return Outcome::Skipped("not a single Pass state with only Parameters");
        };
        let template = match compile(parameters) {
            Ok(template) => template,
            Err(message) => return Outcome::Mismatch(format!("does not compile: {message}")),
        };
        let mut reads_only_input = true;
        visit_paths(&template, &mut |path| {
            reads_only_input &= path.root() == &Root::Input
        });
        if !reads_only_input {
            return Outcome::Skipped("reads the Context object or a variable");
        }
        let input = case["input"]
            .as_str()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        let result = evaluate(&template, &mut TestEnv::new(input));
        compare(&case["expected"], &case["placeholders"], state_name, result)
    }

    fn single_pass_parameters(definition: &Value) -> Option<(&str, &Value)> {
        let states = definition["States"]
            .as_object()
            .filter(|states| states.len() == 1)?;
        let (name, state) = states.iter().next()?;
        let fields_allowed = ["Type", "Parameters", "End", "Comment"];
        let only_parameters = state
            .as_object()?
            .keys()
            .all(|key| fields_allowed.contains(&key.as_str()));
        (state["Type"] == "Pass" && only_parameters)
            .then_some((name.as_str(), state.get("Parameters")?))
    }

    fn compile(value: &Value) -> Result<Node, String> {
        match value {
            Value::Object(map) => map
                .iter()
                .map(|(key, child)| compile_field(key, child))
                .collect::<Result<_, _>>()
                .map(Node::Object),
            Value::Array(items) => items
                .iter()
                .map(compile)
                .collect::<Result<_, _>>()
                .map(Node::Array),
            other => Ok(Node::Constant(other.clone())),
        }
    }

    fn compile_field(key: &str, child: &Value) -> Result<(String, Node), String> {
        let Some(name) = key.strip_suffix(".$") else {
            return Ok((key.to_string(), compile(child)?));
        };
        let text = child
            .as_str()
            .ok_or_else(|| format!("{key} is not a string"))?;
        let node = if is_intrinsic(text) {
            Node::Call(Intrinsic::parse(text).map_err(|e| e.message)?)
        } else {
            Node::Path(Path::parse(text).map_err(|e| e.message)?)
        };
        Ok((name.to_string(), node))
    }

    fn visit_paths(node: &Node, visit: &mut dyn FnMut(&Path)) {
        match node {
            Node::Constant(_) => {}
            Node::Object(fields) => fields
                .iter()
                .for_each(|(_, child)| visit_paths(child, visit)),
            Node::Array(items) => items.iter().for_each(|child| visit_paths(child, visit)),
            Node::Path(path) => visit(path),
            Node::Call(call) => call.for_each_path(visit),
        }
    }

    fn evaluate(node: &Node, env: &mut TestEnv) -> Result<Value, crate::error_name::Failure> {
        use crate::intrinsic::Env as _;
        Ok(match node {
            Node::Constant(value) => value.clone(),
            Node::Object(fields) => {
                let mut map = Map::new();
                for (name, child) in fields {
                    map.insert(name.clone(), evaluate(child, env)?);
                }
                Value::Object(map)
            }
            Node::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|child| evaluate(child, env))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Path(path) => env.resolve(path)?,
            Node::Call(call) => call.evaluate(env)?,
        })
    }

    /// Compares with the recorded result. Strings the recorder put in place of random
    /// values (`placeholders`) match any value. A failure's cause is expected to carry the
    /// engine's prefix, which a Pass state entered first always has at event #2.
    fn compare(
        expected: &Value,
        placeholders: &Value,
        state_name: &str,
        result: Result<Value, crate::error_name::Failure>,
    ) -> Outcome {
        let placeholders: Vec<&str> = placeholders
            .as_array()
            .map(|items| items.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let wanted_output = (expected["status"] == "SUCCEEDED").then(|| &expected["output"]);
        match (result, wanted_output) {
            (Ok(actual), Some(wanted)) if matches(wanted, &actual, &placeholders) => {
                Outcome::Passed
            }
            (Ok(actual), _) => Outcome::Mismatch(format!("got {actual}, AWS recorded {expected}")),
            (Err(failure), None) => {
                let cause = format!("An error occurred while executing the state '{state_name}' (entered at the event id #2). {}", failure.cause);
                if expected["error"] == failure.error.as_str()
                    && expected["cause"] == cause.as_str()
                {
                    Outcome::Passed
                } else {
                    Outcome::Mismatch(format!(
                        "failed with {} / {cause}, AWS recorded {expected}",
                        failure.error
                    ))
                }
            }
            (Err(failure), Some(_)) => {
                Outcome::Mismatch(format!("failed with {failure:?}, AWS recorded {expected}"))
            }
        }
    }

    fn matches(wanted: &Value, actual: &Value, placeholders: &[&str]) -> bool {
        match (wanted, actual) {
            (Value::String(text), _) if placeholders.contains(&text.as_str()) => true,
            (Value::Array(wanted), Value::Array(actual)) => {
                wanted.len() == actual.len()
                    && wanted
                        .iter()
                        .zip(actual)
                        .all(|(w, a)| matches(w, a, placeholders))
            }
            (Value::Object(wanted), Value::Object(actual)) => {
                wanted.len() == actual.len()
                    && wanted.iter().all(|(key, w)| {
                        actual.get(key).is_some_and(|a| matches(w, a, placeholders))
                    })
            }
            _ => wanted == actual,
        }
    }
}
