//! Choice rules: parsing with AWS-worded diagnostics, and evaluating JSONPath-mode rules.
//!
//! A top-level rule is a [`ChoiceRule`]. In JSONPath mode its test is an [`Expr`]: a
//! comparison (`Variable` plus exactly one operator) or `And`/`Or`/`Not` over nested rules.
//! In JSONata mode its test is a `Condition`, which the caller evaluates.
//!
//! Evaluation follows AWS, including where AWS differs from a naive reading of the spec:
//!
//! - A value of the wrong type for the operator makes the comparison false, not an error.
//! - A `Variable` or `*Path` operand that selects nothing fails the state with
//!   `States.Runtime`, except under `IsPresent`. The cause is
//!   `Invalid path '<path>': The choice state's condition path references an invalid value.`;
//!   the engine prefixes it with `An error occurred while executing the state ...`.
//! - `And` and `Or` short-circuit, so `IsPresent` can guard a later comparison.
//! - Strings compare as Java's `String.compareTo` does (the AWS documentation points there):
//!   by UTF-16 code unit, which differs from code-point order only when a character above
//!   U+FFFF meets one in U+E000..=U+FFFF.
//! - Numbers compare as IEEE-754 binary64 values, so `1`, `1.0` and `1e0` are equal, and
//!   integers beyond 2^53 lose precision, as the AWS documentation warns.
//! - Timestamps compare as instants with nanosecond precision, whatever their offsets.
//! - `StringMatches`: `*` matches any run of characters; `\` makes the next character literal
//!   (`\*`, `\\`); a pattern ending in a lone `\` is rejected when the definition is parsed.
//!
//! ```
//! use steppe_asl::choice::{parse_rule, Env, Test};
//! use steppe_asl::{error_name::Failure, path::Path};
//! use serde_json::{json, Value};
//!
//! struct Input(Value);
//! impl Env for Input {
//!     fn resolve(&mut self, path: &Path) -> Result<Option<Value>, Failure> {
//!         path.select_value(&self.0).map_err(|limit| limit.failure(path))
//!     }
//! }
//!
//! let rule = json!({"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"});
//! let mut diagnostics = steppe_asl::Diagnostics::default();
//! let rule = parse_rule(&rule, "/States/C/Choices/0", false, &mut diagnostics).unwrap();
//! let Test::Expr(expr) = &rule.test else { unreachable!() };
//! assert_eq!(expr.evaluate(&mut Input(json!({"n": 11}))), Ok(true));
//! assert_eq!(rule.next, "Big");
//! ```

use crate::diagnostic::Diagnostics;
use crate::error_name::{self, Failure};
use crate::path::Path;
use crate::timestamp::Timestamp;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

/// One top-level Choice rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    /// The state to go to when the rule matches.
    pub next: String,
    /// The rule's `Comment`.
    pub comment: Option<String>,
    /// The rule's `Assign`, raw; the caller compiles it.
    pub assign: Option<Value>,
    /// The rule's JSONata `Output`, raw; the caller compiles it.
    pub output: Option<Value>,
    /// What the rule tests.
    pub test: Test,
}

/// What a top-level rule tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// JSONPath mode: a boolean expression over comparisons.
    Expr(Expr),
    /// JSONata mode: `Condition`, a boolean or a `{% ... %}` string; the caller evaluates it.
    Condition(Value),
}

/// A JSONPath-mode boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `And`: every nested rule matches (evaluated in order, stopping at the first false).
    And(Vec<Expr>),
    /// `Or`: some nested rule matches (evaluated in order, stopping at the first true).
    Or(Vec<Expr>),
    /// `Not`: the nested rule does not match.
    Not(Box<Expr>),
    /// `Variable` and one comparison operator.
    Compare(Comparison),
}

/// `Variable` compared with an operand.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The value under test: a path on the input, the Context object or a variable.
    pub variable: Path,
    /// The comparison.
    pub operator: Operator,
    /// What the value is compared with.
    pub operand: Operand,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// The operator's literal value; for the `Is*` tests, the expected boolean.
    Literal(Value),
    /// A `*Path` operator's path, resolved at evaluation time.
    Path(Path),
    /// No operand. [`parse_rule`] never produces it; an `Is*` test treats it as `true`,
    /// and any other comparison as no match.
    None,
}

/// A comparison operator. A `*Path` keyword is the same operator with an [`Operand::Path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `StringEquals` / `StringEqualsPath`.
    StringEquals,
    /// `StringLessThan` / `StringLessThanPath`.
    StringLessThan,
    /// `StringGreaterThan` / `StringGreaterThanPath`.
    StringGreaterThan,
    /// `StringLessThanEquals` / `StringLessThanEqualsPath`.
    StringLessThanEquals,
    /// `StringGreaterThanEquals` / `StringGreaterThanEqualsPath`.
    StringGreaterThanEquals,
    /// `StringMatches`: a pattern with `*` wildcards.
    StringMatches,
    /// `NumericEquals` / `NumericEqualsPath`.
    NumericEquals,
    /// `NumericLessThan` / `NumericLessThanPath`.
    NumericLessThan,
    /// `NumericGreaterThan` / `NumericGreaterThanPath`.
    NumericGreaterThan,
    /// `NumericLessThanEquals` / `NumericLessThanEqualsPath`.
    NumericLessThanEquals,
    /// `NumericGreaterThanEquals` / `NumericGreaterThanEqualsPath`.
    NumericGreaterThanEquals,
    /// `BooleanEquals` / `BooleanEqualsPath`.
    BooleanEquals,
    /// `TimestampEquals` / `TimestampEqualsPath`.
    TimestampEquals,
    /// `TimestampLessThan` / `TimestampLessThanPath`.
    TimestampLessThan,
    /// `TimestampGreaterThan` / `TimestampGreaterThanPath`.
    TimestampGreaterThan,
    /// `TimestampLessThanEquals` / `TimestampLessThanEqualsPath`.
    TimestampLessThanEquals,
    /// `TimestampGreaterThanEquals` / `TimestampGreaterThanEqualsPath`.
    TimestampGreaterThanEquals,
    /// `IsNull`: the value is JSON `null`.
    IsNull,
    /// `IsPresent`: the path selects something.
    IsPresent,
    /// `IsNumeric`: the value is a number.
    IsNumeric,
    /// `IsString`: the value is a string.
    IsString,
    /// `IsBoolean`: the value is a boolean.
    IsBoolean,
    /// `IsTimestamp`: the value is a string that is a valid timestamp.
    IsTimestamp,
}

/// Resolves paths while rules are evaluated.
pub trait Env {
    /// The value `path` selects, `None` when it selects nothing; `Err` when selecting would
    /// pass a limit (see [`Path::select`]).
    fn resolve(&mut self, path: &Path) -> Result<Option<Value>, Failure>;
}

impl Operator {
    /// Every operator, in the order the ASL specification lists them.
    pub const ALL: [Operator; 23] = [
        Operator::StringEquals,
        Operator::StringLessThan,
        Operator::StringGreaterThan,
        Operator::StringLessThanEquals,
        Operator::StringGreaterThanEquals,
        Operator::StringMatches,
        Operator::NumericEquals,
        Operator::NumericLessThan,
        Operator::NumericGreaterThan,
        Operator::NumericLessThanEquals,
        Operator::NumericGreaterThanEquals,
        Operator::BooleanEquals,
        Operator::TimestampEquals,
        Operator::TimestampLessThan,
        Operator::TimestampGreaterThan,
        Operator::TimestampLessThanEquals,
        Operator::TimestampGreaterThanEquals,
        Operator::IsNull,
        Operator::IsPresent,
        Operator::IsNumeric,
        Operator::IsString,
        Operator::IsBoolean,
        Operator::IsTimestamp,
    ];

