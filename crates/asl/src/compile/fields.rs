//! Reading fields of a definition object, with a diagnostic for every wrong one.

use crate::definition::{
    Dynamic, Expression, JsonataTemplate, QueryLanguage, ResultPath, Selector,
};
use crate::diagnostic::Diagnostics;
use crate::jsonata::ParseError;
use crate::path::Path;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;

/// A definition object being compiled, with its JSON-pointer location.
pub(super) struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub location: String,
}

impl<'a> Obj<'a> {
    pub fn new(map: &'a Map<String, Value>, location: String) -> Obj<'a> {
        Obj { map, location }
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The location of a child field.
    pub fn at(&self, key: &str) -> String {
        if self.location == "/" {
            format!("/{key}")
        } else {
            format!("{}/{key}", self.location)
        }
    }

    /// Reports fields that are not in `allowed`.
    pub fn allow_only(&self, diagnostics: &mut Diagnostics, allowed: &[&str]) {
        for key in self.map.keys() {
            if !allowed.contains(&key.as_str()) {
                diagnostics.schema(&self.location, format!("Field '{key}' is not supported"));
            }
        }
    }

    /// Reports every missing required field in one diagnostic, as AWS does.
    pub fn require(&self, diagnostics: &mut Diagnostics, required: &[&str]) -> bool {
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|key| !self.has(key))
            .collect();
        if !missing.is_empty() {
            diagnostics.schema(
                &self.location,
                format!("These fields are required: [{}]", missing.join(", ")),
            );
        }
        missing.is_empty()
    }

    /// Reports when more than one of `keys` is present.
    pub fn at_most_one(&self, diagnostics: &mut Diagnostics, keys: &[&str]) {
        if keys.iter().filter(|key| self.has(key)).count() > 1 {
            diagnostics.schema(
                &self.location,
                format!(
                    "There should only be one of the following fields: [{}]",
                    keys.join(", ")
                ),
            );
        }
    }

    pub fn string(&self, diagnostics: &mut Diagnostics, key: &str) -> Option<&'a str> {
        match self.get(key)? {
            Value::String(text) => Some(text),
            _ => {
                diagnostics.schema(self.at(key), format!("The field '{key}' must be a string"));
                None
            }
        }
    }

