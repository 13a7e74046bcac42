//! The 18 functions themselves: pure functions from argument values to a result.
//!
//! Argument counts are checked by the parser, so each function may index its arguments;
//! argument types and values are checked here, and a bad one is a `States.IntrinsicFailure`.

use super::java::{self, JavaRandom};
use super::{Env, Function};
use crate::error_name::{Failure, INTRINSIC_FAILURE};
use crate::limits::{ARRAY_RANGE_ITEMS_MAX, INTRINSIC_STRING_CHARS_MAX};
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::Digest as _;
use std::collections::HashSet;
use std::fmt::{Display, Write};

/// Evaluates `function` on already evaluated arguments. `template` holds the placeholder
/// offsets of a literal first argument, which only `States.Format` reads.
pub(super) fn call(
    function: Function,
    values: &[Value],
    template: Option<&[usize]>,
    env: &mut dyn Env,
) -> Result<Value, Failure> {
    let args = Args { function, values };
    match function {
        Function::Format => format(args, template),
        Function::StringToJson => string_to_json(args),
        Function::JsonToString => Ok(Value::String(to_json_text(&values[0]))),
        Function::Array => Ok(Value::Array(values.to_vec())),
        Function::ArrayPartition => array_partition(args),
        Function::ArrayContains => Ok(Value::Bool(args.array(0)?.contains(&values[1]))),
        Function::ArrayRange => array_range(args),
        Function::ArrayGetItem => array_get_item(args),
        Function::ArrayLength => Ok(Value::from(args.array(0)?.len())),
        Function::ArrayUnique => array_unique(args),
        Function::Base64Encode => base64_encode(args),
        Function::Base64Decode => base64_decode(args),
        Function::Hash => hash(args),
        Function::JsonMerge => json_merge(args),
        Function::MathRandom => math_random(args, env),
        Function::MathAdd => math_add(args),
        Function::StringSplit => string_split(args),
        Function::Uuid => Ok(uuid(env.random_u64(), env.random_u64())),
    }
}

/// The arguments of one call, with typed accessors that fail in AWS's way.
#[derive(Clone, Copy)]
struct Args<'a> {
    function: Function,
    values: &'a [Value],
}

impl<'a> Args<'a> {
    fn invalid(self, detail: impl Display) -> Failure {
        Failure::new(
            INTRINSIC_FAILURE,
            format!("Invalid arguments in {}: {detail}", self.function.name()),
        )
    }

    fn wrong_type(self, index: usize, expected: &str) -> Failure {
        self.invalid(format_args!(
            "argument {} must be {expected}, not {}",
            index + 1,
            type_name(&self.values[index])
        ))
    }

    fn string(self, index: usize) -> Result<&'a str, Failure> {
        self.values[index]
            .as_str()
            .ok_or_else(|| self.wrong_type(index, "a string"))
    }

    fn array(self, index: usize) -> Result<&'a Vec<Value>, Failure> {
        self.values[index]
            .as_array()
            .ok_or_else(|| self.wrong_type(index, "an array"))
    }

    fn object(self, index: usize) -> Result<&'a Map<String, Value>, Failure> {
        self.values[index]
            .as_object()
            .ok_or_else(|| self.wrong_type(index, "an object"))
    }

    fn boolean(self, index: usize) -> Result<bool, Failure> {
        self.values[index]
            .as_bool()
            .ok_or_else(|| self.wrong_type(index, "a boolean"))
    }

    /// A number rounded to a Java `long` as `Math.round` does.
    fn long(self, index: usize) -> Result<i64, Failure> {
        let Value::Number(number) = &self.values[index] else {
            return Err(self.wrong_type(index, "a number"));
        };
        Ok(number
            .as_i64()
            .unwrap_or_else(|| java::round_half_up(number.as_f64().unwrap_or(f64::NAN))))
    }

    /// A number rounded as `Math.round` does, which must then fit a Java `int`.
    fn int(self, index: usize) -> Result<i32, Failure> {
        let long = self.long(index)?;
        i32::try_from(long).map_err(|_| {
            self.invalid(format_args!(
                "argument {} must be between {} and {}",
                index + 1,
                i32::MIN,
                i32::MAX
            ))
        })
    }

    /// A string argument of at most `INTRINSIC_STRING_CHARS_MAX` Java characters.
    fn bounded_string(self, index: usize) -> Result<&'a str, Failure> {
        let text = self.string(index)?;
        check_length(self, index, text)?;
        Ok(text)
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Java's `String.length()` counts UTF-16 code units, so this does too.
fn check_length(args: Args, index: usize, text: &str) -> Result<(), Failure> {
    if text.len() > INTRINSIC_STRING_CHARS_MAX
        && text
            .encode_utf16()
            .nth(INTRINSIC_STRING_CHARS_MAX)
            .is_some()
    {
        return Err(args.invalid(format_args!(
            "argument {} must be at most {INTRINSIC_STRING_CHARS_MAX} characters long",
            index + 1
        )));
    }
    Ok(())
}