    /// The keyword as written in a definition (without a `Path` suffix).
    pub fn name(self) -> &'static str {
        match self {
            Operator::StringEquals => "StringEquals",
            Operator::StringLessThan => "StringLessThan",
            Operator::StringGreaterThan => "StringGreaterThan",
            Operator::StringLessThanEquals => "StringLessThanEquals",
            Operator::StringGreaterThanEquals => "StringGreaterThanEquals",
            Operator::StringMatches => "StringMatches",
            Operator::NumericEquals => "NumericEquals",
            Operator::NumericLessThan => "NumericLessThan",
            Operator::NumericGreaterThan => "NumericGreaterThan",
            Operator::NumericLessThanEquals => "NumericLessThanEquals",
            Operator::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            Operator::BooleanEquals => "BooleanEquals",
            Operator::TimestampEquals => "TimestampEquals",
            Operator::TimestampLessThan => "TimestampLessThan",
            Operator::TimestampGreaterThan => "TimestampGreaterThan",
            Operator::TimestampLessThanEquals => "TimestampLessThanEquals",
            Operator::TimestampGreaterThanEquals => "TimestampGreaterThanEquals",
            Operator::IsNull => "IsNull",
            Operator::IsPresent => "IsPresent",
            Operator::IsNumeric => "IsNumeric",
            Operator::IsString => "IsString",
            Operator::IsBoolean => "IsBoolean",
            Operator::IsTimestamp => "IsTimestamp",
        }
    }

    /// The operator a keyword names, and whether it is the `*Path` twin.
    pub fn from_keyword(keyword: &str) -> Option<(Operator, bool)> {
        let find = |name: &str| Operator::ALL.into_iter().find(|op| op.name() == name);
        if let Some(operator) = find(keyword) {
            return Some((operator, false));
        }
        let operator = find(keyword.strip_suffix("Path")?)?;
        operator.has_path_twin().then_some((operator, true))
    }

    /// Whether the operator has a `*Path` twin (all but `StringMatches` and the `Is*` tests).
    pub fn has_path_twin(self) -> bool {
        matches!(
            self.kind(),
            Kind::String | Kind::Numeric | Kind::Boolean | Kind::Timestamp
        )
    }

    fn kind(self) -> Kind {
        use Operator::*;
        match self {
            StringEquals
            | StringLessThan
            | StringGreaterThan
            | StringLessThanEquals
            | StringGreaterThanEquals => Kind::String,
            StringMatches => Kind::Matches,
            NumericEquals
            | NumericLessThan
            | NumericGreaterThan
            | NumericLessThanEquals
            | NumericGreaterThanEquals => Kind::Numeric,
            BooleanEquals => Kind::Boolean,
            TimestampEquals
            | TimestampLessThan
            | TimestampGreaterThan
            | TimestampLessThanEquals
            | TimestampGreaterThanEquals => Kind::Timestamp,
            IsNull | IsPresent | IsNumeric | IsString | IsBoolean | IsTimestamp => Kind::TypeTest,
        }
    }

    /// Which orderings satisfy an ordering operator; `Equals` for the others.
    fn relation(self) -> Relation {
        use Operator::*;
        match self {
            StringLessThan | NumericLessThan | TimestampLessThan => Relation::LessThan,
            StringGreaterThan | NumericGreaterThan | TimestampGreaterThan => Relation::GreaterThan,
            StringLessThanEquals | NumericLessThanEquals | TimestampLessThanEquals => {
                Relation::LessThanEquals
            }
            StringGreaterThanEquals | NumericGreaterThanEquals | TimestampGreaterThanEquals => {
                Relation::GreaterThanEquals
            }
            _ => Relation::Equals,
        }
    }
}

