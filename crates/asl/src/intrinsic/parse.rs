//! The parser for intrinsic function calls.
//!
//! Grammar, as AWS accepts it:
//!
//! ```text
//! call     = "States." name "(" [ arg { "," arg } ] ")"
//! arg      = string | number | "null" | "true" | "false" | path | call
//! string   = "'" { char | "\'" | "\{" | "\}" | "\\" } "'"
//! number   = [ "-" ] digits [ "." digits ]
//! path     = "$" … up to the next "," or ")" outside brackets, parentheses and quotes
//! ```
//!
//! Whitespace may surround arguments. Any other backslash escape is rejected, as AWS rejects
//! `\"` at CreateStateMachine (recorded: `ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION_2`).
//! Unescaped braces are allowed: `States.StringToJson('{"a": 1}')` works on AWS.

use super::{Arg, Function, Intrinsic, StringLiteral};
use crate::limits::INTRINSIC_NESTING_MAX;
use crate::path::{ParseError, Path};
use serde_json::{Number, Value};

/// Parses a whole `.$` value: one call and nothing after it.
pub(super) fn parse(text: &str) -> Result<Intrinsic, ParseError> {
    let mut parser = Parser { text, pos: 0 };
    let call = parser.call(1)?;
    if parser.pos != text.len() {
        return Err(parser.error("unexpected text after the closing parenthesis"));
    }
    Ok(call)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn error(&self, detail: &str) -> ParseError {
        ParseError {
            message: format!(
                "The value '{}' is not a valid intrinsic function call: {detail} at offset {}",
                self.text, self.pos
            ),
        }
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Parses `States.Name(args…)` starting at the current position.
    fn call(&mut self, depth: usize) -> Result<Intrinsic, ParseError> {
        if depth > INTRINSIC_NESTING_MAX {
            return Err(self.error(&format!(
                "intrinsic functions nest at most {INTRINSIC_NESTING_MAX} deep"
            )));
        }
        let rest = self.rest();
        if !rest.starts_with("States.") {
            return Err(self.error("expected 'States.'"));
        }
        let after_prefix = &rest["States.".len()..];
        let name_len = "States.".len()
            + after_prefix
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(after_prefix.len());
        let name = &rest[..name_len];
        let function = Function::from_name(name)
            .ok_or_else(|| self.error(&format!("unknown function '{name}'")))?;
        self.pos += name_len;
        if !self.rest().starts_with('(') {
            return Err(self.error("expected '('"));
        }
        self.pos += 1;
        let args = self.args(depth)?;
        let (least, most) = function.arity();
        if args.len() < least || args.len() > most {
            return Err(self.error(&format!(
                "{} takes {}, not {}",
                function.name(),
                arity_text(least, most),
                args.len()
            )));
        }
        Ok(Intrinsic { function, args })
    }

    /// Parses the arguments after `(` up to and including `)`.
    fn args(&mut self, depth: usize) -> Result<Vec<Arg>, ParseError> {
        let mut args = Vec::new();
        self.skip_whitespace();
        if self.rest().starts_with(')') {
            self.pos += 1;
            return Ok(args);
        }
        loop {
            self.skip_whitespace();
            args.push(self.arg(depth)?);
            self.skip_whitespace();
            let next = self.rest().chars().next();
            self.pos += next.map_or(0, char::len_utf8);
            match next {
                Some(',') => continue,
                Some(')') => return Ok(args),
                _ => return Err(self.error("expected ',' or ')'")),
            }
        }
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, ParseError> {
        let rest = self.rest();
        match rest.chars().next() {
            Some('\'') => self.string().map(Arg::String),
            Some('$') => self.path().map(Arg::Path),
            Some('-' | '0'..='9') => self.number().map(Arg::Literal),
            Some('S') if rest.starts_with("States.") => {
                self.call(depth + 1).map(|call| Arg::Call(Box::new(call)))
            }
            _ => self.keyword().map(Arg::Literal),
        }
    }

    /// Parses a single-quoted string literal, resolving its escapes.
    fn string(&mut self) -> Result<StringLiteral, ParseError> {
        let mut literal = StringLiteral {
            text: String::new(),
            placeholders: Vec::new(),
        };
        let body = &self.text[self.pos + 1..];
        let mut chars = body.char_indices().peekable();
        while let Some((index, c)) = chars.next() {
            match c {
                '\'' => {
                    self.pos += 1 + index + 1;
                    return Ok(literal);
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('\'' | '{' | '}' | '\\'))) => literal.text.push(escaped),
                    _ => {
                        self.pos += 1 + index;
                        return Err(self.error("only \\' \\{ \\} and \\\\ may be escaped"));
                    }
                },
                '{' if chars.peek().is_some_and(|&(_, next)| next == '}') => {
                    chars.next();
                    literal.placeholders.push(literal.text.len());
                    literal.text.push_str("{}");
                }
                c => literal.text.push(c),
            }
        }
        Err(self.error("unterminated string"))
    }

    /// Parses a path: everything up to the next `,` or `)` that is not inside brackets,
    /// parentheses (filters) or quotes.
    fn path(&mut self) -> Result<Path, ParseError> {
        let rest = self.rest();
        let text = rest[..path_len(rest)].trim_end();
        let path = Path::parse(text).map_err(|e| self.error(&e.message))?;
        self.pos += text.len();
        Ok(path)
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let rest = self.rest();
        let sign_len = usize::from(rest.starts_with('-'));
        let int_len = digits_len(&rest[sign_len..]);
        let mut len = sign_len + int_len;
        if rest[len..].starts_with('.') {
            len += 1 + digits_len(&rest[len + 1..]);
        }
        let text = &rest[..len];
        let value = match text.parse::<i64>() {
            Ok(int) => Value::from(int),
            Err(_) => text
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| self.error("invalid number"))?,
        };
        if int_len == 0 || text.ends_with('.') || !ends_token(&rest[len..]) {
            return Err(self.error("invalid number"));
        }
        self.pos += len;
        Ok(value)
    }

    fn keyword(&mut self) -> Result<Value, ParseError> {
        let rest = self.rest();
        let keywords = [
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
        ];
        for (word, value) in keywords {
            if rest.starts_with(word) && ends_token(&rest[word.len()..]) {
                self.pos += word.len();
                return Ok(value);
            }
        }
        Err(self.error("expected a string, number, null, true, false, path or intrinsic function"))
    }
}

fn arity_text(least: usize, most: usize) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match (least, most) {
        (least, usize::MAX) => format!("at least {least} {}", plural(least)),
        (least, most) if least == most => format!("{least} {}", plural(least)),
        (least, most) => format!("{least} to {most} arguments"),
    }
}

fn digits_len(text: &str) -> usize {
    text.find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len())
}

/// Whether a literal may end where `rest` starts.
fn ends_token(rest: &str) -> bool {
    rest.chars()
        .next()
        .is_none_or(|c| c == ',' || c == ')' || c.is_whitespace())
}

/// The length of the path at the start of `text`.
fn path_len(text: &str) -> usize {
    let mut depth = 0usize;
    let mut quote = None;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
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
            '\'' | '"' if depth > 0 => quote = Some(c),
            '[' | '(' => depth += 1,
            ']' | ')' if depth > 0 => depth -= 1,
            ',' | ')' => return index,
            _ => {}
        }
    }
    text.len()
}
