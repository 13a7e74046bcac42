//! Placeholder-aware text matching.
//!
//! The recorder replaced volatile values by placeholders: ISO dates by `date`, the account id
//! by `111111111111`, ARN tails by `<ArnPart_0idx>`, JSON inside causes by `<json-input:1>`,
//! and so on (see `shared/conformance/localstack/README.md`). An expected string is turned
//! into a pattern where each placeholder is a hole that matches a non-empty run of the
//! characters its kind allows, and everything else must match exactly.
//!
//! Placeholders in angle brackets are recognised wherever they appear, because user data never
//! looks like them; a definition may still contain a literal such as `<omitted>`, which is
//! not a known kind and so stays literal. Bare words (`date`, `timestamp`, `111111111111`,
//! `snf_role_arn`, a test transformer's replacement such as `RandomNumberGenerated`) are
//! placeholders only when the case lists them, since they could be ordinary text.

/// What a placeholder stands for, which decides what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An ISO-8601 date-time (`date`).
    Date,
    /// An account id (`111111111111`).
    Digits,
    /// A region (`<region>`).
    Region,
    /// A partition (`<partition>`).
    Partition,
    /// A UUID (`<uuid:1>`).
    Uuid,
    /// One colon-separated part of an ARN: a name (`<ArnPart_0idx>`, `<ExecArnPart_0idx>`).
    ArnPart,
    /// A whole ARN (`snf_role_arn`).
    Arn,
    /// Any text (`<json-input:1>`).
    Text,
    /// Any JSON value when it is the whole value, any text inside a string
    /// (`timestamp`, a test transformer's replacement such as `RandomNumberGenerated`).
    AnyValue,
}

/// The placeholders in force for one comparison.
#[derive(Debug, Clone, Default)]
pub struct Placeholders {
    /// Bare-word placeholders, longest first so that the longest token wins.
    words: Vec<(String, Kind)>,
}

/// One piece of an expected string.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(Vec<char>),
    Hole(Kind),
}

impl Placeholders {
    /// The placeholders named in `tokens`, as a case lists them. A listed name such as
    /// `date (inside a longer string)` means the token `date`.
    pub fn new<S: AsRef<str>>(tokens: impl IntoIterator<Item = S>) -> Placeholders {
        let mut placeholders = Placeholders::default();
        for token in tokens {
            placeholders.add(token.as_ref());
        }
        placeholders
    }

    /// Adds one placeholder token.
    pub fn add(&mut self, token: &str) {
        let token = token.split(" (").next().unwrap_or(token).trim();
        if token.is_empty()
            || token.starts_with('<')
            || self.words.iter().any(|(word, _)| word == token)
        {
            return;
        }
        self.words.push((token.to_string(), word_kind(token)));
        self.words
            .sort_by_key(|(word, _)| std::cmp::Reverse(word.chars().count()));
    }

    /// The kind of placeholder `expected` is when it is one placeholder and nothing else.
    pub fn whole(&self, expected: &str) -> Option<Kind> {
        match self.parse(expected).as_slice() {
            [Segment::Hole(kind)] => Some(*kind),
            _ => None,
        }
    }

    /// Whether `actual` matches `expected`, with placeholders as wildcards.
    pub fn text_matches(&self, expected: &str, actual: &str) -> bool {
        if expected == actual {
            return true;
        }
        let segments = self.parse(expected);
        if !segments
            .iter()
            .any(|segment| matches!(segment, Segment::Hole(_)))
        {
            return false;
        }
        let actual: Vec<char> = actual.chars().collect();
        matches_from(&segments, &actual)
    }