impl Expr {
    /// Evaluates the expression. `Err` is a runtime failure of the Choice state.
    pub fn evaluate(&self, env: &mut dyn Env) -> Result<bool, Failure> {
        match self {
            Expr::And(rules) => {
                for rule in rules {
                    if !rule.evaluate(env)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Expr::Or(rules) => {
                for rule in rules {
                    if rule.evaluate(env)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Expr::Not(rule) => Ok(!rule.evaluate(env)?),
            Expr::Compare(comparison) => comparison.evaluate(env),
        }
    }
}

impl Comparison {
    /// Evaluates the comparison. `Err` when a path other than `IsPresent`'s selects nothing.
    pub fn evaluate(&self, env: &mut dyn Env) -> Result<bool, Failure> {
        let value = env.resolve(&self.variable)?;
        if self.operator == Operator::IsPresent {
            return Ok(value.is_some() == self.expected_flag());
        }
        let value = value.ok_or_else(|| invalid_path(&self.variable))?;
        if self.operator.kind() == Kind::TypeTest {
            return Ok(type_test(self.operator, &value) == self.expected_flag());
        }
        let operand = match &self.operand {
            Operand::Literal(literal) => Cow::Borrowed(literal),
            Operand::Path(path) => {
                Cow::Owned(env.resolve(path)?.ok_or_else(|| invalid_path(path))?)
            }
            Operand::None => return Ok(false),
        };
        Ok(compare(self.operator, &value, &operand))
    }

    /// The boolean an `Is*` test expects.
    fn expected_flag(&self) -> bool {
        !matches!(self.operand, Operand::Literal(Value::Bool(false)))
    }
}

/// Parses one top-level Choice rule at JSON-pointer `location` (e.g. `/States/C/Choices/0`).
/// `jsonata` says the state's query language is JSONata.
///
/// Records every problem in `diagnostics` and returns `None` if there was any.
pub fn parse_rule(
    value: &Value,
    location: &str,
    jsonata: bool,
    diagnostics: &mut Diagnostics,
) -> Option<ChoiceRule> {
    let errors_before = error_count(diagnostics);
    let map = expect_object(value, location, diagnostics)?;
    check_top_level_fields(map, location, jsonata, diagnostics);
    let next = required_name(map, "Next", location, diagnostics);
    let comment = optional_string(map, "Comment", location, diagnostics);
    let test = if jsonata {
        parse_condition(map, location, diagnostics).map(Test::Condition)
    } else {
        parse_expr(map, location, 0, diagnostics).map(Test::Expr)
    };
    if error_count(diagnostics) > errors_before {
        return None;
    }
    Some(ChoiceRule {
        next: next?,
        comment,
        assign: map.get("Assign").cloned(),
        output: map.get("Output").cloned(),
        test: test?,
    })
}

/// Whether a `StringMatches` pattern matches `text`; `None` if the pattern is malformed.
pub fn string_matches(pattern: &str, text: &str) -> Option<bool> {
    let globs = compile_pattern(pattern)?;
    let chars: Vec<char> = text.chars().collect();
    Some(wildcard_match(&globs, &chars))
}

/// The cause AWS gives when a rule's path selects nothing.
fn invalid_path(path: &Path) -> Failure {
    Failure::new(
        error_name::RUNTIME,
        format!(
            "Invalid path '{}': The choice state's condition path references an invalid value.",
            path.as_str()
        ),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Matches,
    Numeric,
    Boolean,
    Timestamp,
    TypeTest,
}

#[derive(Debug, Clone, Copy)]
enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

impl Relation {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Relation::Equals => ordering.is_eq(),
            Relation::LessThan => ordering.is_lt(),
            Relation::GreaterThan => ordering.is_gt(),
            Relation::LessThanEquals => ordering.is_le(),
            Relation::GreaterThanEquals => ordering.is_ge(),
        }
    }
}

/// Compares a value with an operand; any type mismatch is `false`.
fn compare(operator: Operator, value: &Value, operand: &Value) -> bool {
    let relation = operator.relation();
    let ordering = match (operator.kind(), value, operand) {
        (Kind::String, Value::String(left), Value::String(right)) => {
            Some(java_string_order(left, right))
        }
        (Kind::Matches, Value::String(text), Value::String(pattern)) => {
            return string_matches(pattern, text).unwrap_or(false);
        }
        (Kind::Numeric, Value::Number(left), Value::Number(right)) => left
            .as_f64()
            .zip(right.as_f64())
            .and_then(|(left, right)| left.partial_cmp(&right)),
        (Kind::Boolean, Value::Bool(left), Value::Bool(right)) => Some(left.cmp(right)),
        (Kind::Timestamp, Value::String(left), Value::String(right)) => Timestamp::parse(left)
            .zip(Timestamp::parse(right))
            .map(|(left, right)| left.cmp(&right)),
        _ => None,
    };
    ordering.is_some_and(|ordering| relation.holds(ordering))
}

/// `String.compareTo` in Java: lexicographic by UTF-16 code unit.
fn java_string_order(left: &str, right: &str) -> Ordering {
    left.encode_utf16().cmp(right.encode_utf16())
}

/// What an `Is*` test (other than `IsPresent`) says about a present value.
fn type_test(operator: Operator, value: &Value) -> bool {
    match operator {
        Operator::IsNull => value.is_null(),
        Operator::IsNumeric => value.is_number(),
        Operator::IsString => value.is_string(),
        Operator::IsBoolean => value.is_boolean(),
        Operator::IsTimestamp => value.as_str().and_then(Timestamp::parse).is_some(),
        _ => true,
    }
}

/// One element of a compiled `StringMatches` pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Glob {
    /// `*`: any run of characters, possibly empty.
    Star,
    /// A character that must match itself.
    Char(char),
}

/// Compiles a pattern; `None` when it ends in an unescaped backslash.
fn compile_pattern(pattern: &str) -> Option<Vec<Glob>> {
    let mut globs = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        globs.push(match c {
            '*' => Glob::Star,
            '\\' => Glob::Char(chars.next()?),
            c => Glob::Char(c),
        });
    }
    Some(globs)
}

/// Wildcard matching with backtracking to the last star only: O(pattern × text) at worst.
fn wildcard_match(globs: &[Glob], text: &[char]) -> bool {
    let (mut glob_idx, mut text_idx) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while text_idx < text.len() {
        match globs.get(glob_idx) {
            Some(Glob::Char(c)) if *c == text[text_idx] => {
                glob_idx += 1;
                text_idx += 1;
            }
            Some(Glob::Star) => {
                last_star = Some((glob_idx, text_idx));
                glob_idx += 1;
            }
            _ => {
                let Some((star_idx, star_text_idx)) = last_star else {
                    return false;
                };
                last_star = Some((star_idx, star_text_idx + 1));
                glob_idx = star_idx + 1;
                text_idx = star_text_idx + 1;
            }
        }
    }
    globs[glob_idx..].iter().all(|glob| *glob == Glob::Star)
}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

/// Fields a top-level rule may have in either query language.
const COMMON_TOP_LEVEL_FIELDS: [&str; 3] = ["Next", "Comment", "Assign"];
/// Fields only a JSONata rule may have.
const JSONATA_ONLY_FIELDS: [&str; 2] = ["Condition", "Output"];
const MESSAGE_ONE_OPERATOR: &str = "Each Choice Rule can only have one comparison operator";
const MESSAGE_NO_OPERATOR: &str =
    "Each Choice Rule must have a comparison operator or one of the fields [And, Or, Not]";
const MESSAGE_TIMESTAMP: &str = "String does not match RFC3339 timestamp";
const MESSAGE_PATTERN: &str = "The StringMatches pattern ends with an unescaped backslash";
const MESSAGE_JSONATA: &str = "JSONata string must start with {% and end with %}";
/// How deep `And`/`Or`/`Not` may nest.
const NESTING_MAX: usize = crate::limits::JSON_DEPTH_MAX;

/// What a key of a JSONPath rule is.
#[derive(Debug, Clone, Copy)]
enum Keyword {
    And,
    Or,
    Not,
    Compare(Operator, bool),
}

fn keyword(key: &str) -> Option<Keyword> {
    match key {
        "And" => Some(Keyword::And),
        "Or" => Some(Keyword::Or),
        "Not" => Some(Keyword::Not),
        _ => Operator::from_keyword(key)
            .map(|(operator, is_path)| Keyword::Compare(operator, is_path)),
    }
}

fn is_jsonpath_only(key: &str) -> bool {
    key == "Variable" || keyword(key).is_some()
}

fn check_top_level_fields(
    map: &Map<String, Value>,
    location: &str,
    jsonata: bool,
    diagnostics: &mut Diagnostics,
) {
    for key in map.keys() {
        let key = key.as_str();
        if COMMON_TOP_LEVEL_FIELDS.contains(&key) {
            continue;
        }
        if JSONATA_ONLY_FIELDS.contains(&key) {
            if !jsonata {
                diagnostics.schema(location, query_language_message("JSONPath", key, "JSONata"));
            }
        } else if is_jsonpath_only(key) {
            if jsonata {
                diagnostics.schema(location, query_language_message("JSONata", key, "JSONPath"));
            }
        } else {
            diagnostics.schema(location, not_supported(key));
        }
    }
}

/// A nested rule has no `Next`, `Assign`, `Output` or `Condition`: only a test and a comment.
fn check_nested_fields(map: &Map<String, Value>, location: &str, diagnostics: &mut Diagnostics) {
    for key in map.keys() {
        if key != "Comment" && !is_jsonpath_only(key) {
            diagnostics.schema(location, not_supported(key));
        }
    }
}

fn query_language_message(language: &str, field: &str, supported_by: &str) -> String {
    format!("The QueryLanguage is set to '{language}', but field '{field}' is only supported for the '{supported_by}' QueryLanguage")
}

fn not_supported(field: &str) -> String {
    format!("Field '{field}' is not supported")
}

fn parse_condition(
    map: &Map<String, Value>,
    location: &str,
    diagnostics: &mut Diagnostics,
) -> Option<Value> {
    let Some(condition) = map.get("Condition") else {
        diagnostics.schema(location, "These fields are required: [Condition]");
        return None;
    };
    let location = format!("{location}/Condition");
    match condition {
        Value::Bool(_) => Some(condition.clone()),
        Value::String(text) if is_jsonata_expression(text) => Some(condition.clone()),
        Value::String(_) => {
            diagnostics.schema(location, MESSAGE_JSONATA);
            None
        }
        _ => {
            diagnostics.schema(
                location,
                "Value should be a boolean or a JSONata expression",
            );
            None
        }
    }
}

fn is_jsonata_expression(text: &str) -> bool {
    text.len() >= 4 && text.starts_with("{%") && text.ends_with("%}")
}

/// Parses a JSONPath-mode test: the keys of a rule object other than `Next` and friends.
fn parse_expr(
    map: &Map<String, Value>,
    location: &str,
    depth: usize,
    diagnostics: &mut Diagnostics,
) -> Option<Expr> {
    if depth > NESTING_MAX {
        diagnostics.schema(
            location,
            format!("Choice Rules may nest at most {NESTING_MAX} levels deep"),
        );
        return None;
    }
    let keywords: Vec<(&str, &Value, Keyword)> = map
        .iter()
        .filter_map(|(key, value)| Some((key.as_str(), value, keyword(key)?)))
        .collect();
    match keywords.as_slice() {
        [] => {
            diagnostics.schema(location, MESSAGE_NO_OPERATOR);
            if let Some(variable) = map.get("Variable") {
                parse_reference(variable, &format!("{location}/Variable"), diagnostics);
            }
            None
        }
        [(key, value, Keyword::Compare(operator, is_path))] => {
            parse_comparison(map, location, key, value, *operator, *is_path, diagnostics)
        }
        [(key, value, combinator)] => {
            if map.contains_key("Variable") {
                diagnostics.schema(location, not_supported("Variable"));
            }
            parse_combinator(
                *combinator,
                value,
                &format!("{location}/{key}"),
                depth,
                diagnostics,
            )
        }
        _ => {
            diagnostics.schema(location, MESSAGE_ONE_OPERATOR);
            None
        }
    }
}

fn parse_comparison(
    map: &Map<String, Value>,
    location: &str,
    key: &str,
    value: &Value,
    operator: Operator,
    is_path: bool,
    diagnostics: &mut Diagnostics,
) -> Option<Expr> {
    let variable = match map.get("Variable") {
        Some(variable) => parse_reference(variable, &format!("{location}/Variable"), diagnostics),
        None => {
            diagnostics.schema(location, "These fields are required: [Variable]");
            None
        }
    };
    let operand_location = format!("{location}/{key}");
    let operand = if is_path {
        parse_reference(value, &operand_location, diagnostics).map(Operand::Path)
    } else {
        match check_literal(operator, value) {
            Ok(()) => Some(Operand::Literal(value.clone())),
            Err(message) => {
                diagnostics.schema(operand_location, message);
                None
            }
        }
    };
    Some(Expr::Compare(Comparison {
        variable: variable?,
        operator,
        operand: operand?,
    }))
}

/// Checks an operator's literal operand, returning AWS's message when it is unfit.
fn check_literal(operator: Operator, value: &Value) -> Result<(), &'static str> {
    match operator.kind() {
        Kind::String => value.as_str().map(drop).ok_or("Value should be a string"),
        Kind::Matches => match value.as_str() {
            Some(pattern) => compile_pattern(pattern).map(drop).ok_or(MESSAGE_PATTERN),
            None => Err("Value should be a string"),
        },
        Kind::Numeric => value.as_f64().map(drop).ok_or("Value should be a number"),
        Kind::Boolean | Kind::TypeTest => {
            value.as_bool().map(drop).ok_or("Value should be a boolean")
        }
        Kind::Timestamp => match value.as_str() {
            Some(text) => Timestamp::parse(text).map(drop).ok_or(MESSAGE_TIMESTAMP),
            None => Err("Value should be a string"),
        },
    }
}

