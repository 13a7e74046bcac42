//! The bodies of the fuzz targets, one function per target.
//!
//! Each function takes the fuzzer's raw bytes, feeds them to one parser of `steppe-asl` through
//! its public API and evaluates whatever parsed. Definitions, paths, templates, intrinsic calls
//! and Choice rules all come from users through the API, so no input may make these functions
//! panic, hang or allocate without bound. A few cheap properties (a written value reads back,
//! a formatted time parses back) are asserted too, so the fuzzer also finds wrong answers.
//!
//! `crates/asl/tests/fuzz_regressions.rs` includes this file with `#[path]` and runs the same
//! functions on the checked-in crash inputs and on mutated seeds, on stable Rust, in CI. So this
//! file may use only `steppe_asl`, `serde_json` and `std`.

use serde_json::{json, Value};
use steppe_asl::choice::{self, Test};
use steppe_asl::error_name::Failure;
use steppe_asl::intrinsic::{self, Intrinsic};
use steppe_asl::jsonata::{self, Expression, States};
use steppe_asl::path::Path;
use steppe_asl::template::{self, Template};
use steppe_asl::timestamp::{self, Timestamp};
use steppe_asl::Diagnostics;

/// `definition`: the bytes as a definition's JSON text, compiled.
pub fn definition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(definition) = steppe_asl::compile(text) {
        assert!(
            definition.state_count() > 0,
            "a valid definition has states"
        );
        for (_, state) in definition.states() {
            let _ = state.kind.type_name();
        }
    }
}

/// `jsonpath`: the first line is a path, parsed, evaluated and, when it is a reference path,
/// written into the document. The document is the rest of the input when that is JSON, else
/// [`document`].
pub fn jsonpath(data: &[u8]) {
    let Some((text, document)) = split(data) else {
        return;
    };
    if let Ok(path) = Path::parse(text) {
        assert_eq!(path.as_str(), text);
        let _ = path.is_root_only();
        let _ = path.segments();
        let _ = path.select_value(&document);
    }
    if let Ok(reference) = Path::parse_reference(text) {
        assert!(
            reference.is_definite(),
            "{text:?}: reference paths are definite"
        );
        let written = json!({"written": [1, "two"]});
        let mut target = document.clone();
        if reference.set(&mut target, written.clone()).is_ok() {
            let read = reference.select_value(&target);
            assert_eq!(read, Ok(Some(written)), "{text:?}: set, then select");
        }
    }
}

/// `intrinsic`: the first line is an intrinsic function call, parsed and evaluated twice
/// against the document (see [`jsonpath`]); equal seeds must give equal results.
pub fn intrinsic(data: &[u8]) {
    let Some((text, document)) = split(data) else {
        return;
    };
    let Ok(call) = Intrinsic::parse(text) else {
        return;
    };
    assert!(intrinsic::is_intrinsic(text));
    let _ = call.function_name();
    call.for_each_path(&mut |path| {
        let _ = path.as_str();
    });
    let first = call.evaluate(&mut JsonEnv::new(document.clone()));
    let second = call.evaluate(&mut JsonEnv::new(document));
    assert_eq!(first, second, "{text:?}: evaluation is deterministic");
}

/// `jsonata`: the first line is a JSONata expression, parsed and evaluated as Step Functions
/// evaluates one, with the document (see [`jsonpath`]) as `$states.input` and a variable `$v`.
pub fn jsonata(data: &[u8]) {
    let Some((text, document)) = split(data) else {
        return;
    };
    let Ok(expression) = Expression::parse(text) else {
        return;
    };
    let _ = expression.variables();
    let states = States::new(&document, Some(&json!({"Execution": {"Id": "x"}})));
    let _ = jsonata::evaluate_field(&expression, "Output", &states, &mut JsonEnv::new(document));
}

/// `template`: the bytes as a JSONPath-mode payload template (`Parameters`), compiled and,
/// when valid, evaluated against [`document`].
pub fn template(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut diagnostics = Diagnostics::default();
    let template = Template::compile(&value, "/States/S/Parameters", &mut diagnostics);
    let mut paths = 0usize;
    template.for_each_path(&mut |_| paths += 1);
    if diagnostics.has_errors() {
        return;
    }
    let _ = template.evaluate(&mut JsonEnv::new(document()));
}

