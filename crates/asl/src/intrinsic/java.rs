//! The JVM behaviours AWS's intrinsic functions show, reproduced exactly.
//!
//! - numbers print as Java's `Double.toString` (`1.0`, `1.0E20`), integers plainly;
//! - `States.Format` prints values as Java's `toString` (`{a=1, b=[x, y]}`);
//! - `States.JsonToString` serializes as Jackson does (compact, `\u001F` escapes);
//! - rounding is `Math.round` (half up, toward positive infinity);
//! - a seeded `States.MathRandom` draws from `java.util.Random`.

use serde_json::{Number, Value};
use std::fmt::Write;

/// Java's `Math.round(double)`: the nearest integer, ties toward positive infinity,
/// saturating at the `long` range (recorded: 0.5 → 1, -0.5 → 0, -1.5 → -1, -2.5 → -2).
pub(super) fn round_half_up(x: f64) -> i64 {
    if x.is_nan() {
        return 0;
    }
    let floor = x.floor();
    // `x - floor` is exact, so 0.49999999999999994 stays below one half, as in Java 7+.
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    rounded as i64
}

/// Java's `Double.toString`: plain decimals for magnitudes in [1e-3, 1e7), computerized
/// scientific notation otherwise, always with a fractional digit, shortest round-trip digits.
pub(super) fn double_to_string(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    if (1e-3..1e7).contains(&x.abs()) {
        let text = format!("{x}");
        return if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        };
    }
    let text = format!("{x:e}");
    let (mantissa, exponent) = text
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let dot = if mantissa.contains('.') { "" } else { ".0" };
    format!("{mantissa}{dot}E{exponent}")
}

/// A JSON number as Java prints it: integers plainly, floats as `Double.toString`.
pub(super) fn number_to_string(number: &Number) -> String {
    match number.as_f64() {
        Some(float) if number.is_f64() => double_to_string(float),
        _ => number.to_string(),
    }
}

/// Appends `value` as Java's `toString` prints the objects Jackson maps it to:
/// strings bare, lists as `[a, b]`, maps as `{k=v, k2=v2}`.
pub(super) fn write_display(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number_to_string(number)),
        Value::String(text) => out.push_str(text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                out.push_str(if index == 0 { "" } else { ", " });
                write_display(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                out.push_str(if index == 0 { "" } else { ", " });
                out.push_str(key);
                out.push('=');
                write_display(item, out);
            }
            out.push('}');
        }
    }
}

/// Appends `value` as compact JSON, as Jackson writes it.
pub(super) fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number_to_string(number)),
        Value::String(text) => write_json_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                out.push_str(if index == 0 { "" } else { "," });
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                out.push_str(if index == 0 { "" } else { "," });
                write_json_string(key, out);
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

/// Jackson's string escaping: `"` and `\`, short escapes for `\b \t \n \f \r`, and
/// `\u00XX` with upper-case hex for the other control characters.
fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                write!(out, "\\u{:04X}", u32::from(c)).expect("writing to a String cannot fail");
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `java.util.Random`: a 48-bit linear congruential generator, bit for bit.
pub(super) struct JavaRandom {
    seed: u64,
}

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

impl JavaRandom {
    /// `new Random(seed)`.
    pub(super) fn new(seed: i64) -> JavaRandom {
        JavaRandom {
            seed: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        (self.seed >> (48 - bits)) as u32 as i32
    }

    /// `nextInt()`.
    pub(super) fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextInt(bound)`, for `bound > 0`.
    pub(super) fn next_int_below(&mut self, bound: i32) -> i32 {
        assert!(bound > 0, "nextInt(bound) needs a positive bound");
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            // Java relies on int overflow here to reject the biased top of the range.
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// The first value of `ints(origin, bound)` (Java 8's `internalNextInt`): `origin +
    /// nextInt(bound - origin)` when the span fits an `int`, else `nextInt()` until in range.
    /// `nextDouble()`: 53 random bits in [0, 1).
    pub(super) fn next_double(&mut self) -> f64 {
        let high = i64::from(self.next(26)) << 27;
        let low = i64::from(self.next(27));
        (high + low) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub(super) fn next_int_between(&mut self, origin: i32, bound: i32) -> i32 {
        assert!(origin < bound, "the origin must be below the bound");
        let span = bound.wrapping_sub(origin);
        if span > 0 {
            return origin + self.next_int_below(span);
        }
        loop {
            let r = self.next_int();
            if (origin..bound).contains(&r) {
                return r;
            }
        }
    }
}