fn parse_combinator(
    combinator: Keyword,
    value: &Value,
    location: &str,
    depth: usize,
    diagnostics: &mut Diagnostics,
) -> Option<Expr> {
    if let Keyword::Not = combinator {
        return parse_nested(value, location, depth, diagnostics)
            .map(|rule| Expr::Not(Box::new(rule)));
    }
    let Some(items) = value.as_array() else {
        diagnostics.schema(location, "Value should be an array");
        return None;
    };
    if items.is_empty() {
        diagnostics.schema(location, "Value cannot be empty");
        return None;
    }
    let rules: Vec<Option<Expr>> = items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_nested(item, &format!("{location}/{index}"), depth, diagnostics))
        .collect();
    let rules: Vec<Expr> = rules.into_iter().collect::<Option<_>>()?;
    Some(if let Keyword::And = combinator {
        Expr::And(rules)
    } else {
        Expr::Or(rules)
    })
}

fn parse_nested(
    value: &Value,
    location: &str,
    depth: usize,
    diagnostics: &mut Diagnostics,
) -> Option<Expr> {
    let map = expect_object(value, location, diagnostics)?;
    check_nested_fields(map, location, diagnostics);
    if let Some(comment) = map.get("Comment") {
        if !comment.is_string() {
            diagnostics.schema(format!("{location}/Comment"), "Value should be a string");
        }
    }
    parse_expr(map, location, depth + 1, diagnostics)
}

/// Parses a `Variable` or `*Path` value: a definite path on the input, the Context object or
/// a variable (a "Reference Path" in AWS's words).
fn parse_reference(value: &Value, location: &str, diagnostics: &mut Diagnostics) -> Option<Path> {
    let Some(text) = value.as_str() else {
        diagnostics.schema(location, "Value should be a string");
        return None;
    };
    if !text.starts_with('$') {
        diagnostics.schema(
            location,
            "Value is not a Reference Path: Reference path didn't start with '$'",
        );
        return None;
    }
    match Path::parse(text) {
        Ok(path) if path.is_definite() => Some(path),
        _ => {
            diagnostics.schema(location, "Value is not a Reference Path");
            None
        }
    }
}

fn expect_object<'a>(
    value: &'a Value,
    location: &str,
    diagnostics: &mut Diagnostics,
) -> Option<&'a Map<String, Value>> {
    let map = value.as_object();
    if map.is_none() {
        diagnostics.schema(location, "Value should be an object");
    }
    map
}

/// A required, non-empty string field such as `Next`.
fn required_name(
    map: &Map<String, Value>,
    field: &str,
    location: &str,
    diagnostics: &mut Diagnostics,
) -> Option<String> {
    let Some(value) = map.get(field) else {
        diagnostics.schema(location, format!("These fields are required: [{field}]"));
        return None;
    };
    match value.as_str() {
        Some("") => diagnostics.schema(format!("{location}/{field}"), "Value cannot be empty"),
        Some(text) => return Some(text.to_owned()),
        None => diagnostics.schema(format!("{location}/{field}"), "Value should be a string"),
    }
    None
}

fn optional_string(
    map: &Map<String, Value>,
    field: &str,
    location: &str,
    diagnostics: &mut Diagnostics,
) -> Option<String> {
    let value = map.get(field)?;
    let text = value.as_str().map(str::to_owned);
    if text.is_none() {
        diagnostics.schema(format!("{location}/{field}"), "Value should be a string");
    }
    text
}