/// `choice`: the bytes as one Choice rule, parsed in both query languages; a JSONPath rule
/// is evaluated against [`document`]. A rule with `StringMatches` is also tried directly.
pub fn choice(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let location = "/States/C/Choices/0";
    let _ = choice::parse_rule(&value, location, true, &mut Diagnostics::default());
    let mut diagnostics = Diagnostics::default();
    let rule = choice::parse_rule(&value, location, false, &mut diagnostics);
    if let Some(choice::ChoiceRule {
        test: Test::Expr(expr),
        ..
    }) = &rule
    {
        assert!(!diagnostics.has_errors());
        let _ = expr.evaluate(&mut JsonEnv::new(document()));
    }
    if let (Some(pattern), Some(text)) = (
        value.get("StringMatches").and_then(Value::as_str),
        value.get("Comment").and_then(Value::as_str),
    ) {
        let _ = choice::string_matches(pattern, text);
    }
}

/// `timestamp`: the bytes as a timestamp, parsed; and their first 8 bytes as epoch
/// milliseconds, formatted. Whatever is formatted and parses again must be the same instant.
pub fn timestamp(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = Timestamp::parse(text);
        assert_eq!(
            parsed.map(Timestamp::epoch_millis),
            timestamp::parse_rfc3339(text)
        );
        if let Some(parsed) = parsed {
            check_format(parsed.epoch_millis());
        }
    }
    if let Some(bytes) = data.first_chunk::<8>() {
        check_format(i64::from_le_bytes(*bytes));
    }
}

fn check_format(epoch_millis: i64) {
    let text = timestamp::format_iso8601(epoch_millis);
    if let Some(back) = timestamp::parse_rfc3339(&text) {
        assert_eq!(back, epoch_millis, "{text}");
    }
}

/// The document paths are evaluated against when the input brings none: objects, arrays,
/// every scalar type, and keys that need bracket notation.
pub fn document() -> Value {
    json!({
        "a": {"b": [1, {"c": "x"}], "d e": null, "": {"": 0}},
        "items": [{"v": 0, "s": "x"}, {"v": 1.5, "w": [true, false]}, {"v": -1}],
        "n": 42,
        "f": -0.5,
        "t": "2016-03-14T01:59:00Z",
        "s": "a,b,,c",
        "Test\\\"\"Name\"": "quoted",
        "it's": "apostrophe",
        "b64": "aGVsbG8=",
        "nested": {"x": {"y": {"z": [[0, 1], [2, 3]]}}}
    })
}

/// Splits the input into its first line and a document: the rest when that parses as JSON,
/// else [`document`]. `None` when the input is not UTF-8.
fn split(data: &[u8]) -> Option<(&str, Value)> {
    let text = std::str::from_utf8(data).ok()?;
    Some(match text.split_once('\n') {
        Some((first, rest)) => (
            first,
            serde_json::from_str(rest).unwrap_or_else(|_| document()),
        ),
        None => (text, document()),
    })
}

/// Resolves paths against one document and draws from a fixed-seed generator.
struct JsonEnv {
    document: Value,
    state: u64,
}

impl JsonEnv {
    fn new(document: Value) -> JsonEnv {
        JsonEnv { document, state: 7 }
    }

    fn select(&self, path: &Path) -> Result<Option<Value>, Failure> {
        path.select_value(&self.document)
            .map_err(|limit| limit.failure(path))
    }
}

impl intrinsic::Env for JsonEnv {
    fn resolve(&mut self, path: &Path) -> Result<Value, Failure> {
        self.select(path)?
            .ok_or_else(|| Failure::new("States.Runtime", "path not found"))
    }

    fn random_u64(&mut self) -> u64 {
        // SplitMix64.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl jsonata::Env for JsonEnv {
    fn variable(&self, name: &str) -> Option<&Value> {
        (name == "v").then_some(&self.document)
    }

    fn random_u64(&mut self) -> u64 {
        intrinsic::Env::random_u64(self)
    }

    fn now_millis(&self) -> i64 {
        1_700_000_000_000
    }
}

impl template::Env for JsonEnv {
    fn resolve_field(&mut self, key: &str, path: &Path) -> Result<Value, Failure> {
        self.select(path)?
            .ok_or_else(|| Failure::new("States.Runtime", format!("{key}: path not found")))
    }
}

impl choice::Env for JsonEnv {
    fn resolve(&mut self, path: &Path) -> Result<Option<Value>, Failure> {
        self.select(path)
    }
}
