//! JSONPath as Amazon States Language uses it.
//!
//! AWS evaluates paths with Jayway JsonPath semantics, which differ from RFC 9535 in one way
//! that matters: a *definite* path (only field names and single indexes) yields exactly one
//! value or fails, while an *indefinite* path (wildcards, slices, filters, unions, deep scan)
//! always yields a list, empty when nothing matches.
//!
//! A path starts at one of three roots: `$` the state's input, `$$` the Context object, or
//! `$name` a workflow variable. Plain field/index paths, the common case, are walked by hand;
//! everything else is handed to `serde_json_path`, which implements all of RFC 9535, one
//! top-level segment at a time so that no selection passes
//! [`PATH_VISITS_MAX`](crate::limits::PATH_VISITS_MAX) visits or selects more than
//! [`PATH_SELECTION_BYTES_MAX`](crate::limits::PATH_SELECTION_BYTES_MAX) (see `budget.rs`).
//!
//! ```
//! use steppe_asl::path::{Path, Root};
//! let path = Path::parse("$.order.items[0].sku").unwrap();
//! assert_eq!(path.root(), &Root::Input);
//! let input = serde_json::json!({"order": {"items": [{"sku": "a1"}]}});
//! assert_eq!(path.select_value(&input), Ok(Some(serde_json::json!("a1"))));
//! ```

mod budget;

use crate::error_name::{Failure, DATA_LIMIT_EXCEEDED};
use crate::limits::{PATH_NESTING_MAX, PATH_SELECTION_BYTES_MAX, PATH_VISITS_MAX};
use crate::size::json_bytes_within;
use serde_json::Value;
use std::fmt;

/// Which document a path reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's (effective) input.
    Input,
    /// `$$`: the Context object.
    Context,
    /// `$name`: the workflow variable `name`.
    Variable(Box<str>),
}

/// One step of a definite path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `.name` or `['name']`.
    Field(Box<str>),
    /// `[n]`; negative counts from the end, as in Jayway.
    Index(i64),
}

/// A parsed path, ready to evaluate many times.
#[derive(Clone)]
pub struct Path {
    text: Box<str>,
    root: Root,
    query: Query,
}

#[derive(Clone)]
enum Query {
    /// Field names and single indexes only: yields one value or nothing.
    Definite(Vec<Segment>),
    /// Anything else: yields a list. Evaluated one top-level segment at a time.
    Indefinite(Box<[budget::Step]>),
}

/// Why a path's text does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Explanation of the problem.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a path selected.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection<'a> {
    /// A definite path's single value.
    One(&'a Value),
    /// An indefinite path's matches, in document order.
    Many(Vec<&'a Value>),
}

impl Selection<'_> {
    /// The selection as an owned value: the value itself, or an array of the matches.
    pub fn into_value(self) -> Value {
        match self {
            Selection::One(value) => value.clone(),
            Selection::Many(values) => Value::Array(values.into_iter().cloned().collect()),
        }
    }
}

/// Why a selection stopped before its end: what it would select passes a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitExceeded {
    /// Selecting would visit more than [`PATH_VISITS_MAX`] nodes.
    Visits,
    /// The selected values hold more than [`PATH_SELECTION_BYTES_MAX`] bytes of JSON.
    Bytes,
}

impl LimitExceeded {
    /// AWS's error for it, `States.DataLimitExceeded` (a state's data passing the payload
    /// limit), with a cause that names `path`; the engine prefixes the state.
    pub fn failure(self, path: &Path) -> Failure {
        let what = match self {
            LimitExceeded::Visits => format!("would visit more than {PATH_VISITS_MAX} nodes"),
            LimitExceeded::Bytes => {
                format!("selected more than {PATH_SELECTION_BYTES_MAX} bytes")
            }
        };
        Failure::new(
            DATA_LIMIT_EXCEEDED,
            format!(
                "The JSONPath '{}' {what}, exceeding the maximum number of bytes service limit.",
                path.as_str()
            ),
        )
    }
}

/// Why a reference path could not be written into a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetError {
    /// A step of the path meets a value that is not an object (or not an array, for an index).
    NotAContainer,
    /// An index is outside the array it addresses.
    IndexOutOfBounds,
}

