//! The functions Step Functions adds to JSONata, and the built-ins it changes.
//!
//! `$partition`, `$range` and `$hash` follow their intrinsic twins (`States.ArrayPartition`,
//! `States.ArrayRange`, `States.Hash`); `$uuid` and unseeded `$random` draw from the
//! execution's seeded generator; `$now` and `$millis` give the time the caller passes;
//! `$eval` is gone, as in AWS.

use super::value::{from_json, to_json};
use crate::error_name::Failure;
use crate::intrinsic;
use crate::path::Path;
use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::JValue;
use serde_json::Value;
use std::cell::Cell;
use std::rc::Rc;

/// The functions [`register`] adds or replaces. Functions are reached only by name, so an
/// expression that names none of these needs none of them.
pub(super) const NAMES: [&str; 9] = [
    "partition",
    "range",
    "hash",
    "uuid",
    "parse",
    "random",
    "now",
    "millis",
    "eval",
];

/// Registers the Step Functions functions on `evaluator`.
pub(super) fn register(
    evaluator: &mut Evaluator,
    now_millis: i64,
    seed: Option<u64>,
) -> Result<(), EvaluatorError> {
    let random = Rc::new(SplitMix64(Cell::new(seed.unwrap_or(0))));
    for (name, intrinsic) in [
        ("partition", "States.ArrayPartition"),
        ("range", "States.ArrayRange"),
        ("hash", "States.Hash"),
    ] {
        let random = Rc::clone(&random);
        evaluator.register_fn(name, move |args: &[JValue]| {
            call_intrinsic(name, intrinsic, args, &random)
        })?;
    }
    let uuid_random = Rc::clone(&random);
    evaluator.register_fn("uuid", move |args: &[JValue]| {
        call_intrinsic("uuid", "States.UUID", args, &uuid_random)
    })?;
    evaluator.register_fn("parse", parse)?;
    evaluator.register_fn_override("random", move |args: &[JValue]| {
        random_number(args, &random)
    })?;
    let now = JValue::string(super::now_text(now_millis));
    evaluator.register_fn_override("now", move |_: &[JValue]| Ok(now.clone()))?;
    evaluator.register_fn_override("millis", move |_: &[JValue]| {
        Ok(JValue::Number(now_millis as f64))
    })?;
    evaluator.register_fn_override("eval", |_: &[JValue]| Err(not_a_function()))?;
    Ok(())
}

/// What JSONata says when a name is not a function: `$eval` and unknown names alike.
fn not_a_function() -> EvaluatorError {
    EvaluatorError::TypeError("T1006: Attempted to invoke a non-function".to_string())
}

fn call_intrinsic(
    name: &str,
    intrinsic: &str,
    args: &[JValue],
    random: &Rc<SplitMix64>,
) -> Result<JValue, EvaluatorError> {
    let values: Vec<Value> = args
        .iter()
        .map(|arg| to_json(arg).unwrap_or(Value::Null))
        .collect();
    let mut env = IntrinsicEnv { random };
    match intrinsic::call_by_name(intrinsic, &values, &mut env) {
        // AWS's `$range` gives a JSONata sequence, which jsonata-js unwraps when it holds one
        // item: `$range(1, 9, 9)` is `1` in AWS's output, not `[1]`.
        Some(Ok(Value::Array(items))) if name == "range" => {
            Ok(JValue::sequence(items.iter().map(from_json).collect()))
        }
        Some(Ok(value)) => Ok(from_json(&value)),
        Some(Err(failure)) => Err(EvaluatorError::EvaluationError(
            failure.cause.replace(intrinsic, &format!("${name}")),
        )),
        None => Err(EvaluatorError::EvaluationError(format!(
            "T0410: Argument count mismatch in function ${name}"
        ))),
    }
}

/// `$parse(text)`: JSON text to a value (Step Functions' stand-in for `$eval`).
fn parse(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    match args {
        [JValue::String(text)] => serde_json::from_str::<Value>(text)
            .map(|value| from_json(&value))
            .map_err(|error| {
                EvaluatorError::EvaluationError(format!(
                    "D3140: The argument of $parse is not valid JSON: {error}"
                ))
            }),
        [JValue::Undefined] | [] => Ok(JValue::Undefined),
        _ => Err(EvaluatorError::TypeError(
            "T0410: Argument 1 of function \"parse\" does not match function signature".to_string(),
        )),
    }
}

/// `$random([seed])`: in [0, 1); a seed gives `new java.util.Random(seed).nextDouble()`.
fn random_number(args: &[JValue], random: &Rc<SplitMix64>) -> Result<JValue, EvaluatorError> {
    match args {
        [] | [JValue::Undefined] => {
            let bits = random.next_u64() >> 11;
            Ok(JValue::Number(bits as f64 / (1u64 << 53) as f64))
        }
        [JValue::Number(seed)] => Ok(JValue::Number(intrinsic::seeded_double(*seed as i64))),
        _ => Err(EvaluatorError::TypeError(
            "T0410: Argument 1 of function \"random\" does not match function signature"
                .to_string(),
        )),
    }
}

/// A generator seeded from the execution's, for one evaluation.
struct SplitMix64(Cell<u64>);

impl SplitMix64 {
    fn next_u64(&self) -> u64 {
        let state = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0.set(state);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

struct IntrinsicEnv<'a> {
    random: &'a SplitMix64,
}

impl intrinsic::Env for IntrinsicEnv<'_> {
    fn resolve(&mut self, path: &Path) -> Result<Value, Failure> {
        // The intrinsic twins are called with values only, never paths.
        Err(Failure::new(
            crate::error_name::QUERY_EVALUATION_ERROR,
            format!("unexpected path {}", path.as_str()),
        ))
    }

    fn random_u64(&mut self) -> u64 {
        self.random.next_u64()
    }
}