    pub fn bool(&self, diagnostics: &mut Diagnostics, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(flag) => Some(*flag),
            _ => {
                diagnostics.schema(self.at(key), format!("The field '{key}' must be a boolean"));
                None
            }
        }
    }

    /// An integer field within `[min, max]`.
    pub fn integer(
        &self,
        diagnostics: &mut Diagnostics,
        key: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let value = self.get(key)?;
        let number = integer_value(value);
        match number {
            Some(n) if n < min as i128 => {
                diagnostics.schema(self.at(key), format!("Minimum value is {min}"))
            }
            Some(n) if n > max as i128 => {
                diagnostics.schema(self.at(key), format!("Maximum value is {max}"))
            }
            Some(n) => return Some(n as u64),
            None => diagnostics.schema(
                self.at(key),
                format!("The field '{key}' must be an integer"),
            ),
        }
        None
    }

    /// A number field within `[min, max]`.
    pub fn number(
        &self,
        diagnostics: &mut Diagnostics,
        key: &str,
        min: f64,
        max: f64,
    ) -> Option<f64> {
        let value = self.get(key)?;
        match value.as_f64() {
            Some(n) if n < min => {
                diagnostics.schema(self.at(key), format!("Minimum value is {min:?}"))
            }
            Some(n) if n > max => {
                diagnostics.schema(self.at(key), format!("Maximum value is {max:?}"))
            }
            Some(n) => return Some(n),
            None => diagnostics.schema(self.at(key), format!("The field '{key}' must be a number")),
        }
        None
    }

    /// A JSONPath path field (`InputPath`, `SecondsPath`, ...) with any root allowed.
    pub fn path(&self, diagnostics: &mut Diagnostics, key: &str) -> Option<Path> {
        let text = self.string(diagnostics, key)?;
        Path::parse(text)
            .map_err(|_| {
                diagnostics.schema(
                    self.at(key),
                    format!("The value for the field '{key}' must be a valid JSONPath"),
                )
            })
            .ok()
    }

    /// A `*Path` field that must be a reference path (no `$$`, definite).
    pub fn reference_path(&self, diagnostics: &mut Diagnostics, key: &str) -> Option<Path> {
        let text = self.string(diagnostics, key)?;
        match Path::parse(text) {
            Ok(path) if path.is_definite() && *path.root() != crate::path::Root::Context => {
                Some(path)
            }
            _ => {
                diagnostics.schema(self.at(key), "Value is not a Reference Path");
                None
            }
        }
    }

    /// `InputPath`/`OutputPath`/`ItemsPath`: absent, `null` or a path.
    pub fn selector(&self, diagnostics: &mut Diagnostics, key: &str) -> Selector {
        match self.get(key) {
            None => Selector::Whole,
            Some(Value::Null) => Selector::Null,
            Some(_) => self
                .path(diagnostics, key)
                .map_or(Selector::Whole, Selector::Path),
        }
    }

    /// `ResultPath`: absent, `null` or a reference path without `$$` or variables.
    pub fn result_path(&self, diagnostics: &mut Diagnostics, key: &str) -> ResultPath {
        match self.get(key) {
            None => ResultPath::Replace,
            Some(Value::Null) => ResultPath::Discard,
            Some(Value::String(text)) => match Path::parse_reference(text) {
                Ok(path) if path.is_root_only() => ResultPath::Replace,
                Ok(path) => ResultPath::Path(path),
                Err(_) => {
                    diagnostics.schema(
                        self.at(key),
                        format!("The value for the field '{key}' must be a valid Reference Path"),
                    );
                    ResultPath::Replace
                }
            },
            Some(_) => {
                diagnostics.schema(self.at(key), format!("The field '{key}' must be a string"));
                ResultPath::Replace
            }
        }
    }

    /// A non-negative integer that JSONPath mode may read from `{key}Path` and JSONata mode
    /// may compute with `{% %}`.
    pub fn dynamic_integer(
        &self,
        diagnostics: &mut Diagnostics,
        key: &str,
        language: QueryLanguage,
        min: u64,
        max: u64,
    ) -> Option<Dynamic<u64>> {
        let path_key = format!("{key}Path");
        self.at_most_one(diagnostics, &[key, &path_key]);
        if let Some(expr) = self.jsonata_string(diagnostics, key, language) {
            return Some(Dynamic::Jsonata(expr));
        }
        if self.has(key) {
            return self
                .integer(diagnostics, key, min, max)
                .map(Dynamic::Literal);
        }
        self.reference_path(diagnostics, &path_key)
            .map(Dynamic::Path)
    }

    /// The expression of a `{% %}` string field in JSONata mode.
    pub fn jsonata_string(
        &self,
        diagnostics: &mut Diagnostics,
        key: &str,
        language: QueryLanguage,
    ) -> Option<Expression> {
        let text = self.get(key)?.as_str()?;
        let inner = jsonata_expression(text)?;
        if language != QueryLanguage::Jsonata {
            diagnostics.schema(self.at(key), format!("The field '{key}' must be a number"));
            return None;
        }
        let before = diagnostics.error_count();
        check_jsonata_strings(&Value::String(text.to_string()), &self.at(key), diagnostics);
        if diagnostics.error_count() > before {
            return None;
        }
        parse_expression(inner, &self.at(key), diagnostics)
    }

    /// A field whose value may contain `{% %}` expressions, in JSONata mode.
    pub fn jsonata_template(
        &self,
        diagnostics: &mut Diagnostics,
        key: &str,
    ) -> Option<JsonataTemplate> {
        let value = self.get(key)?;
        jsonata_template(value, &self.at(key), diagnostics)
    }
}

/// Compiles a JSONata-mode value, reporting malformed `{% %}` strings and expressions that
/// do not parse; `None` when there was any.
pub(super) fn jsonata_template(
    value: &Value,
    location: &str,
    diagnostics: &mut Diagnostics,
) -> Option<JsonataTemplate> {
    let before = diagnostics.error_count();
    check_jsonata_strings(value, location, diagnostics);
    if diagnostics.error_count() > before {
        return None;
    }
    match JsonataTemplate::compile(value) {
        Ok(template) => Some(template),
        Err((at, error)) => {
            let at = if at.is_empty() {
                location.to_string()
            } else {
                format!("{location}/{at}")
            };
            diagnostics.schema(at, invalid_expression(&error));
            None
        }
    }
}

fn parse_expression(
    inner: &str,
    location: &str,
    diagnostics: &mut Diagnostics,
) -> Option<Expression> {
    match Expression::parse(inner) {
        Ok(expression) => Some(expression),
        Err(error) => {
            diagnostics.schema(location, invalid_expression(&error));
            None
        }
    }
}

fn invalid_expression(error: &ParseError) -> String {
    format!("The value is not a valid JSONata expression: {}", error.0)
}

/// An integer in a JSON number, if it is one (`5` and `5.0` are, `5.5` is not).
pub(super) fn integer_value(value: &Value) -> Option<i128> {
    if let Some(n) = value.as_i64() {
        return Some(n.into());
    }
    if let Some(n) = value.as_u64() {
        return Some(n.into());
    }
    let n = value.as_f64()?;
    (n.fract() == 0.0 && n.abs() < 1e30).then_some(n as i128)
}

/// The expression inside a string of the form `{% expr %}`, or `None` for a plain string.
pub fn jsonata_expression(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{%")?.strip_suffix("%}")?;
    Some(inner.trim())
}