impl Path {
    /// Parses a path that may read the input, the Context object or a variable.
    pub fn parse(text: &str) -> Result<Path, ParseError> {
        let (root, rest) = split_root(text)?;
        let query = match parse_definite(rest) {
            Some(segments) => Query::Definite(segments),
            None => {
                let invalid = || ParseError {
                    message: format!("The value '{text}' is not a valid JSONPath"),
                };
                if ends_inside_unicode_escape(rest) || nesting_depth(rest) > PATH_NESTING_MAX {
                    return Err(invalid());
                }
                let normalized = format!("${rest}");
                serde_json_path::JsonPath::parse(&normalized).map_err(|_| invalid())?;
                Query::Indefinite(budget::steps(rest).into())
            }
        };
        Ok(Path {
            text: text.into(),
            root,
            query,
        })
    }

    /// Parses a *reference path*: rooted at `$`, definite, as `ResultPath` requires.
    pub fn parse_reference(text: &str) -> Result<Path, ParseError> {
        let path = Path::parse(text)?;
        if path.root != Root::Input || !path.is_definite() {
            return Err(ParseError {
                message: format!("The value '{text}' is not a valid reference path"),
            });
        }
        Ok(path)
    }

    /// The path's text as written in the definition.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Which document the path reads.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// Whether the path can select at most one value.
    pub fn is_definite(&self) -> bool {
        matches!(self.query, Query::Definite(_))
    }

    /// Whether the path is just its root (`$`, `$$` or `$name`).
    pub fn is_root_only(&self) -> bool {
        matches!(&self.query, Query::Definite(segments) if segments.is_empty())
    }

    /// The steps of a definite path, `None` for an indefinite one.
    pub fn segments(&self) -> Option<&[Segment]> {
        match &self.query {
            Query::Definite(segments) => Some(segments),
            Query::Indefinite(_) => None,
        }
    }

    /// Evaluates the path against the document its root names.
    /// `Ok(None)` means a definite path found nothing; an indefinite path finds a list, or
    /// stops when it would pass a limit (a definite one selects a part of the document, so
    /// never does).
    pub fn select<'a>(&self, document: &'a Value) -> Result<Option<Selection<'a>>, LimitExceeded> {
        match &self.query {
            Query::Definite(segments) => Ok(walk(document, segments).map(Selection::One)),
            Query::Indefinite(steps) => {
                let (selected, _visits) = budget::select(steps, document)?;
                let mut left = PATH_SELECTION_BYTES_MAX;
                for value in &selected {
                    let bytes = json_bytes_within(value, left).ok_or(LimitExceeded::Bytes)?;
                    left -= bytes;
                }
                Ok(Some(Selection::Many(selected)))
            }
        }
    }

    /// [`Path::select`], as an owned value.
    pub fn select_value(&self, document: &Value) -> Result<Option<Value>, LimitExceeded> {
        Ok(self.select(document)?.map(Selection::into_value))
    }

    /// Writes `value` at this reference path inside `target`, creating missing objects on
    /// the way, as `ResultPath` does. The root path replaces `target` entirely.
    pub fn set(&self, target: &mut Value, value: Value) -> Result<(), SetError> {
        let Query::Definite(segments) = &self.query else {
            unreachable!("reference paths are definite by construction")
        };
        set_at(target, segments, value)
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({:?})", self.text)
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Path) -> bool {
        self.text == other.text
    }
}

fn split_root(text: &str) -> Result<(Root, &str), ParseError> {
    let invalid = || ParseError {
        message: format!("The value '{text}' is not a valid JSONPath"),
    };
    let Some(after_dollar) = text.strip_prefix('$') else {
        return Err(invalid());
    };
    if let Some(rest) = after_dollar.strip_prefix('$') {
        return Ok((Root::Context, rest));
    }
    let name_len = after_dollar.find(['.', '[']).unwrap_or(after_dollar.len());
    if name_len == 0 {
        return Ok((Root::Input, after_dollar));
    }
    let name = &after_dollar[..name_len];
    if !is_variable_name(name) {
        return Err(invalid());
    }
    Ok((Root::Variable(name.into()), &after_dollar[name_len..]))
}

/// Whether `name` is a valid workflow variable name (Unicode identifier, at most 80 chars).
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
        && name.chars().count() <= crate::limits::VARIABLE_NAME_CHARS_MAX
}