fn to_json_text(value: &Value) -> String {
    let mut text = String::new();
    java::write_json(value, &mut text);
    text
}

/// `States.Format(template, values…)`: each `{}` takes the next value, printed as Java does.
fn format(args: Args, template: Option<&[usize]>) -> Result<Value, Failure> {
    let text = args.string(0)?;
    let found: Vec<usize>;
    let placeholders = match template {
        Some(offsets) => offsets,
        None => {
            found = text.match_indices("{}").map(|(offset, _)| offset).collect();
            &found
        }
    };
    let values = &args.values[1..];
    if placeholders.len() != values.len() {
        let (n_args, n_placeholders) = (values.len(), placeholders.len());
        return Err(args.invalid(format_args!("the number of arguments ({n_args}) does not match the number of placeholders ({n_placeholders})")));
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (&offset, value) in placeholders.iter().zip(values) {
        out.push_str(&text[copied..offset]);
        java::write_display(value, &mut out);
        copied = offset + "{}".len();
    }
    out.push_str(&text[copied..]);
    Ok(Value::String(out))
}

/// `States.StringToJson(text)`: an empty string parses to `null` (recorded).
fn string_to_json(args: Args) -> Result<Value, Failure> {
    let text = args.string(0)?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|_| args.invalid("argument 1 is not valid JSON"))
}

fn array_partition(args: Args) -> Result<Value, Failure> {
    let items = args.array(0)?;
    let size = args.int(1)?;
    let size = usize::try_from(size)
        .ok()
        .filter(|&size| size > 0)
        .ok_or_else(|| args.invalid("the chunk size must be greater than 0"))?;
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|chunk| Value::Array(chunk.to_vec()))
            .collect(),
    ))
}

/// `States.ArrayRange(first, last, step)`: `last` is included when a step lands on it.
/// The item count is computed, and checked, before anything is allocated.
fn array_range(args: Args) -> Result<Value, Failure> {
    let (first, last, step) = (
        i64::from(args.int(0)?),
        i64::from(args.int(1)?),
        i64::from(args.int(2)?),
    );
    if step == 0 {
        return Err(args.invalid("the step must not be 0"));
    }
    let span = last - first;
    let count = if span != 0 && span.signum() != step.signum() {
        0
    } else {
        span / step + 1
    };
    if count > ARRAY_RANGE_ITEMS_MAX as i64 {
        return Err(args.invalid(format_args!(
            "the range has {count} items, more than the {ARRAY_RANGE_ITEMS_MAX} allowed"
        )));
    }
    Ok(Value::Array(
        (0..count).map(|i| Value::from(first + i * step)).collect(),
    ))
}

fn array_get_item(args: Args) -> Result<Value, Failure> {
    let items = args.array(0)?;
    let index = match &args.values[1] {
        Value::Number(number) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        _ => return Err(args.wrong_type(1, "a number")),
    };
    let index = index.ok_or_else(|| args.invalid("the index must be a non-negative integer"))?;
    let item = usize::try_from(index)
        .ok()
        .and_then(|index| items.get(index));
    item.cloned().ok_or_else(|| {
        args.invalid(format_args!(
            "the index {index} is out of bounds for an array of {} items",
            items.len()
        ))
    })
}

/// `States.ArrayUnique(array)`: keeps each value's first occurrence. Values compare as
/// Jackson's nodes do: objects ignore key order, and `1` differs from `1.0`.
fn array_unique(args: Args) -> Result<Value, Failure> {
    let items = args.array(0)?;
    let mut seen = HashSet::with_capacity(items.len());
    Ok(Value::Array(
        items
            .iter()
            .filter(|item| seen.insert(equality_key(item)))
            .cloned()
            .collect(),
    ))
}