    /// Splits `expected` into literal text and placeholder holes.
    fn parse(&self, expected: &str) -> Vec<Segment> {
        let chars: Vec<char> = expected.chars().collect();
        let mut segments = Vec::new();
        let mut literal = Vec::new();
        let mut char_idx = 0;
        while char_idx < chars.len() {
            match self.token_at(&chars[char_idx..]) {
                Some((len, kind)) => {
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Hole(kind));
                    char_idx += len;
                }
                None => {
                    literal.push(chars[char_idx]);
                    char_idx += 1;
                }
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        segments
    }

    /// The placeholder that starts `rest`, as its length in chars and its kind.
    fn token_at(&self, rest: &[char]) -> Option<(usize, Kind)> {
        if rest.first() == Some(&'<') {
            let close = rest.iter().position(|&c| c == '>')?;
            let name: String = rest[1..close].iter().collect();
            return bracket_kind(&name).map(|kind| (close + 1, kind));
        }
        self.words.iter().find_map(|(word, kind)| {
            let len = word.chars().count();
            (rest.len() >= len && rest[..len].iter().copied().eq(word.chars()))
                .then_some((len, *kind))
        })
    }
}

/// The kind of a bracketed placeholder such as `<ArnPart_0idx>`, or `None` for a literal.
fn bracket_kind(name: &str) -> Option<Kind> {
    let kind = match name {
        "region" => Kind::Region,
        "partition" => Kind::Partition,
        "lambda-function-name" => Kind::ArnPart,
        _ if name.starts_with("uuid:") => Kind::Uuid,
        _ if name.starts_with("json-input:") => Kind::Text,
        // A resource name the recorder replaced (TestState's execution and machine names).
        _ if name.starts_with("resource:") => Kind::ArnPart,
        _ if name.contains("Arn") && name.ends_with("idx") => Kind::ArnPart,
        _ => return None,
    };
    Some(kind)
}

/// The kind of a bare-word placeholder.
fn word_kind(word: &str) -> Kind {
    if word == "date" {
        Kind::Date
    } else if word.chars().all(|c| c.is_ascii_digit()) {
        Kind::Digits
    } else if word.ends_with("role_arn") {
        Kind::Arn
    } else {
        Kind::AnyValue
    }
}

/// Whether a hole of `kind` may contain `c`.
fn allows(kind: Kind, c: char) -> bool {
    match kind {
        Kind::Date => c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '+' | '-'),
        Kind::Digits => c.is_ascii_digit(),
        Kind::Region => c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
        Kind::Partition => c.is_ascii_lowercase() || c == '-',
        Kind::Uuid => c.is_ascii_hexdigit() || c == '-',
        Kind::ArnPart => !(c == ':' || c == '/' || c.is_whitespace()),
        Kind::Arn => !c.is_whitespace(),
        Kind::Text | Kind::AnyValue => true,
    }
}

/// Backtracking match of `segments` against all of `actual`; holes take one or more chars.
fn matches_from(segments: &[Segment], actual: &[char]) -> bool {
    match segments.split_first() {
        None => actual.is_empty(),
        Some((Segment::Literal(literal), rest)) => {
            actual.starts_with(literal) && matches_from(rest, &actual[literal.len()..])
        }
        Some((Segment::Hole(kind), rest)) => {
            let run = actual.iter().take_while(|&&c| allows(*kind, c)).count();
            (1..=run)
                .rev()
                .any(|len| matches_from(rest, &actual[len..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_placeholders_match_their_kind() {
        let placeholders = Placeholders::new(["111111111111", "<partition>"]);
        let expected = "arn:<partition>:states:<region>:111111111111:execution:<ArnPart_0idx>:<ExecArnPart_0idx>";
        assert!(placeholders.text_matches(
            expected,
            "arn:aws:states:us-east-1:123456789012:execution:machine:run-1"
        ));
        assert!(!placeholders.text_matches(
            expected,
            "arn:aws:states:us-east-1:123456789012:execution:machine"
        ));
        assert!(!placeholders.text_matches(
            expected,
            "arn:aws:states:us-east-1:12345678901x:execution:m:r"
        ));
        assert!(placeholders.text_matches(
            "arn:<partition>:states:<region>:111111111111:express:<resource:3>:<resource:1>",
            "arn:aws:states:us-east-1:123456789012:express:TestState:test"
        ));
    }

    #[test]
    fn json_input_matches_any_text() {
        let placeholders = Placeholders::default();
        let expected = "could not be found in the input '<json-input:1>'";
        assert!(placeholders.text_matches(
            expected,
            r#"could not be found in the input '{"a": "x'y"}'"#
        ));
        assert!(!placeholders.text_matches(expected, "could not be found in the input ''"));
    }

    #[test]
    fn bare_words_only_when_listed() {
        assert!(!Placeholders::default().text_matches("at date", "at 2024-01-01T00:00:00Z"));
        let placeholders = Placeholders::new(["date (inside a longer string)"]);
        assert!(placeholders.text_matches("at date", "at 2024-01-01T00:00:00Z"));
        assert!(!placeholders.text_matches("at date", "at 2024-01-01 00:00:00Z"));
        assert_eq!(placeholders.whole("date"), Some(Kind::Date));
    }

    #[test]
    fn unknown_brackets_stay_literal() {
        let placeholders = Placeholders::default();
        assert!(placeholders.text_matches("<omitted>", "<omitted>"));
        assert!(!placeholders.text_matches("<omitted>", "x"));
        assert_eq!(placeholders.whole("<omitted>"), None);
    }
}