/// Whether `text` ends just after the `\u` or `\uD` of a string literal's escape.
///
/// `serde_json_path` 0.7.2 panics on such text (its string parser uses a streaming `one_of`,
/// whose `Incomplete` it declares unreachable). The text is never a valid path, since it ends
/// inside a string, so it is rejected before that parser sees it.
fn ends_inside_unicode_escape(text: &str) -> bool {
    ["\\u", "\\uD", "\\ud"]
        .iter()
        .any(|tail| text.ends_with(tail))
}

/// The deepest nesting of brackets and parentheses in `text`, outside string literals.
///
/// `serde_json_path` parses nested filters by backtracking, so its time grows exponentially
/// with this depth: 16 filters nested in a 130-byte path took a third of a second, and the
/// fuzzer's 100-byte input, over 40 deep, more than 15 seconds.
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == open {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' | '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses `rest` (the path after its root) if it uses only field names and single indexes.
/// Dot notation takes any characters up to the next `.` or `[`, as Jayway does.
fn parse_definite(rest: &str) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    let bytes = rest.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() {
        match bytes[pos] {
            b'.' => {
                let start = pos + 1;
                let end = rest[start..]
                    .find(['.', '['])
                    .map_or(rest.len(), |i| start + i);
                let name = &rest[start..end];
                if name.is_empty()
                    || name == "*"
                    || name.contains([' ', '*', '?', '@', ',', ':', '(', ')', '\'', '"', ']'])
                {
                    return None;
                }
                segments.push(Segment::Field(name.into()));
                pos = end;
            }
            b'[' => {
                let close = pos + 1 + find_bracket_end(&rest[pos + 1..])?;
                let inner = rest[pos + 1..close].trim();
                segments.push(parse_bracket(inner)?);
                pos = close + 1;
            }
            _ => return None,
        }
    }
    Some(segments)
}

/// Finds the `]` that closes a bracket, skipping quoted strings.
fn find_bracket_end(text: &str) -> Option<usize> {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                ']' => return Some(i),
                _ => {}
            },
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Segment> {
    if let Ok(index) = inner.parse::<i64>() {
        return Some(Segment::Index(index));
    }
    let quote = inner.chars().next()?;
    if (quote != '\'' && quote != '"') || inner.len() < 2 || !inner.ends_with(quote) {
        return None;
    }
    // AWS's Jayway takes a quoted name as written: a backslash only keeps the next character
    // from closing the name, and both stay in it (recorded: `$['Test\""Name"']` reads the
    // key `Test\""Name"`).
    let body = &inner[1..inner.len() - 1];
    let mut name = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                name.push('\\');
                name.push(chars.next()?);
            }
            c if c == quote => return None, // an unescaped quote: a union such as ['a','b']
            c => name.push(c),
        }
    }
    Some(Segment::Field(name.into()))
}

fn walk<'a>(mut value: &'a Value, segments: &[Segment]) -> Option<&'a Value> {
    for segment in segments {
        value = match (segment, value) {
            (Segment::Field(name), Value::Object(map)) => map.get(&**name)?,
            (Segment::Index(index), Value::Array(items)) => {
                items.get(resolve_index(*index, items.len())?)?
            }
            _ => return None,
        };
    }
    Some(value)
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    if index >= 0 {
        usize::try_from(index).ok()
    } else {
        len.checked_sub(usize::try_from(index.unsigned_abs()).ok()?)
    }
}

