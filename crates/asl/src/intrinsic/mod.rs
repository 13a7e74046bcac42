//! Intrinsic functions: the 18 `States.*` calls a JSONPath-mode `.$` field may hold.
//!
//! A call is parsed once, when the definition is compiled, into an [`Intrinsic`]: a function
//! and its arguments (literals, paths and nested calls). Evaluating it needs only an [`Env`]
//! that resolves paths and draws random numbers, so this module stays pure and deterministic.
//!
//! AWS runs intrinsic functions on the JVM, and its results show it: `States.Format` prints an
//! object argument as a Java `Map` (`{a=1, b=[]}`), numbers print as Java's `Double.toString`
//! does, `States.MathAdd` rounds as `Math.round` does and `States.StringSplit` drops empty
//! tokens as `StringTokenizer` does. The `java` submodule keeps those rules in one place.
//!
//! ```
//! use steppe_asl::intrinsic::{Env, Intrinsic};
//! use steppe_asl::{error_name::Failure, path::Path};
//! use serde_json::{json, Value};
//!
//! struct Input(Value);
//! impl Env for Input {
//!     fn resolve(&mut self, path: &Path) -> Result<Value, Failure> {
//!         let found = path.select_value(&self.0).map_err(|limit| limit.failure(path))?;
//!         found.ok_or_else(|| Failure::new("States.Runtime", "path not found"))
//!     }
//!     fn random_u64(&mut self) -> u64 {
//!         4
//!     }
//! }
//!
//! let call = Intrinsic::parse("States.Format('Hello, {}!', $.name)").unwrap();
//! let mut env = Input(json!({"name": "Ana"}));
//! assert_eq!(call.evaluate(&mut env).unwrap(), json!("Hello, Ana!"));
//! ```

mod functions;
mod java;
mod parse;
#[cfg(test)]
mod tests;

use crate::error_name::Failure;
use crate::limits::INTRINSIC_VALUES_BYTES_MAX;
use crate::path::{ParseError, Path};
use serde_json::Value;

/// A parsed intrinsic function call such as `States.Format('{}', $.name)`.
#[derive(Clone, Debug)]
pub struct Intrinsic {
    function: Function,
    args: Vec<Arg>,
}

/// What evaluation needs from the engine.
pub trait Env {
    /// The value a path argument selects (the engine picks the root document: `$` input,
    /// `$$` context, `$var` variable) and builds AWS's failure when the path finds nothing.
    fn resolve(&mut self, path: &Path) -> Result<Value, Failure>;
    /// A uniformly random u64 from the execution's seeded generator (for `States.UUID` and
    /// unseeded `States.MathRandom`).
    fn random_u64(&mut self) -> u64;
}

/// Whether a `.$` value is an intrinsic call rather than a path (AWS: starts with "States.").
pub fn is_intrinsic(text: &str) -> bool {
    text.starts_with("States.")
}

impl Intrinsic {
    /// Parses the text of a `.$` field value that starts with `States.`.
    ///
    /// Rejects unknown functions, a wrong number of arguments, escapes other than
    /// `\'` `\{` `\}` `\\` in string literals, and nesting deeper than
    /// [`INTRINSIC_NESTING_MAX`](crate::limits::INTRINSIC_NESTING_MAX).
    pub fn parse(text: &str) -> Result<Intrinsic, ParseError> {
        parse::parse(text)
    }

    /// Evaluates the call. A failure carries `States.IntrinsicFailure` and a cause without
    /// the "An error occurred while executing the state …" prefix, which the engine adds.
    ///
    /// The arguments, and then the result, may hold at most
    /// [`INTRINSIC_VALUES_BYTES_MAX`] of JSON: `States.Array($, $, …)` copies the input once
    /// per argument and each nested `States.JsonToString` can double its argument's size, so
    /// without a bound one call could build gigabytes.
    pub fn evaluate(&self, env: &mut dyn Env) -> Result<Value, Failure> {
        let mut values = Vec::with_capacity(self.args.len());
        let mut budget = INTRINSIC_VALUES_BYTES_MAX;
        for arg in &self.args {
            let value = arg.evaluate(env)?;
            if !spend(&value, &mut budget) {
                return Err(self.too_large("arguments"));
            }
            values.push(value);
        }
        let template = match self.args.first() {
            Some(Arg::String(literal)) => Some(literal.placeholders.as_slice()),
            _ => None,
        };
        let result = functions::call(self.function, &values, template, env)?;
        let mut result_budget = INTRINSIC_VALUES_BYTES_MAX;
        if !spend(&result, &mut result_budget) {
            return Err(self.too_large("result"));
        }
        Ok(result)
    }

    fn too_large(&self, what: &str) -> Failure {
        Failure::new(
            crate::error_name::INTRINSIC_FAILURE,
            format!(
                "The {what} of {} exceed the maximum size of {INTRINSIC_VALUES_BYTES_MAX} bytes",
                self.function.name()
            ),
        )
    }