/// Reports malformed `{% %}` strings anywhere inside a JSONata-mode value.
fn check_jsonata_strings(value: &Value, location: &str, diagnostics: &mut Diagnostics) {
    match value {
        Value::String(text) => {
            let opens = text.starts_with("{%");
            let closes = text.ends_with("%}");
            if opens != closes || (opens && text.len() < 4) {
                diagnostics.schema(
                    location,
                    "The value must be a valid JSONata expression enclosed in '{%' and '%}'",
                );
            } else if opens && jsonata_expression(text).is_some_and(str::is_empty) {
                diagnostics.schema(location, "The JSONata expression must not be empty");
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check_jsonata_strings(item, &format!("{location}[{index}]"), diagnostics);
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                check_jsonata_strings(child, &format!("{location}/{key}"), diagnostics);
            }
        }
        _ => {}
    }
}

/// A state's or block's `QueryLanguage`. `machine` is the machine's language, `None` at the top.
pub(super) fn query_language(
    obj: &Obj<'_>,
    diagnostics: &mut Diagnostics,
    machine: Option<QueryLanguage>,
) -> Option<QueryLanguage> {
    let text = obj.string(diagnostics, "QueryLanguage")?;
    let language = match text {
        "JSONPath" => QueryLanguage::JsonPath,
        "JSONata" => QueryLanguage::Jsonata,
        _ => {
            diagnostics.schema(
                obj.at("QueryLanguage"),
                "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]",
            );
            return None;
        }
    };
    if machine == Some(QueryLanguage::Jsonata) && language == QueryLanguage::JsonPath {
        diagnostics.schema(
            &obj.location,
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
        );
    }
    Some(language)
}

/// A parsed JSON document and the duplicate keys serde_json would have silently merged.
pub(super) struct Parsed {
    pub value: Value,
    pub duplicates: Vec<Duplicate>,
}

/// A key that appears twice in one object.
pub(super) struct Duplicate {
    pub location: String,
    pub key: String,
}

/// Parses JSON text, keeping the last of duplicate keys (as serde_json does) but reporting them.
///
/// Locations are built only for the objects that hold a duplicate, and the report stops
/// growing once its locations and keys add up to the definition size limit: a location can be
/// as long as the text itself, so building one per value, or keeping one per duplicate without
/// a bound, would turn one 1 MiB definition into seconds of copying or gigabytes of report.
pub(super) fn parse_json(text: &str) -> Result<Parsed, String> {
    let duplicates = RefCell::new(Duplicates::default());
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Seed {
        location: &Location::Root,
        duplicates: &duplicates,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value))
    .map_err(|error| error.to_string())?;
    Ok(Parsed {
        value,
        duplicates: duplicates.into_inner().items,
    })
}

/// Where a value sits: its parent's location and the step from there.
enum Location<'a> {
    Root,
    Key(&'a Location<'a>, &'a str),
    Index(&'a Location<'a>, usize),
}

impl Location<'_> {
    /// The JSON pointer, `/` for the root.
    fn pointer(&self) -> String {
        let mut steps = Vec::new();
        let mut location = self;
        loop {
            location = match location {
                Location::Root => break,
                Location::Key(parent, key) => {
                    steps.push(crate::template::escape_pointer(key));
                    parent
                }
                Location::Index(parent, index) => {
                    steps.push(index.to_string());
                    parent
                }
            };
        }
        if steps.is_empty() {
            return "/".to_string();
        }
        steps
            .iter()
            .rev()
            .fold(String::new(), |pointer, step| pointer + "/" + step)
    }
}

#[derive(Default)]
struct Duplicates {
    items: Vec<Duplicate>,
    /// The bytes of every location and key in `items`.
    bytes: usize,
}

impl Duplicates {
    fn push(&mut self, location: &str, key: String) {
        let bytes = location.len() + key.len();
        if self.items.is_empty() || self.bytes + bytes <= crate::limits::DEFINITION_BYTES_MAX {
            self.bytes += bytes;
            self.items.push(Duplicate {
                location: location.to_string(),
                key,
            });
        }
    }
}

struct Seed<'a> {
    location: &'a Location<'a>,
    duplicates: &'a RefCell<Duplicates>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let location = Location::Index(self.location, items.len());
            let seed = Seed {
                location: &location,
                duplicates: self.duplicates,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        let mut pointer = None;
        while let Some(key) = access.next_key::<String>()? {
            let location = Location::Key(self.location, &key);
            let value = access.next_value_seed(Seed {
                location: &location,
                duplicates: self.duplicates,
            })?;
            if map.contains_key(&key) {
                let pointer: &String = pointer.get_or_insert_with(|| self.location.pointer());
                self.duplicates.borrow_mut().push(pointer, key.clone());
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}