/// A text that two values share exactly when they are equal.
fn equality_key(value: &Value) -> String {
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(equality_key).collect::<Vec<_>>().join(",")
        ),
        Value::Object(map) => {
            let mut entries: Vec<String> = map
                .iter()
                .map(|(key, item)| format!("{}:{}", Value::from(key.as_str()), equality_key(item)))
                .collect();
            entries.sort_unstable();
            format!("{{{}}}", entries.join(","))
        }
        scalar => scalar.to_string(),
    }
}

fn base64_encode(args: Args) -> Result<Value, Failure> {
    let text = args.bounded_string(0)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(text),
    ))
}

/// `States.Base64Decode(text)`: accepts missing padding, as Java's decoder does, and
/// replaces bytes that are not UTF-8 with U+FFFD, as `new String(bytes, UTF_8)` does.
fn base64_decode(args: Args) -> Result<Value, Failure> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    let engine = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let text = args.bounded_string(0)?;
    let bytes = engine
        .decode(text)
        .map_err(|_| args.invalid("argument 1 is not valid Base64"))?;
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// `States.Hash(data, algorithm)`: lower-case hex. Data that is not a string is hashed as
/// its JSON text.
fn hash(args: Args) -> Result<Value, Failure> {
    let data = match &args.values[0] {
        Value::String(text) => text.clone(),
        other => to_json_text(other),
    };
    check_length(args, 0, &data)?;
    let digest = match args.string(1)? {
        "MD5" => md5::Md5::digest(&data).to_vec(),
        "SHA-1" => sha1::Sha1::digest(&data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(&data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(&data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(&data).to_vec(),
        other => {
            return Err(args.invalid(format_args!(
                "the algorithm '{other}' is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            )))
        }
    };
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        write!(hex, "{byte:02x}").expect("writing to a String cannot fail");
    }
    Ok(Value::String(hex))
}

/// `States.JsonMerge(left, right, deep)`: a shallow merge where `right` wins. AWS supports
/// only `deep = false`.
fn json_merge(args: Args) -> Result<Value, Failure> {
    let (left, right) = (args.object(0)?, args.object(1)?);
    if args.boolean(2)? {
        return Err(args.invalid("deep merging is not supported, so argument 3 must be false"));
    }
    let mut merged = left.clone();
    merged.extend(
        right
            .iter()
            .map(|(key, value)| (key.clone(), value.clone())),
    );
    Ok(Value::Object(merged))
}

/// `States.MathRandom(start, end[, seed])`: start inclusive, end exclusive. The value is
/// the first of `new java.util.Random(seed).ints(start, end)`; without a seed argument the
/// seed comes from the execution's generator, so replaying the execution repeats it.
fn math_random(args: Args, env: &mut dyn Env) -> Result<Value, Failure> {
    let (start, end) = (args.int(0)?, args.int(1)?);
    if start >= end {
        return Err(args.invalid(format_args!(
            "the start {start} must be less than the end {end}"
        )));
    }
    let seed = match args.values.get(2) {
        Some(_) => args.long(2)?,
        None => env.random_u64() as i64,
    };
    Ok(Value::from(
        JavaRandom::new(seed).next_int_between(start, end),
    ))
}

/// `States.MathAdd(a, b)`: each argument rounded first (recorded: 1.5 + 1.51 = 4).
fn math_add(args: Args) -> Result<Value, Failure> {
    let sum = i64::from(args.int(0)?) + i64::from(args.int(1)?);
    i32::try_from(sum).map(Value::from).map_err(|_| {
        args.invalid(format_args!(
            "the sum {sum} is outside the range {} to {}",
            i32::MIN,
            i32::MAX
        ))
    })
}

/// `States.StringSplit(text, delimiters)`: every character of `delimiters` separates, and
/// empty tokens are dropped, as Java's `StringTokenizer` does (recorded: ",,,," → []).
fn string_split(args: Args) -> Result<Value, Failure> {
    let (text, delimiters) = (args.string(0)?, args.string(1)?);
    let tokens = text
        .split(|c| delimiters.contains(c))
        .filter(|token| !token.is_empty());
    Ok(Value::Array(tokens.map(Value::from).collect()))
}

/// `States.UUID()`: a version 4 UUID from 128 random bits.
fn uuid(high: u64, low: u64) -> Value {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        write!(text, "{byte:02x}").expect("writing to a String cannot fail");
    }
    Value::String(text)
}