    /// The function's name as written, e.g. `States.Format`.
    pub fn function_name(&self) -> &'static str {
        self.function.name()
    }

    /// Calls `visit` on every path among the arguments, nested calls included.
    pub fn for_each_path(&self, visit: &mut dyn FnMut(&Path)) {
        for arg in &self.args {
            match arg {
                Arg::Path(path) => visit(path),
                Arg::Call(call) => call.for_each_path(visit),
                Arg::Literal(_) | Arg::String(_) => {}
            }
        }
    }
}

/// Calls the intrinsic function named `name` (`States.Hash`) on evaluated arguments; the
/// JSONata functions Step Functions adds (`$hash`, `$partition`, ...) share these rules.
/// `None` for an unknown name or a wrong number of arguments.
pub(crate) fn call_by_name(
    name: &str,
    values: &[Value],
    env: &mut dyn Env,
) -> Option<Result<Value, Failure>> {
    let function = Function::from_name(name)?;
    let (least, most) = function.arity();
    if values.len() < least || values.len() > most {
        return None;
    }
    Some(functions::call(function, values, None, env))
}

/// The first `nextDouble()` of `new java.util.Random(seed)`: the seeded JSONata `$random`.
pub(crate) fn seeded_double(seed: i64) -> f64 {
    java::JavaRandom::new(seed).next_double()
}

/// Takes the approximate size of `value`'s compact JSON text (numbers count 8 bytes, escapes
/// none) from `budget`; `false`, as soon as it is known, when the budget does not cover it.
fn spend(value: &Value, budget: &mut usize) -> bool {
    let own = match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 8,
        Value::String(text) => text.len() + 2,
        Value::Array(items) => {
            if !items.iter().all(|item| spend(item, budget)) {
                return false;
            }
            items.len() + 2
        }
        Value::Object(map) => {
            if !map.values().all(|item| spend(item, budget)) {
                return false;
            }
            map.keys().map(|key| key.len() + 4).sum::<usize>() + 2
        }
    };
    match budget.checked_sub(own) {
        Some(rest) => {
            *budget = rest;
            true
        }
        None => false,
    }
}

/// One of the 18 intrinsic functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

/// Each function with its name and the least and most arguments it takes.
const FUNCTIONS: [(Function, &str, usize, usize); 18] = [
    (Function::Format, "States.Format", 1, usize::MAX),
    (Function::StringToJson, "States.StringToJson", 1, 1),
    (Function::JsonToString, "States.JsonToString", 1, 1),
    (Function::Array, "States.Array", 0, usize::MAX),
    (Function::ArrayPartition, "States.ArrayPartition", 2, 2),
    (Function::ArrayContains, "States.ArrayContains", 2, 2),
    (Function::ArrayRange, "States.ArrayRange", 3, 3),
    (Function::ArrayGetItem, "States.ArrayGetItem", 2, 2),
    (Function::ArrayLength, "States.ArrayLength", 1, 1),
    (Function::ArrayUnique, "States.ArrayUnique", 1, 1),
    (Function::Base64Encode, "States.Base64Encode", 1, 1),
    (Function::Base64Decode, "States.Base64Decode", 1, 1),
    (Function::Hash, "States.Hash", 2, 2),
    (Function::JsonMerge, "States.JsonMerge", 3, 3),
    (Function::MathRandom, "States.MathRandom", 2, 3),
    (Function::MathAdd, "States.MathAdd", 2, 2),
    (Function::StringSplit, "States.StringSplit", 2, 2),
    (Function::Uuid, "States.UUID", 0, 0),
];

impl Function {
    fn from_name(name: &str) -> Option<Function> {
        FUNCTIONS
            .iter()
            .find(|entry| entry.1 == name)
            .map(|entry| entry.0)
    }

    fn entry(self) -> &'static (Function, &'static str, usize, usize) {
        FUNCTIONS
            .iter()
            .find(|entry| entry.0 == self)
            .expect("every function has an entry")
    }

    fn name(self) -> &'static str {
        self.entry().1
    }

    /// The least and the most number of arguments the function takes.
    fn arity(self) -> (usize, usize) {
        let entry = self.entry();
        (entry.2, entry.3)
    }
}

/// One argument of a call, as written.
#[derive(Clone, Debug)]
enum Arg {
    /// A number, `true`, `false` or `null`.
    Literal(Value),
    /// A single-quoted string.
    String(StringLiteral),
    /// `$…`, `$$…` or `$name…`.
    Path(Path),
    /// A nested `States.*` call.
    Call(Box<Intrinsic>),
}

/// A string literal with its escapes resolved.
#[derive(Clone, Debug)]
struct StringLiteral {
    text: String,
    /// Byte offsets in `text` of each `{}` written without escapes: `States.Format`'s
    /// placeholders. An escaped `\{}` is text, not a placeholder.
    placeholders: Vec<usize>,
}

impl Arg {
    fn evaluate(&self, env: &mut dyn Env) -> Result<Value, Failure> {
        match self {
            Arg::Literal(value) => Ok(value.clone()),
            Arg::String(literal) => Ok(Value::String(literal.text.clone())),
            Arg::Path(path) => env.resolve(path),
            Arg::Call(call) => call.evaluate(env),
        }
    }
}