fn error_count(diagnostics: &Diagnostics) -> usize {
    diagnostics.error_count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::Root;
    use serde_json::json;
    use std::path::PathBuf;

    const LOCATION: &str = "/States/C/Choices/0";

    /// Resolves `$` paths against an input document.
    struct InputEnv<'a>(&'a Value);

    impl Env for InputEnv<'_> {
        fn resolve(&mut self, path: &Path) -> Result<Option<Value>, Failure> {
            assert_eq!(path.root(), &Root::Input, "{path:?}");
            path.select_value(self.0)
                .map_err(|limit| limit.failure(path))
        }
    }

    /// `{"Variable": "$.v", <keyword>: <operand>}` on the input `{"v": <value>}`.
    fn check(keyword: &str, operand: Value, value: Value, expected: Result<bool, &str>) {
        check_rule(
            json!({"Variable": "$.v", keyword: operand}),
            json!({"v": value}),
            expected,
        );
    }

    /// `{"Variable": "$.v", <keyword>Path: "$.w"}` on the input `{"v": <value>, "w": <other>}`.
    fn check_path(keyword: &str, value: Value, other: Value, expected: Result<bool, &str>) {
        let rule = json!({"Variable": "$.v", format!("{keyword}Path"): "$.w"});
        check_rule(rule, json!({"v": value, "w": other}), expected);
    }

    /// Parses `rule` (given without `Next`) and evaluates it against `input`.
    /// `Err` holds the expected `States.Runtime` cause.
    fn check_rule(rule: Value, input: Value, expected: Result<bool, &str>) {
        let mut rule = rule;
        rule["Next"] = json!("Matched");
        let mut diagnostics = Diagnostics::default();
        let parsed = parse_rule(&rule, LOCATION, false, &mut diagnostics);
        let parsed = parsed.unwrap_or_else(|| panic!("{rule}: {:?}", diagnostics.items));
        let Test::Expr(expr) = parsed.test else {
            panic!("{rule}: not an expression")
        };
        let actual = expr.evaluate(&mut InputEnv(&input)).map_err(|failure| {
            assert_eq!(failure.error, error_name::RUNTIME);
            failure.cause
        });
        assert_eq!(actual, expected.map_err(str::to_owned), "{rule} on {input}");
    }

    /// Parses `rule` and expects exactly these diagnostics: (location after `LOCATION`, message).
    fn check_invalid(rule: Value, jsonata: bool, expected: &[(&str, &str)]) {
        let mut diagnostics = Diagnostics::default();
        let parsed = parse_rule(&rule, LOCATION, jsonata, &mut diagnostics);
        assert!(parsed.is_none(), "{rule} parsed");
        let relative = |location: Option<&str>| {
            location
                .and_then(|l| l.strip_prefix(LOCATION))
                .map(str::to_owned)
        };
        let actual: Vec<_> = diagnostics
            .items
            .iter()
            .map(|d| (relative(d.location.as_deref()), d.message.clone()))
            .collect();
        let expected: Vec<_> = expected
            .iter()
            .map(|(l, m)| (Some(l.to_string()), m.to_string()))
            .collect();
        assert_eq!(actual, expected, "{rule}");
    }

    /// The expected failure when `path` selects nothing.
    fn missing(path: &str) -> Result<bool, &'static str> {
        let cause = format!(
            "Invalid path '{path}': The choice state's condition path references an invalid value."
        );
        Err(Box::leak(cause.into_boxed_str()))
    }

    #[test]
    #[rustfmt::skip]
    fn string_operators() {
        check("StringEquals", json!("a"), json!("a"), Ok(true));
        check("StringEquals", json!("a"), json!("A"), Ok(false));
        check("StringEquals", json!("1"), json!(1), Ok(false));
        check("StringEquals", json!("null"), json!(null), Ok(false));
        check("StringEquals", json!("\u{e9}"), json!("e\u{301}"), Ok(false));
        check("StringLessThan", json!("b"), json!("a"), Ok(true));
        check("StringLessThan", json!("b"), json!("b"), Ok(false));
        check("StringLessThan", json!("a"), json!("B"), Ok(true));
        check("StringLessThan", json!("ab"), json!("a"), Ok(true));
        check("StringGreaterThan", json!("a"), json!("a "), Ok(true));
        check("StringGreaterThan", json!("a"), json!("a"), Ok(false));
        check("StringLessThanEquals", json!("a"), json!("a"), Ok(true));
        check("StringLessThanEquals", json!("a"), json!("b"), Ok(false));
        check("StringGreaterThanEquals", json!("b"), json!("b"), Ok(true));
        check("StringGreaterThanEquals", json!("b"), json!("a"), Ok(false));
        check("StringGreaterThanEquals", json!("b"), json!(["c"]), Ok(false));
        check_path("StringEquals", json!("x"), json!("x"), Ok(true));
        check_path("StringEquals", json!("x"), json!(1), Ok(false));
        check_path("StringLessThan", json!("a"), json!("b"), Ok(true));
        check_path("StringGreaterThan", json!("a"), json!("b"), Ok(false));
        check_path("StringLessThanEquals", json!("b"), json!("b"), Ok(true));
        check_path("StringGreaterThanEquals", json!("c"), json!("b"), Ok(true));
        check_rule(json!({"Variable": "$.v", "StringEqualsPath": "$.w"}), json!({"v": "x"}), missing("$.w"));
        check_rule(json!({"Variable": "$.v", "StringEqualsPath": "$.w[0]"}), json!({"v": "x", "w": ["x"]}), Ok(true));
    }

    #[test]
    #[rustfmt::skip]
    fn strings_compare_by_utf16_code_unit() {
        // U+10000 is the surrogate pair D800 DC00, which sorts before U+FFFF in UTF-16 (Java)
        // although its code point is larger.
        check("StringLessThan", json!("\u{ffff}"), json!("\u{10000}"), Ok(true));
        check("StringGreaterThan", json!("\u{ffff}"), json!("\u{10000}"), Ok(false));
        check("StringLessThan", json!("\u{e000}"), json!("\u{d7ff}"), Ok(true));
    }

    #[test]
    #[rustfmt::skip]
    fn string_matches() {
        check("StringMatches", json!("log-*.txt"), json!("log-1.txt"), Ok(true));
        check("StringMatches", json!("log-*.txt"), json!("log-.txt"), Ok(true));
        check("StringMatches", json!("log-*.txt"), json!("log-1.csv"), Ok(false));
        check("StringMatches", json!("*"), json!(""), Ok(true));
        check("StringMatches", json!("**"), json!("abc"), Ok(true));
        check("StringMatches", json!("a*b*c"), json!("aXbYbc"), Ok(true));
        check("StringMatches", json!("a*b*c"), json!("acb"), Ok(false));
        check("StringMatches", json!("a*"), json!("ba"), Ok(false));
        check("StringMatches", json!("abc"), json!("abcd"), Ok(false));
        check("StringMatches", json!("a?c"), json!("abc"), Ok(false));
        check("StringMatches", json!("a?c"), json!("a?c"), Ok(true));
        check("StringMatches", json!("foo\\*.log"), json!("foo*.log"), Ok(true));
        check("StringMatches", json!("foo\\*.log"), json!("foo1.log"), Ok(false));
        check("StringMatches", json!("a\\\\*"), json!("a\\bc"), Ok(true));
        check("StringMatches", json!("a\\\\*"), json!("abc"), Ok(false));
        check("StringMatches", json!("*\u{1f600}*"), json!("x\u{1f600}y"), Ok(true));
        check("StringMatches", json!("*"), json!(5), Ok(false));
    }

    #[test]
    #[rustfmt::skip]
    fn numeric_operators() {
        check("NumericEquals", json!(1), json!(1.0), Ok(true));
        check("NumericEquals", json!(1), json!(1e0), Ok(true));
        check("NumericEquals", json!(0), json!(-0.0), Ok(true));
        check("NumericEquals", json!(-5), json!(-5), Ok(true));
        check("NumericEquals", json!(1), json!("1"), Ok(false));
        check("NumericEquals", json!(1), json!(true), Ok(false));
        check("NumericEquals", json!(0.3), json!(0.30000000000000004), Ok(false));
        // Beyond 2^53 both sides round to the same binary64 value.
        check("NumericEquals", json!(9007199254740992u64), json!(9007199254740993u64), Ok(true));
        check("NumericLessThan", json!(10), json!(9.99), Ok(true));
        check("NumericLessThan", json!(10), json!(10), Ok(false));
        check("NumericGreaterThan", json!(-1), json!(0), Ok(true));
        check("NumericGreaterThan", json!(1e300), json!(1e308), Ok(true));
        check("NumericLessThanEquals", json!(2), json!(2.0), Ok(true));
        check("NumericGreaterThanEquals", json!(2), json!(1.5), Ok(false));
        check_path("NumericEquals", json!(2), json!(2.0), Ok(true));
        check_path("NumericEquals", json!(2), json!("2"), Ok(false));
        check_path("NumericLessThan", json!(1), json!(2), Ok(true));
        check_path("NumericGreaterThan", json!(1), json!(2), Ok(false));
        check_path("NumericLessThanEquals", json!(2), json!(2), Ok(true));
        check_path("NumericGreaterThanEquals", json!(3), json!(2), Ok(true));
    }

    #[test]
    #[rustfmt::skip]
    fn boolean_operators() {
        check("BooleanEquals", json!(true), json!(true), Ok(true));
        check("BooleanEquals", json!(false), json!(true), Ok(false));
        check("BooleanEquals", json!(true), json!("true"), Ok(false));
        check("BooleanEquals", json!(false), json!(0), Ok(false));
        check("BooleanEquals", json!(false), json!(null), Ok(false));
        check_path("BooleanEquals", json!(false), json!(false), Ok(true));
        check_path("BooleanEquals", json!(false), json!(0), Ok(false));
    }

    #[test]
    #[rustfmt::skip]
    fn timestamp_operators() {
        let t = json!("2012-10-09T19:00:55Z");
        check("TimestampEquals", t.clone(), t.clone(), Ok(true));
        check("TimestampEquals", t.clone(), json!("2012-10-09T20:00:55+01:00"), Ok(true));
        check("TimestampEquals", t.clone(), json!("2012-10-09T19:00:55.000Z"), Ok(true));
        check("TimestampEquals", t.clone(), json!("2012-10-09T19:00:55"), Ok(false));
        check("TimestampEquals", t.clone(), json!("2012-10-09 19:00:55Z"), Ok(false));
        check("TimestampEquals", t.clone(), json!(1349809255), Ok(false));
        check("TimestampGreaterThan", t.clone(), json!("2012-10-09T19:00:55.000000001Z"), Ok(true));
        check("TimestampGreaterThan", t.clone(), t.clone(), Ok(false));
        check("TimestampLessThan", t.clone(), json!("2012-10-09T19:00:56+00:01"), Ok(true));
        check("TimestampLessThanEquals", t.clone(), t.clone(), Ok(true));
        check("TimestampGreaterThanEquals", t.clone(), json!("2012-10-09T19:00:54Z"), Ok(false));
        check_path("TimestampEquals", t.clone(), t.clone(), Ok(true));
        check_path("TimestampEquals", t.clone(), json!("not a time"), Ok(false));
        check_path("TimestampLessThan", t.clone(), json!("2013-01-01T00:00:00Z"), Ok(true));
        check_path("TimestampGreaterThan", t.clone(), t.clone(), Ok(false));
        check_path("TimestampLessThanEquals", t.clone(), t.clone(), Ok(true));
        check_path("TimestampGreaterThanEquals", t.clone(), t, Ok(true));
    }

    #[test]
    #[rustfmt::skip]
    fn type_tests() {
        check("IsNull", json!(true), json!(null), Ok(true));
        check("IsNull", json!(true), json!(0), Ok(false));
        check("IsNull", json!(false), json!(null), Ok(false));
        check("IsPresent", json!(true), json!(null), Ok(true));
        check("IsNumeric", json!(true), json!(1.5), Ok(true));
        check("IsNumeric", json!(true), json!("1"), Ok(false));
        check("IsString", json!(true), json!(""), Ok(true));
        check("IsString", json!(false), json!(["a"]), Ok(true));
        check("IsBoolean", json!(true), json!(false), Ok(true));
        check("IsBoolean", json!(true), json!("false"), Ok(false));
        check("IsTimestamp", json!(true), json!("2016-03-14T01:59:00Z"), Ok(true));
        check("IsTimestamp", json!(true), json!("2016-03-14"), Ok(false));
        check("IsTimestamp", json!(false), json!(1457920740), Ok(true));
        check_rule(json!({"Variable": "$.v", "IsPresent": true}), json!({}), Ok(false));
        check_rule(json!({"Variable": "$.v", "IsPresent": false}), json!({}), Ok(true));
        check_rule(json!({"Variable": "$.v[3]", "IsPresent": true}), json!({"v": [1]}), Ok(false));
        check_rule(json!({"Variable": "$", "IsString": true}), json!("whole input"), Ok(true));
    }

    #[test]
    #[rustfmt::skip]
    fn missing_variable_fails_except_under_is_present() {
        check_rule(json!({"Variable": "$.v", "NumericEquals": 1}), json!({}), missing("$.v"));
        check_rule(json!({"Variable": "$.v", "IsNull": true}), json!({}), missing("$.v"));
        check_rule(json!({"Variable": "$.v", "IsNull": false}), json!({}), missing("$.v"));
        check_rule(json!({"Variable": "$.a.b", "StringEquals": "x"}), json!({"a": "text"}), missing("$.a.b"));
        check_rule(json!({"Variable": "$['a b']", "BooleanEquals": true}), json!({}), missing("$['a b']"));
        check_rule(json!({"Variable": "$.v", "NumericEqualsPath": "$.w"}), json!({"v": 3}), missing("$.w"));
    }

    #[test]
    fn combinators_short_circuit() {
        let guarded = json!({"And": [
            {"Variable": "$.x", "IsPresent": true},
            {"Variable": "$.x", "StringEquals": "a"}
        ]});
        check_rule(guarded.clone(), json!({}), Ok(false));
        check_rule(guarded.clone(), json!({"x": "a"}), Ok(true));
        check_rule(guarded, json!({"x": "b"}), Ok(false));
        let either = json!({"Or": [
            {"Variable": "$.b", "BooleanEquals": true},
            {"Variable": "$.missing", "NumericEquals": 1}
        ]});
        check_rule(either.clone(), json!({"b": true}), Ok(true));
        check_rule(either, json!({"b": false}), missing("$.missing"));
        let not = json!({"Not": {"Variable": "$.v", "IsNull": true}});
        check_rule(not.clone(), json!({"v": 1}), Ok(true));
        check_rule(json!({"Not": not}), json!({"v": 1}), Ok(false));
        let range = json!({"Or": [
            {"And": [
                {"Variable": "$.a", "NumericGreaterThanEquals": 20},
                {"Variable": "$.a", "NumericLessThan": 30}
            ]},
            {"Variable": "$.a", "NumericEquals": 0}
        ]});
        check_rule(range.clone(), json!({"a": 22}), Ok(true));
        check_rule(range.clone(), json!({"a": 0}), Ok(true));
        check_rule(range, json!({"a": 30}), Ok(false));
    }

    #[test]
    fn parses_every_keyword_and_root() {
        for operator in Operator::ALL {
            assert_eq!(
                Operator::from_keyword(operator.name()),
                Some((operator, false))
            );
            let twin = format!("{}Path", operator.name());
            let expected = operator.has_path_twin().then_some((operator, true));
            assert_eq!(Operator::from_keyword(&twin), expected, "{twin}");
        }
        assert_eq!(
            Operator::ALL.iter().filter(|op| op.has_path_twin()).count(),
            16
        );
        assert_eq!(Operator::from_keyword("Path"), None);
        assert_eq!(Operator::from_keyword("stringequals"), None);
        for variable in [
            "$$.Execution.Name",
            "$counter",
            "$counter.a[0]",
            "$",
            "$.a['b c'][2]",
        ] {
            let rule = json!({"Variable": variable, "IsPresent": true, "Next": "N"});
            let mut diagnostics = Diagnostics::default();
            let parsed = parse_rule(&rule, LOCATION, false, &mut diagnostics).expect(variable);
            let Test::Expr(Expr::Compare(comparison)) = parsed.test else {
                panic!("{variable}")
            };
            assert_eq!(comparison.variable.as_str(), variable);
        }
    }

    #[test]
    fn parses_top_level_fields() {
        let rule = json!({"Variable": "$.a", "IsNull": true, "Next": "N", "Comment": "c", "Assign": {"x.$": "$.a"}});
        let parsed = parse_rule(&rule, LOCATION, false, &mut Diagnostics::default()).unwrap();
        assert_eq!(
            (parsed.next.as_str(), parsed.comment.as_deref()),
            ("N", Some("c"))
        );
        assert_eq!(
            (parsed.assign, parsed.output),
            (Some(json!({"x.$": "$.a"})), None)
        );
        let rule = json!({"Condition": "{% $x > 1 %}", "Next": "N", "Output": {"a": 1}, "Assign": {"b": 2}});
        let parsed = parse_rule(&rule, LOCATION, true, &mut Diagnostics::default()).unwrap();
        assert_eq!(parsed.test, Test::Condition(json!("{% $x > 1 %}")));
        assert_eq!(
            (parsed.output, parsed.assign),
            (Some(json!({"a": 1})), Some(json!({"b": 2})))
        );
        let rule = json!({"Condition": false, "Next": "N"});
        let parsed = parse_rule(&rule, LOCATION, true, &mut Diagnostics::default()).unwrap();
        assert_eq!(parsed.test, Test::Condition(json!(false)));
    }

    #[test]
    #[rustfmt::skip]
    fn structural_diagnostics() {
        let one = |rule: Value, location: &str, message: &str| check_invalid(rule, false, &[(location, message)]);
        one(json!(5), "", "Value should be an object");
        one(json!({"Variable": "$.a", "IsNull": true}), "", "These fields are required: [Next]");
        one(json!({"Variable": "$.a", "IsNull": true, "Next": ""}), "/Next", "Value cannot be empty");
        one(json!({"Variable": "$.a", "IsNull": true, "Next": 1}), "/Next", "Value should be a string");
        one(json!({"Variable": "$.a", "IsNull": true, "Next": "N", "Comment": 1}), "/Comment", "Value should be a string");
        one(json!({"Variable": "$.a", "IsNull": true, "Next": "N", "End": true}), "", "Field 'End' is not supported");
        one(json!({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1, "Next": "N"}), "", MESSAGE_ONE_OPERATOR);
        one(json!({"Variable": "$.a", "StringEquals": "x", "StringEqualsPath": "$.b", "Next": "N"}), "", MESSAGE_ONE_OPERATOR);
        one(json!({"Not": {"Variable": "$.a", "IsNull": true}, "Variable": "$.a", "IsNull": true, "Next": "N"}), "", MESSAGE_ONE_OPERATOR);
        one(json!({"Variable": "$.a", "Next": "N"}), "", MESSAGE_NO_OPERATOR);
        one(json!({"StringEquals": "x", "Next": "N"}), "", "These fields are required: [Variable]");
        let rule = json!({"Variable": "$.a", "IsNullPath": "$.b", "Next": "N"});
        check_invalid(rule, false, &[("", "Field 'IsNullPath' is not supported"), ("", MESSAGE_NO_OPERATOR)]);
        let rule = json!({"Variable": "$.a", "StringMatchesPath": "$.b", "Next": "N"});
        check_invalid(rule, false, &[("", "Field 'StringMatchesPath' is not supported"), ("", MESSAGE_NO_OPERATOR)]);
    }

    #[test]
    #[rustfmt::skip]
    fn combinator_diagnostics() {
        let one = |rule: Value, location: &str, message: &str| check_invalid(rule, false, &[(location, message)]);
        let is_null = json!({"Variable": "$.a", "IsNull": true});
        one(json!({"And": [], "Next": "N"}), "/And", "Value cannot be empty");
        one(json!({"Or": {}, "Next": "N"}), "/Or", "Value should be an array");
        one(json!({"Not": [], "Next": "N"}), "/Not", "Value should be an object");
        one(json!({"And": [5], "Next": "N"}), "/And/0", "Value should be an object");
        one(json!({"Not": is_null, "Variable": "$.a", "Next": "N"}), "", "Field 'Variable' is not supported");
        one(json!({"Not": {"Variable": "$.a", "IsNull": true, "Next": "X"}, "Next": "N"}), "/Not", "Field 'Next' is not supported");
        one(json!({"Not": {"Variable": "$.a", "IsNull": true, "Assign": {}}, "Next": "N"}), "/Not", "Field 'Assign' is not supported");
        one(json!({"Or": [is_null, {"Variable": "$.a"}], "Next": "N"}), "/Or/1", MESSAGE_NO_OPERATOR);
    }

    #[test]
    #[rustfmt::skip]
    fn operand_diagnostics() {
        let invalid = |keyword: &str, operand: Value, message: &str| {
            let rule = json!({"Variable": "$.a", keyword: operand, "Next": "N"});
            check_invalid(rule, false, &[(&format!("/{keyword}"), message)]);
        };
        invalid("StringEquals", json!(1), "Value should be a string");
        invalid("StringLessThan", json!(null), "Value should be a string");
        invalid("StringMatches", json!(["*"]), "Value should be a string");
        invalid("StringMatches", json!("abc\\"), MESSAGE_PATTERN);
        invalid("StringMatches", json!("a\\\\\\"), MESSAGE_PATTERN);
        invalid("NumericEquals", json!("1"), "Value should be a number");
        invalid("NumericGreaterThan", json!(true), "Value should be a number");
        invalid("BooleanEquals", json!("true"), "Value should be a boolean");
        invalid("IsNull", json!("true"), "Value should be a boolean");
        invalid("IsPresent", json!(1), "Value should be a boolean");
        invalid("TimestampEquals", json!("2016-12-05 21:29:29Z"), MESSAGE_TIMESTAMP);
        invalid("TimestampLessThan", json!("2016-12-05T21:29:29"), MESSAGE_TIMESTAMP);
        invalid("TimestampGreaterThan", json!(1480973369), "Value should be a string");
        invalid("StringEqualsPath", json!("a"), "Value is not a Reference Path: Reference path didn't start with '$'");
        invalid("NumericEqualsPath", json!("$.a[*]"), "Value is not a Reference Path");
        invalid("BooleanEqualsPath", json!("$.a[?(@.b)]"), "Value is not a Reference Path");
        invalid("TimestampEqualsPath", json!(7), "Value should be a string");
    }

    #[test]
    #[rustfmt::skip]
    fn variable_diagnostics() {
        let invalid = |variable: Value, message: &str| {
            let rule = json!({"Variable": variable, "IsNull": true, "Next": "N"});
            check_invalid(rule, false, &[("/Variable", message)]);
        };
        let no_dollar = "Value is not a Reference Path: Reference path didn't start with '$'";
        invalid(json!("States.ArrayContains($.a, 'null')"), no_dollar);
        invalid(json!("foo"), no_dollar);
        invalid(json!("$.a[*]"), "Value is not a Reference Path");
        invalid(json!("$..a"), "Value is not a Reference Path");
        invalid(json!("$.a[0:2]"), "Value is not a Reference Path");
        invalid(json!("$.a["), "Value is not a Reference Path");
        invalid(json!(5), "Value should be a string");
    }

    #[test]
    fn reports_every_problem() {
        let rule = json!({
            "Foo": 1,
            "And": [{"Variable": "x", "NumericEquals": "1"}, {"Variable": "$.b"}, {"Variable": "$.c", "IsNull": true}]
        });
        let expected = [
            ("", "Field 'Foo' is not supported"),
            ("", "These fields are required: [Next]"),
            (
                "/And/0/Variable",
                "Value is not a Reference Path: Reference path didn't start with '$'",
            ),
            ("/And/0/NumericEquals", "Value should be a number"),
            ("/And/1", MESSAGE_NO_OPERATOR),
        ];
        check_invalid(rule, false, &expected);
    }

    #[test]
    #[rustfmt::skip]
    fn query_language_diagnostics() {
        let jsonpath_only = |field: &str| format!("The QueryLanguage is set to 'JSONata', but field '{field}' is only supported for the 'JSONPath' QueryLanguage");
        let jsonata_only = |field: &str| format!("The QueryLanguage is set to 'JSONPath', but field '{field}' is only supported for the 'JSONata' QueryLanguage");
        check_invalid(json!({"Variable": "$.a", "StringEquals": "x", "Next": "N"}), true, &[
            ("", &jsonpath_only("Variable")),
            ("", &jsonpath_only("StringEquals")),
            ("", "These fields are required: [Condition]"),
        ]);
        check_invalid(json!({"Condition": true, "Not": {}, "Next": "N"}), true, &[("", &jsonpath_only("Not"))]);
        check_invalid(json!({"Condition": true, "Next": "N"}), false, &[("", &jsonata_only("Condition")), ("", MESSAGE_NO_OPERATOR)]);
        check_invalid(json!({"Variable": "$.a", "IsNull": true, "Output": {}, "Next": "N"}), false, &[("", &jsonata_only("Output"))]);
        check_invalid(json!({"Condition": "$x > 1", "Next": "N"}), true, &[("/Condition", MESSAGE_JSONATA)]);
        check_invalid(json!({"Condition": "{% $x > 1", "Next": "N"}), true, &[("/Condition", MESSAGE_JSONATA)]);
        check_invalid(json!({"Condition": "{%}", "Next": "N"}), true, &[("/Condition", MESSAGE_JSONATA)]);
        check_invalid(json!({"Condition": 1, "Next": "N"}), true, &[("/Condition", "Value should be a boolean or a JSONata expression")]);
        check_invalid(json!({"Condition": true}), true, &[("", "These fields are required: [Next]")]);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut rule = json!({"Variable": "$.a", "IsNull": true});
        for _ in 0..=NESTING_MAX {
            rule = json!({ "Not": rule });
        }
        rule["Next"] = json!("N");
        let mut diagnostics = Diagnostics::default();
        assert!(parse_rule(&rule, LOCATION, false, &mut diagnostics).is_none());
        assert_eq!(diagnostics.items.len(), 1, "{:?}", diagnostics.items);
    }

    // -----------------------------------------------------------------------------------
    // The AWS-recorded corpus
    // -----------------------------------------------------------------------------------

    /// What an execution ends with, as far as these cases can tell.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Output(Value),
        Failed(String),
    }

    enum CaseResult {
        Passed,
        Skipped,
        Mismatch(String),
    }

    /// Resolves `$` against the input; any other root marks the case as not runnable here.
    struct CorpusEnv<'a> {
        input: &'a Value,
        other_root: bool,
    }

    impl Env for CorpusEnv<'_> {
        fn resolve(&mut self, path: &Path) -> Result<Option<Value>, Failure> {
            if path.root() != &Root::Input {
                self.other_root = true;
                return Ok(None);
            }
            path.select_value(self.input)
                .map_err(|limit| limit.failure(path))
        }
    }

    fn shared_dir() -> PathBuf {
        match std::env::var_os("STEPPE_SHARED") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        }
    }

    #[test]
    fn corpus_choice_cases() {
        let dir = shared_dir().join("conformance/localstack/executions/choice_operators");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            println!("skipped: shared corpus not found");
            return;
        };
        let mut files: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
        files.retain(|file| file.extension().is_some_and(|ext| ext == "json"));
        files.sort();
        let (mut passed, mut skipped, mut mismatches) = (0, 0, Vec::new());
        for file in &files {
            let case: Value =
                serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
            match run_case(&case).unwrap_or(CaseResult::Skipped) {
                CaseResult::Passed => passed += 1,
                CaseResult::Skipped => skipped += 1,
                CaseResult::Mismatch(why) => mismatches.push(format!("{}: {why}", file.display())),
            }
        }
        println!("{passed} passed, {skipped} skipped");
        assert!(
            mismatches.is_empty(),
            "{} mismatches:\n{}",
            mismatches.len(),
            mismatches.join("\n")
        );
    }

    /// Runs one case; `None` when it is out of scope (not a leading JSONPath Choice state,
    /// or its outcome cannot be predicted from the target state alone).
    fn run_case(case: &Value) -> Option<CaseResult> {
        let definition = &case["definition"];
        let states = definition["States"].as_object()?;
        let choice = states.get(definition["StartAt"].as_str()?)?.as_object()?;
        let plain = choice
            .keys()
            .all(|key| ["Type", "Comment", "Choices", "Default"].contains(&key.as_str()));
        let jsonata = definition["QueryLanguage"] == "JSONata";
        if choice.get("Type")? != "Choice" || !plain || jsonata {
            return None;
        }
        let input: Value = serde_json::from_str(case["input"].as_str()?).ok()?;
        let mut diagnostics = Diagnostics::default();
        let rules: Vec<Option<ChoiceRule>> = choice["Choices"]
            .as_array()?
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                parse_rule(
                    rule,
                    &format!("/States/C/Choices/{index}"),
                    false,
                    &mut diagnostics,
                )
            })
            .collect();
        if !diagnostics.items.is_empty() {
            return Some(CaseResult::Mismatch(format!(
                "rejected: {:?}",
                diagnostics.items
            )));
        }
        let rules: Vec<ChoiceRule> = rules.into_iter().collect::<Option<_>>()?;
        let mut env = CorpusEnv {
            input: &input,
            other_root: false,
        };
        let taken = choose(
            &rules,
            choice.get("Default").and_then(Value::as_str),
            &mut env,
        );
        if env.other_root {
            return None;
        }
        let predicted = match taken {
            Ok(Some(target)) => predict(states, target, &input)?,
            Ok(None) => Outcome::Failed(error_name::NO_CHOICE_MATCHED.to_owned()),
            Err(failure) => Outcome::Failed(failure.error),
        };
        let expected = expected_outcome(&case["expected"])?;
        Some(if predicted == expected {
            CaseResult::Passed
        } else {
            CaseResult::Mismatch(format!(
                "input {input}: predicted {predicted:?}, AWS {expected:?}"
            ))
        })
    }

    fn choose<'a>(
        rules: &'a [ChoiceRule],
        default: Option<&'a str>,
        env: &mut dyn Env,
    ) -> Result<Option<&'a str>, Failure> {
        for rule in rules {
            let Test::Expr(expr) = &rule.test else {
                unreachable!("JSONPath rules")
            };
            if expr.evaluate(env)? {
                return Ok(Some(&rule.next));
            }
        }
        Ok(default)
    }

    /// The outcome of entering `target` with `input`, for the simple terminal states the
    /// corpus uses to tell branches apart.
    fn predict(states: &Map<String, Value>, target: &str, input: &Value) -> Option<Outcome> {
        let state = states.get(target)?.as_object()?;
        let only = |allowed: &[&str]| state.keys().all(|key| allowed.contains(&key.as_str()));
        match state.get("Type")?.as_str()? {
            "Pass" if only(&["Type", "Comment", "Result", "End"]) && state["End"] == true => Some(
                Outcome::Output(state.get("Result").unwrap_or(input).clone()),
            ),
            "Succeed" if only(&["Type", "Comment"]) => Some(Outcome::Output(input.clone())),
            "Fail" if only(&["Type", "Comment", "Error", "Cause"]) => {
                Some(Outcome::Failed(state.get("Error")?.as_str()?.to_owned()))
            }
            _ => None,
        }
    }

    fn expected_outcome(expected: &Value) -> Option<Outcome> {
        match expected["status"].as_str()? {
            "SUCCEEDED" => {
                let output = expected.get("output")?;
                let parsed = output
                    .as_str()
                    .and_then(|text| serde_json::from_str(text).ok());
                Some(Outcome::Output(parsed.unwrap_or_else(|| output.clone())))
            }
            "FAILED" => Some(Outcome::Failed(expected["error"].as_str()?.to_owned())),
            _ => None,
        }
    }
}