fn set_at(target: &mut Value, segments: &[Segment], value: Value) -> Result<(), SetError> {
    let Some((first, rest)) = segments.split_first() else {
        *target = value;
        return Ok(());
    };
    match (first, target) {
        (Segment::Field(name), Value::Object(map)) => {
            if rest.is_empty() {
                map.insert(name.to_string(), value);
                return Ok(());
            }
            let child = map
                .entry(name.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            set_at(child, rest, value)
        }
        (Segment::Index(index), Value::Array(items)) => {
            let position = resolve_index(*index, items.len()).filter(|&i| i < items.len());
            let child = items
                .get_mut(position.ok_or(SetError::IndexOutOfBounds)?)
                .ok_or(SetError::IndexOutOfBounds)?;
            set_at(child, rest, value)
        }
        _ => Err(SetError::NotAContainer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(path: &str, input: Value, expected: Option<Value>) {
        let parsed = Path::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(parsed.select_value(&input), Ok(expected), "{path}");
    }

    #[test]
    fn definite_paths() {
        check("$", json!({"a": 1}), Some(json!({"a": 1})));
        check("$.a.b", json!({"a": {"b": 2}}), Some(json!(2)));
        check("$.a[1]", json!({"a": [1, 2]}), Some(json!(2)));
        check("$.a[-1]", json!({"a": [1, 2, 3]}), Some(json!(3)));
        check("$['a b']", json!({"a b": true}), Some(json!(true)));
        check("$.foo-bar", json!({"foo-bar": 1}), Some(json!(1)));
        check(
            r#"$['Test\""Name"']"#,
            json!({r#"Test\""Name""#: 7}),
            Some(json!(7)),
        );
        check(r#"$['Test\""Name"']"#, json!({r#"Test""Name""#: 7}), None);
        check("$.missing", json!({}), None);
        check("$.a.b", json!({"a": "text"}), None);
        check("$.a[5]", json!({"a": [1]}), None);
    }

    #[test]
    fn indefinite_paths_yield_lists() {
        check("$.items[*]", json!({}), Some(json!([])));
        check(
            "$.items[1:3]",
            json!({"items": [0, 1, 2, 3]}),
            Some(json!([1, 2])),
        );
        check(
            "$.items[1:].v",
            json!({"items": [{"v": 0}, {"v": 1}]}),
            Some(json!([1])),
        );
        check(
            "$.u[?(@.s == 0)]",
            json!({"u": [{"s": 0}, {"s": 1}]}),
            Some(json!([{"s": 0}])),
        );
        check("$..x", json!({"a": {"x": 1}, "x": 2}), Some(json!([2, 1])));
    }

    #[test]
    fn roots() {
        assert_eq!(
            Path::parse("$$.Execution.Id").unwrap().root(),
            &Root::Context
        );
        assert_eq!(
            Path::parse("$counter").unwrap().root(),
            &Root::Variable("counter".into())
        );
        assert_eq!(Path::parse("$x[0].y").unwrap().segments().unwrap().len(), 2);
        assert!(Path::parse("foo").is_err());
        assert!(Path::parse("$.a[").is_err());
        assert!(Path::parse("$1abc").is_err());
    }

    /// Found by the `jsonpath` fuzz target: nested filters took `serde_json_path` seconds.
    #[test]
    fn deeply_nested_filters_are_invalid() {
        let nested = |n: usize| format!("${}{}", "[?(@.s".repeat(n), ")]".repeat(n));
        let input = json!([{"s": [{"s": 1}]}, {"s": [{"t": 1}]}]);
        let path = Path::parse(&nested(2)).unwrap();
        assert_eq!(
            path.select_value(&input),
            Ok(Some(json!([{"s": [{"s": 1}]}])))
        );
        assert!(Path::parse(&nested(PATH_NESTING_MAX / 2)).is_ok());
        assert!(Path::parse(&nested(PATH_NESTING_MAX / 2 + 1)).is_err());
        assert!(Path::parse(&nested(40)).is_err());
        // Brackets inside string literals do not count.
        let quoted = format!("$[?(@.s == '{}')]", "[(".repeat(20));
        assert!(Path::parse(&quoted).is_ok());
    }

    /// Found by the `jsonpath` fuzz target: `serde_json_path` panicked on these.
    #[test]
    fn text_ending_inside_a_unicode_escape_is_invalid() {
        for text in [
            r#"$["\u"#,
            r#"$['\uD"#,
            r#"$['\ud"#,
            r#"$..['\uD83D\u"#,
            r#"$[?(@.a == "\uD83D\uD"#,
            r#"$$.a[?(@ == '\u"#,
            r#"$var[*]['\u"#,
        ] {
            assert!(Path::parse(text).is_err(), "{text}");
        }
        let complete = r#"$.a[?(@.k == "\uD83D\uDE00")]"#;
        for end in 0..=complete.len() {
            let _ = Path::parse(&complete[..end]);
        }
        let path = Path::parse(complete).unwrap();
        let input = json!({"a": [{"k": "\u{1F600}"}, {"k": "x"}]});
        assert_eq!(
            path.select_value(&input),
            Ok(Some(json!([{"k": "\u{1F600}"}])))
        );
    }

    #[test]
    fn set_creates_missing_objects() {
        let mut target = json!({"a": 1});
        Path::parse_reference("$.b.c")
            .unwrap()
            .set(&mut target, json!(2))
            .unwrap();
        assert_eq!(target, json!({"a": 1, "b": {"c": 2}}));
        let mut text = json!("text");
        assert_eq!(
            Path::parse_reference("$.b")
                .unwrap()
                .set(&mut text, json!(2)),
            Err(SetError::NotAContainer)
        );
        assert!(Path::parse_reference("$.a[*]").is_err());
        assert!(Path::parse_reference("$$.a").is_err());
    }
}

/// Issue 12: one small input exhausted memory through paths that select the same nodes many
/// times. Each such selection now stops at a limit, fast.
#[cfg(test)]
mod limit_tests {
    use super::*;
    use serde_json::json;

    /// `{"a": {"a": ... 1}}`, `depth` objects deep (2.4 KB at depth 120).
    fn nested(depth: usize) -> Value {
        (0..depth).fold(json!(1), |inner, _| json!({ "a": inner }))
    }

    fn check(path: &str, input: Value, expected: Result<usize, LimitExceeded>) {
        let parsed = Path::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let found = parsed.select(&input).map(|selection| match selection {
            Some(Selection::Many(values)) => values.len(),
            other => panic!("{path}: {other:?}"),
        });
        assert_eq!(found, expected, "{}", shorten(path));
    }

    fn shorten(path: &str) -> &str {
        &path[..path.len().min(60)]
    }

    #[test]
    fn repeated_nodes_stop_at_a_limit() {
        let union = |selector: &str, n: usize| format!("$[{}]", vec![selector; n].join(","));
        let long = json!({"a": "x".repeat(1000)});
        check("$..a", nested(120), Ok(120));
        check("$..a..a", nested(40), Ok(780));
        check("$..a..a", nested(120), Err(LimitExceeded::Bytes));
        check("$..a..a..a", nested(120), Err(LimitExceeded::Bytes));
        check("$..a..a..a..a", nested(120), Err(LimitExceeded::Visits));
        check("$..a..a..a", nested(250), Err(LimitExceeded::Visits));
        check("$..*..*..*", nested(120), Err(LimitExceeded::Bytes));
        check(&union("'a'", 200), long.clone(), Ok(200));
        check(&union("'a'", 300), long, Err(LimitExceeded::Bytes));
        check(&union("*", 100), json!(vec![0; 1000]), Ok(100_000));
        check(
            &union("*", 1000),
            json!(vec![0; 1000]),
            Err(LimitExceeded::Visits),
        );
        check("$[?(@..a)]", json!([nested(120)]), Ok(1));
        check(
            "$[?(@..a..a..a)]",
            json!([nested(120)]),
            Err(LimitExceeded::Visits),
        );
        check("$..[?(@.a == $.a)]", nested(120), Ok(0));
        check(
            "$..[?(@.a && $..a..a)]",
            nested(120),
            Err(LimitExceeded::Visits),
        );
    }

    /// The bounds are upper bounds: a selection never holds more nodes than the visits its
    /// bounds allowed, so its memory is bounded by `PATH_VISITS_MAX` pointers.
    #[test]
    fn bounds_cover_what_is_selected() {
        let documents = [
            nested(60),
            json!({"a": [{"a": 1, "b": [1, 2, {"a": {"a": []}}]}, {"c": {"a": 2}}]}),
            json!([[0, 1, [2, [3, {"a": "x"}]]], {"a": {"b": {"a": null}}}]),
        ];
        let paths = [
            "$..a..a",
            "$..*",
            "$..*..*",
            "$.*[*,*]..a",
            "$..[0,1,'a']",
            "$..[1:]..a",
            "$..[?(@.a)]",
            "$..[?(@..a)].*",
            "$..[?(@.a == $.a)]",
            "$..['a','b'][*]",
        ];
        for document in &documents {
            for path in paths {
                let Query::Indefinite(steps) = Path::parse(path).unwrap().query else {
                    panic!("{path} is indefinite")
                };
                let (selected, visits) = budget::select(&steps, document).unwrap();
                assert!(selected.len() <= visits, "{path}: {}", selected.len());
                assert!(visits <= PATH_VISITS_MAX);
            }
        }
    }
}
