//! A Distributed Map's `ItemReader`: the items of a CSV, JSON or JSON Lines object or of an S3
//! inventory (`manifest.rs`) (`arn:aws:states:::s3:getObject`), or of a bucket listing
//! (`arn:aws:states:::s3:listObjectsV2`), read from either [`Buckets`] backend.
//!
//! Items are streamed: [`read`] hands each to a sink as soon as it is parsed, and the object
//! is read as it arrives, so memory holds one item (at most [`ITEM_BYTES_MAX`]) and a read
//! buffer, whatever the object's size. A caller that wants items in pages reads again with
//! `skip`, or stops the sink.
//!
//! Parsing follows the ItemReader page: CSV fields are strings; a quoted field may hold
//! delimiters and newlines; `""` keeps a quote; a backslash escapes a backslash, a quote or
//! the delimiter, and before any other character it is dropped; a short row gets empty
//! strings, a long row's extra fields are skipped. A JSON object is an array or an object
//! (its key-value pairs), or holds one at `ItemsPointer`. `listObjectsV2` items are
//! `{Etag, Key, LastModified (epoch seconds), Size, StorageClass}`.
//!
//! Every failure is `States.ItemReaderFailed` (the cause texts are steppe's: AWS's own are
//! not documented).

use super::{Buckets, Error, List, LIST_KEYS_MAX};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Map, Value};
use std::cell::Cell;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

/// The error name of every reader failure.
pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";

/// The largest item read from an object, bytes: "Step Functions supports reading an item of
/// up to 8 MB from a text delimited file, JSON, or JSON Lines file if you then apply the
/// optional ItemSelector field to reduce the item's size" (ItemReader page). The 256 KiB limit
/// of a child's input applies after `ItemSelector`, in the engine.
pub const ITEM_BYTES_MAX: u64 = 8 * 1024 * 1024;

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One object's items.
    Object {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// How its items are written.
        format: Format,
    },
    /// The keys under a prefix, one item each.
    Listing {
        /// The bucket.
        bucket: String,
        /// Only keys that start with this.
        prefix: String,
    },
}

/// How an object's items are written (`ReaderConfig.InputType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Delimited text.
    Csv {
        /// `COMMA`, `PIPE`, `SEMICOLON`, `SPACE` or `TAB`, as its byte.
        delimiter: u8,
        /// `GIVEN` headers; `None` for `FIRST_ROW`.
        headers: Option<Vec<String>>,
    },
    /// A JSON array or object, or one at a JSON Pointer (`ItemsPointer`, `""` for the top).
    Json {
        /// The JSON Pointer's tokens, unescaped.
        pointer: Vec<String>,
    },
    /// One JSON value per line.
    Jsonl,
    /// An S3 inventory's `manifest.json`, whose data files' rows are the items (`InputType`
    /// `MANIFEST`, or `ManifestType` `S3_INVENTORY`; see `manifest.rs`).
    Manifest,
}

/// One item read.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The key, for an item of a JSON object's key-value pairs.
    pub key: Option<String>,
    /// The value.
    pub value: Value,
    /// Where the next item starts: a CSV, JSON or JSONL object's byte offset (and row), so a
    /// later page resumes there instead of reading the object again from its start.
    pub next: Option<Position>,
}

/// A place in a CSV or JSONL object, or in an S3 inventory's data files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// An inventory's data file, by its index in the manifest (0 for other objects).
    pub file: u64,
    /// Bytes from the object's start.
    pub offset: u64,
    /// Rows (or lines) read so far, the header row included.
    pub row: u64,
}

/// Where a page starts reading, from the previous page's last item: a position in an
/// object (with the CSV header row it read), or the last key listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// A CSV or JSONL object's position.
    pub position: Option<Position>,
    /// The CSV headers read from the first row.
    pub headers: Option<Vec<String>>,
    /// A listing's last key.
    pub start_after: Option<String>,
    /// The JSON items are an object's key-value pairs (resumed after `position`).
    pub pairs: bool,
}

impl Cursor {
    fn to_json(&self) -> Value {
        let mut cursor = Map::new();
        if let Some(position) = self.position {
            cursor.insert("Offset".to_string(), json!(position.offset));
            cursor.insert("Row".to_string(), json!(position.row));
            if position.file > 0 {
                cursor.insert("File".to_string(), json!(position.file));
            }
        }
        if let Some(headers) = &self.headers {
            cursor.insert("Headers".to_string(), json!(headers));
        }
        if let Some(key) = &self.start_after {
            cursor.insert("StartAfter".to_string(), json!(key));
        }
        if self.pairs {
            cursor.insert("Pairs".to_string(), json!(true));
        }
        Value::Object(cursor)
    }

    fn from_json(value: &Value) -> Cursor {
        let position = value["Offset"].as_u64().map(|offset| Position {
            file: value["File"].as_u64().unwrap_or(0),
            offset,
            row: value["Row"].as_u64().unwrap_or(0),
        });
        let headers = value["Headers"].as_array().map(|headers| {
            headers
                .iter()
                .map(|header| header.as_str().unwrap_or_default().to_string())
                .collect()
        });
        Cursor {
            position,
            headers,
            start_after: value["StartAfter"].as_str().map(str::to_string),
            pairs: value["Pairs"].as_bool().unwrap_or(false),
        }
    }
}

/// A reader failure: `States.ItemReaderFailed` with this cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Why.
    pub cause: String,
}

/// The delimiter byte of a `CSVDelimiter` value.
pub fn delimiter(name: &str) -> Option<u8> {
    Some(match name {
        "COMMA" => b',',
        "PIPE" => b'|',
        "SEMICOLON" => b';',
        "SPACE" => b' ',
        "TAB" => b'\t',
        _ => return None,
    })
}

/// `/a/b~1c` → `["a", "b/c"]`; `None` when it is not a JSON Pointer.
pub fn pointer_tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|token| token.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// Reads `source`'s items, skipping the first `skip`, and hands each to `sink` until it
/// answers `false` or the items end. Answers how many items `sink` received.
pub fn read(
    buckets: &dyn Buckets,
    source: &Source,
    skip: u64,
    sink: &mut dyn FnMut(Item) -> bool,
) -> Result<u64, Failure> {
    read_from(buckets, source, &Cursor::default(), skip, sink).map(|(given, _)| given)
}

/// [`read`] from `cursor` (then `skip` counts from there); answers how many items `sink`
/// received and the CSV headers read from the first row, if any.
pub fn read_from(
    buckets: &dyn Buckets,
    source: &Source,
    cursor: &Cursor,
    skip: u64,
    sink: &mut dyn FnMut(Item) -> bool,
) -> Result<(u64, Option<Vec<String>>), Failure> {
    let mut seen = 0u64;
    let mut given = 0u64;
    let mut offer = |item: Item| -> bool {
        seen += 1;
        if seen <= skip {
            return true;
        }
        given += 1;
        sink(item)
    };
    let mut headers_read = None;
    match source {
        Source::Listing { bucket, prefix } => {
            let start_after = cursor.start_after.clone();
            list(buckets, bucket, prefix, start_after, &mut offer)?
        }
        Source::Object {
            bucket,
            key,
            format,
        } => {
            let position = match format {
                Format::Manifest => {
                    let position = cursor.position.unwrap_or_default();
                    super::manifest::read(buckets, bucket, key, position, &mut offer)?;
                    return Ok((given, None));
                }
                _ => cursor.position.unwrap_or_default(),
            };
            let object = buckets
                .get_object_from(bucket, key, position.offset)
                .map_err(|error| s3_failure(&error, bucket, key))?;
            match format {
                Format::Csv { delimiter, headers } => {
                    let headers = headers.clone().or_else(|| cursor.headers.clone());
                    headers_read = csv(object.body, *delimiter, headers, position, &mut offer)?;
                }
                Format::Json { .. } if cursor.position.is_some() => {
                    json_resume(object.body, position.offset, cursor.pairs, &mut offer)?
                }
                Format::Json { pointer } => json_items(object.body, pointer, &mut offer)?,
                Format::Jsonl => jsonl(object.body, position, &mut offer)?,
                Format::Manifest => unreachable!("a manifest is read above"),
            }
        }
    }
    Ok((given, headers_read))
}

/// A page holds at most this many items (and at least one)...
pub const PAGE_ITEMS_MAX: usize = 1000;
/// ... and stops once its items' JSON passes this many bytes.
pub const PAGE_BYTES_MAX: usize = 1024 * 1024;

/// Carries out the engine's request for a page of items (a task whose resource is
/// `steppe_engine::ITEM_READER_RESOURCE`): `{"Resource", "ReaderConfig", "Parameters",
/// "MaxItems", "Skip"}` in, `{"Items", "Keys"?, "More"}` out, or `States.ItemReaderFailed`.
pub fn read_page(buckets: Option<&dyn Buckets>, request: &Value) -> crate::TaskOutcome {
    let failed = |cause: String| crate::failed(ITEM_READER_FAILED, cause);
    let source = match source_of(request) {
        Ok(source) => source,
        Err(cause) => return failed(cause),
    };
    let Some(buckets) = buckets else {
        return failed(
            "no S3 is configured for the ItemReader (--s3-dir DIR, --aws-endpoint URL, or --service-endpoint s3=URL)"
                .to_string(),
        );
    };
    let skip = request["Skip"].as_u64().unwrap_or(0);
    let max_items = request["MaxItems"].as_u64().unwrap_or(0);
    let wanted = match max_items {
        0 => PAGE_ITEMS_MAX as u64,
        max => max.saturating_sub(skip).min(PAGE_ITEMS_MAX as u64),
    };
    if wanted == 0 {
        return crate::TaskOutcome::Succeeded(json!({"Items": [], "More": false}));
    }
    // The previous page's cursor says where this one starts (without one, `Skip` does).
    let mut cursor = Cursor::from_json(&request["Cursor"]);
    let resumes = cursor != Cursor::default();
    let (mut items, mut keys, mut bytes, mut stopped) = (Vec::new(), Vec::new(), 0, false);
    let (mut last_position, mut last_key) = (None, None);
    let mut sink = |item: Item| {
        bytes += steppe_asl::size::json_bytes(&item.value);
        last_position = item.next;
        last_key = item.value["Key"].as_str().map(str::to_string);
        items.push(item.value);
        if let Some(key) = item.key {
            keys.push(Value::String(key));
        }
        stopped = items.len() as u64 >= wanted || bytes >= PAGE_BYTES_MAX;
        !stopped
    };
    let skipped = if resumes { 0 } else { skip };
    let headers = match read_from(buckets, &source, &cursor, skipped, &mut sink) {
        Ok((_, headers)) => headers,
        Err(failure) => return failed(failure.cause),
    };
    let reached_max = max_items > 0 && skip + items.len() as u64 >= max_items;
    let more = stopped && !reached_max;
    let mut page = json!({"Items": items, "More": more});
    if !keys.is_empty() {
        page["Keys"] = Value::Array(keys);
    }
    if more {
        cursor.headers = headers.or(cursor.headers);
        match &source {
            Source::Listing { .. } => cursor.start_after = last_key,
            _ => cursor.position = last_position,
        }
        cursor.pairs = page.get("Keys").is_some();
        if cursor.position.is_some() || cursor.start_after.is_some() {
            page["Cursor"] = cursor.to_json();
        }
    }
    crate::TaskOutcome::Succeeded(page)
}

/// The source a page request names, or why it cannot be read.
fn source_of(request: &Value) -> Result<Source, String> {
    let resource = request["Resource"].as_str().unwrap_or_default();
    let action = resource.rsplit(":s3:").next().unwrap_or_default();
    let parameters = request["Parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let config = &request["ReaderConfig"];
    let allowed: &[&str] = match action {
        "getObject" => &["Bucket", "Key"],
        _ => &["Bucket", "Prefix"],
    };
    if let Some(name) = parameters
        .keys()
        .find(|name| !allowed.contains(&name.as_str()))
    {
        return Err(format!(
            "steppe does not support the parameter '{name}' of the ItemReader's {resource} yet"
        ));
    }
    let text = |name: &str| -> Result<String, String> {
        match parameters.get(name) {
            Some(Value::String(text)) => Ok(text.clone()),
            _ => Err(format!(
                "The ItemReader's parameter '{name}' must be a string"
            )),
        }
    };
    let bucket = text("Bucket")?;
    if action != "getObject" {
        let prefix = match parameters.get("Prefix") {
            None => String::new(),
            Some(_) => text("Prefix")?,
        };
        return Ok(Source::Listing { bucket, prefix });
    }
    let key = text("Key")?;
    let inventory = config["ManifestType"].as_str() == Some("S3_INVENTORY");
    let format = match config["InputType"].as_str() {
        None if inventory => Format::Manifest,
        Some("MANIFEST") => Format::Manifest,
        Some("CSV") => {
            let delimiter = config["CSVDelimiter"].as_str().unwrap_or("COMMA");
            let headers = match config["CSVHeaderLocation"].as_str() {
                Some("GIVEN") => Some(
                    config["CSVHeaders"]
                        .as_array()
                        .map(|headers| {
                            headers
                                .iter()
                                .map(|header| header.as_str().unwrap_or_default().to_string())
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                _ => None,
            };
            Format::Csv {
                delimiter: self::delimiter(delimiter).unwrap_or(b','),
                headers,
            }
        }
        Some("JSON") => Format::Json {
            pointer: pointer_tokens(config["ItemsPointer"].as_str().unwrap_or_default())
                .unwrap_or_default(),
        },
        Some("JSONL") => Format::Jsonl,
        other => {
            return Err(format!(
                "steppe does not read the ItemReader's InputType {} yet",
                other.unwrap_or("(none)")
            ))
        }
    };
    Ok(Source::Object {
        bucket,
        key,
        format,
    })
}

pub(super) fn s3_failure(error: &Error, bucket: &str, key: &str) -> Failure {
    Failure {
        cause: format!("Unable to read the object '{key}' of the bucket '{bucket}': {error}"),
    }
}

fn list(
    buckets: &dyn Buckets,
    bucket: &str,
    prefix: &str,
    start_after: Option<String>,
    offer: &mut dyn FnMut(Item) -> bool,
) -> Result<(), Failure> {
    let mut list = List {
        prefix: prefix.to_string(),
        max_keys: LIST_KEYS_MAX,
        start_after,
        ..List::default()
    };
    loop {
        let page = buckets
            .list_objects(bucket, &list)
            .map_err(|error| Failure {
                cause: format!("Unable to list the bucket '{bucket}': {error}"),
            })?;
        for info in page.contents {
            let last_modified = info
                .last_modified
                .as_deref()
                .and_then(steppe_asl::timestamp::parse_rfc3339)
                .map_or(Value::Null, |millis| json!(millis.div_euclid(1000)));
            let value = json!({
                "Etag": info.etag,
                "Key": info.key,
                "LastModified": last_modified,
                "Size": info.size,
                "StorageClass": info.storage_class,
            });
            let item = Item {
                key: None,
                value,
                next: None,
            };
            if !offer(item) {
                return Ok(());
            }
        }
        match page.next_continuation_token {
            Some(token) => list.continuation_token = Some(token),
            None => return Ok(()),
        }
    }
}

/// Reads delimited text record by record.
/// Answers the headers it read from the first row, if it read them.
pub(super) fn csv(
    body: Box<dyn Read + Send>,
    delimiter: u8,
    headers: Option<Vec<String>>,
    start: Position,
    offer: &mut dyn FnMut(Item) -> bool,
) -> Result<Option<Vec<String>>, Failure> {
    let mut records = Records {
        reader: BufReader::new(body),
        delimiter,
        row: start.row,
        offset: start.offset,
    };
    let (headers, read) = match headers {
        Some(headers) => (headers, false),
        None => match records.next()? {
            Some(header) => (header, true),
            None => return Ok(None),
        },
    };
    while let Some(fields) = records.next()? {
        let mut item = Map::new();
        let mut fields = fields.into_iter();
        for header in &headers {
            item.insert(
                header.clone(),
                Value::String(fields.next().unwrap_or_default()),
            );
        }
        let next = Position {
            file: 0,
            offset: records.offset,
            row: records.row,
        };
        if !offer(Item {
            key: None,
            value: Value::Object(item),
            next: Some(next),
        }) {
            break;
        }
    }
    Ok(read.then_some(headers))
}

/// Delimited records, parsed byte by byte from a buffered stream.
struct Records<R> {
    reader: R,
    delimiter: u8,
    /// The record number (from 1), for failure causes.
    row: u64,
    /// Bytes consumed from the object's start.
    offset: u64,
}

impl<R: BufRead> Records<R> {
    /// The next record's fields; `None` at the end. Empty lines are skipped.
    fn next(&mut self) -> Result<Option<Vec<String>>, Failure> {
        loop {
            let Some(record) = self.record()? else {
                return Ok(None);
            };
            if !(record.len() == 1 && record[0].is_empty()) {
                return Ok(Some(record));
            }
        }
    }

    fn record(&mut self) -> Result<Option<Vec<String>>, Failure> {
        self.row += 1;
        let row = self.row;
        let too_long = || Failure {
            cause: format!("The row {row} of the CSV object is longer than {ITEM_BYTES_MAX} bytes"),
        };
        let (mut fields, mut field) = (Vec::new(), Vec::new());
        let (mut quoted, mut started, mut bytes) = (false, false, 0u64);
        loop {
            let byte = match self.byte()? {
                Some(byte) => byte,
                None if !started => return Ok(None),
                None => break,
            };
            started = true;
            bytes += 1;
            if bytes > ITEM_BYTES_MAX {
                return Err(too_long());
            }
            match byte {
                b'\\' => match self.byte()? {
                    Some(next) if next == b'\\' || next == b'"' || next == self.delimiter => {
                        field.push(next)
                    }
                    // "A backslash followed by any other character is silently removed."
                    Some(b'\n') if !quoted => break,
                    Some(next) => field.push(next),
                    None => break,
                },
                b'"' if quoted => {
                    if self.peek()? == Some(b'"') {
                        self.byte()?;
                        field.push(b'"');
                    } else {
                        quoted = false;
                    }
                }
                b'"' => quoted = true,
                b'\n' if !quoted => break,
                b'\r' if !quoted && self.peek()? == Some(b'\n') => {}
                byte if byte == self.delimiter && !quoted => {
                    fields.push(String::from_utf8_lossy(&field).into_owned());
                    field.clear();
                }
                byte => field.push(byte),
            }
        }
        fields.push(String::from_utf8_lossy(&field).into_owned());
        Ok(Some(fields))
    }

    fn byte(&mut self) -> Result<Option<u8>, Failure> {
        let next = self.peek()?;
        if next.is_some() {
            self.reader.consume(1);
            self.offset += 1;
        }
        Ok(next)
    }

    fn peek(&mut self) -> Result<Option<u8>, Failure> {
        let buffer = self.reader.fill_buf().map_err(|error| Failure {
            cause: format!("Unable to read the object: {error}"),
        })?;
        Ok(buffer.first().copied())
    }
}

/// Reads one JSON value per line.
fn jsonl(
    body: Box<dyn Read + Send>,
    start: Position,
    offer: &mut dyn FnMut(Item) -> bool,
) -> Result<(), Failure> {
    let mut reader = BufReader::new(body);
    let mut line = Vec::new();
    let (mut number, mut offset) = (start.row, start.offset);
    loop {
        line.clear();
        number += 1;
        let read = (&mut reader)
            .take(ITEM_BYTES_MAX + 1)
            .read_until(b'\n', &mut line)
            .map_err(|error| Failure {
                cause: format!("Unable to read the object: {error}"),
            })?;
        if read == 0 {
            return Ok(());
        }
        offset += read as u64;
        if line.len() as u64 > ITEM_BYTES_MAX {
            return Err(Failure {
                cause: format!(
                    "The line {number} of the JSONL object is longer than {ITEM_BYTES_MAX} bytes"
                ),
            });
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = serde_json::from_slice(&line).map_err(|error| Failure {
            cause: format!("The line {number} of the JSONL object is not JSON: {error}"),
        })?;
        let next = Position {
            file: 0,
            offset,
            row: number,
        };
        if !offer(Item {
            key: None,
            value,
            next: Some(next),
        }) {
            return Ok(());
        }
    }
}

/// Why a streamed JSON read stopped early.
const STOPPED: &str = "steppe: the sink has all it wants";

/// Reads a JSON array's elements or an object's key-value pairs, at `pointer`, one at a
/// time: only the item being read is held.
fn json_items(
    body: Box<dyn Read + Send>,
    pointer: &[String],
    offer: &mut dyn FnMut(Item) -> bool,
) -> Result<(), Failure> {
    let since_item = Rc::new(Cell::new(0u64));
    let consumed = Rc::new(Cell::new(0u64));
    // serde_json takes its bytes one at a time, so counting them under its reader says how
    // far it read: where the next item starts, for a later page to resume at.
    let counted = Counted {
        inner: BufReader::new(body),
        since_item: since_item.clone(),
        consumed: consumed.clone(),
    };
    let mut deserializer = serde_json::Deserializer::from_reader(counted);
    let walk = Walk {
        pointer,
        offer,
        since_item: &since_item,
        consumed: &consumed,
        found: false,
    };
    match walk.deserialize(&mut deserializer) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Failure {
                cause: format!(
                    "The ItemsPointer '{}' selects nothing in the JSON object",
                    pointer
                        .iter()
                        .map(|token| format!("/{token}"))
                        .collect::<String>()
                ),
            })
        }
        Err(error) if error.to_string().starts_with(STOPPED) => return Ok(()),
        Err(error) => {
            return Err(Failure {
                cause: format!("The JSON object cannot be read: {error}"),
            })
        }
    }
    // Stopped or not, anything after the value must be whitespace.
    deserializer.end().map_err(|error| Failure {
        cause: format!("The JSON object cannot be read: {error}"),
    })
}

/// Reads on from `offset`, where an earlier page's last item of a JSON array (or, with
/// `pairs`, an object's key-value pairs) ended: a `,` and the next item each, until the
/// closing bracket. Each item's bytes are found by a scan that tracks strings and nesting,
/// then parsed alone, so only the item being read is held and the object before `offset` is
/// never read again.
fn json_resume(
    body: Box<dyn Read + Send>,
    offset: u64,
    pairs: bool,
    offer: &mut dyn FnMut(Item) -> bool,
) -> Result<(), Failure> {
    let mut bytes = JsonBytes {
        reader: BufReader::new(body),
        offset,
    };
    let (end, kind) = if pairs {
        (b'}', "object")
    } else {
        (b']', "array")
    };
    let malformed = |what: &str, offset: u64| Failure {
        cause: format!("The JSON object cannot be read: {what} at byte {offset}"),
    };
    let mut text = Vec::new();
    loop {
        match bytes.next_token()? {
            Some(b',') => {}
            Some(byte) if byte == end => return Ok(()),
            _ => {
                return Err(malformed(
                    &format!("the {kind} does not go on"),
                    bytes.offset,
                ))
            }
        }
        let key = match pairs {
            true => {
                text.clear();
                bytes.value(&mut text)?;
                let key = serde_json::from_slice::<String>(&text)
                    .map_err(|_| malformed("a key is not a string", bytes.offset))?;
                if bytes.next_token()? != Some(b':') {
                    return Err(malformed("a key has no value", bytes.offset));
                }
                Some(key)
            }
            false => None,
        };
        text.clear();
        bytes.value(&mut text)?;
        let value: Value = serde_json::from_slice(&text)
            .map_err(|error| malformed(&error.to_string(), bytes.offset))?;
        let next = Position {
            file: 0,
            offset: bytes.offset,
            row: 0,
        };
        if !offer(Item {
            key,
            value,
            next: Some(next),
        }) {
            return Ok(());
        }
    }
}

/// A JSON text's bytes from an offset, with the offset of the next one.
struct JsonBytes {
    reader: BufReader<Box<dyn Read + Send>>,
    offset: u64,
}

impl JsonBytes {
    fn peek(&mut self) -> Result<Option<u8>, Failure> {
        let buffer = self.reader.fill_buf().map_err(|error| Failure {
            cause: format!("Unable to read the object: {error}"),
        })?;
        Ok(buffer.first().copied())
    }

    fn take(&mut self) -> Result<Option<u8>, Failure> {
        let byte = self.peek()?;
        if byte.is_some() {
            self.reader.consume(1);
            self.offset += 1;
        }
        Ok(byte)
    }

    /// The next byte that is not whitespace, taken.
    fn next_token(&mut self) -> Result<Option<u8>, Failure> {
        while self.peek()?.is_some_and(|byte| byte.is_ascii_whitespace()) {
            self.take()?;
        }
        self.take()
    }

    /// Appends the next value's bytes to `text`: a string or an array or object (to its
    /// closing quote or bracket), or a number or literal (to the byte before the one that
    /// ends it). Fails past [`ITEM_BYTES_MAX`].
    fn value(&mut self, text: &mut Vec<u8>) -> Result<(), Failure> {
        let first = self.next_token()?.ok_or_else(|| Failure {
            cause: "The JSON object cannot be read: it ends where a value should be".to_string(),
        })?;
        text.push(first);
        let (mut depth, mut in_string, mut escaped) = (0u64, first == b'"', false);
        if first == b'[' || first == b'{' {
            depth = 1;
        }
        let scalar = depth == 0 && !in_string;
        loop {
            if text.len() as u64 > ITEM_BYTES_MAX {
                return Err(Failure {
                    cause: format!("an item is longer than {ITEM_BYTES_MAX} bytes"),
                });
            }
            if depth == 0 && !in_string {
                if !scalar {
                    return Ok(());
                }
                // A number or literal ends before whitespace, a separator or a bracket.
                match self.peek()? {
                    Some(byte) if !byte.is_ascii_whitespace() && !b",]}:".contains(&byte) => {}
                    _ => return Ok(()),
                }
            }
            let Some(byte) = self.take()? else {
                return Err(Failure {
                    cause: "The JSON object cannot be read: it ends inside a value".to_string(),
                });
            };
            text.push(byte);
            match (in_string, escaped, byte) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') => in_string = false,
                (true, false, _) => {}
                (false, _, b'"') => in_string = true,
                (false, _, b'[' | b'{') => depth += 1,
                (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
                (false, _, _) => {}
            }
        }
    }
}

/// Counts the bytes read since the last item, and fails past [`ITEM_BYTES_MAX`].
struct Counted {
    inner: BufReader<Box<dyn Read + Send>>,
    since_item: Rc<Cell<u64>>,
    /// Bytes read in all.
    consumed: Rc<Cell<u64>>,
}

impl Read for Counted {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.consumed.set(self.consumed.get() + n as u64);
        let total = self.since_item.get() + n as u64;
        self.since_item.set(total);
        if total > ITEM_BYTES_MAX + 64 * 1024 {
            return Err(std::io::Error::other(format!(
                "an item is longer than {ITEM_BYTES_MAX} bytes"
            )));
        }
        Ok(n)
    }
}

/// Walks down `pointer`, then offers the array's elements or the object's pairs. Answers
/// whether the pointer selected an array or an object.
struct Walk<'a, 'b> {
    pointer: &'a [String],
    offer: &'a mut dyn FnMut(Item) -> bool,
    since_item: &'b Cell<u64>,
    consumed: &'b Cell<u64>,
    found: bool,
}

impl Walk<'_, '_> {
    /// Where the item just read ends: the bytes read, less the one serde_json looks ahead
    /// at to see where a number ends (every other value ends at its own last byte).
    fn next(&self, value: &Value) -> Option<Position> {
        let offset = self.consumed.get() - u64::from(value.is_number());
        Some(Position {
            file: 0,
            offset,
            row: 0,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array or object")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<bool, A::Error> {
        if let Some((first, rest)) = self.pointer.split_first() {
            let wanted: Option<usize> = first.parse().ok();
            let mut index = 0;
            loop {
                if Some(index) == wanted {
                    let inner = Walk {
                        pointer: rest,
                        offer: &mut *self.offer,
                        since_item: self.since_item,
                        consumed: self.consumed,
                        found: false,
                    };
                    match seq.next_element_seed(inner)? {
                        Some(found) => self.found = found,
                        None => return Ok(self.found),
                    }
                } else if seq.next_element::<IgnoredAny>()?.is_none() {
                    return Ok(self.found);
                }
                index += 1;
            }
        }
        while let Some(value) = seq.next_element::<Value>()? {
            self.since_item.set(0);
            let next = self.next(&value);
            if !(self.offer)(Item {
                key: None,
                value,
                next,
            }) {
                return Err(de::Error::custom(STOPPED));
            }
        }
        Ok(true)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<bool, A::Error> {
        if let Some((first, rest)) = self.pointer.split_first() {
            while let Some(key) = map.next_key::<String>()? {
                if key == *first && !self.found {
                    let inner = Walk {
                        pointer: rest,
                        offer: &mut *self.offer,
                        since_item: self.since_item,
                        consumed: self.consumed,
                        found: false,
                    };
                    self.found = map.next_value_seed(inner)?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            return Ok(self.found);
        }
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            self.since_item.set(0);
            let next = self.next(&value);
            if !(self.offer)(Item {
                key: Some(key),
                value,
                next,
            }) {
                return Err(de::Error::custom(STOPPED));
            }
        }
        Ok(true)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::Folders;

    fn items(
        source: &Source,
        folders: &Folders,
        skip: u64,
        take: usize,
    ) -> Result<Vec<Item>, Failure> {
        let mut items = Vec::new();
        read(folders, source, skip, &mut |item| {
            items.push(item);
            items.len() < take
        })?;
        Ok(items)
    }

    fn object(format: Format) -> Source {
        Source::Object {
            bucket: "b".to_string(),
            key: "k".to_string(),
            format,
        }
    }

    fn folders_with(body: &str) -> (tempfile::TempDir, Folders) {
        let dir = tempfile::tempdir().unwrap();
        let folders = Folders::new(dir.path());
        folders.create_bucket("b").unwrap();
        folders.put_object("b", "k", body.as_bytes(), None).unwrap();
        (dir, folders)
    }

    fn values(items: Vec<Item>) -> Vec<Value> {
        items.into_iter().map(|item| item.value).collect()
    }

    #[test]
    fn csv_follows_the_documented_rules() {
        let text = "a,b,c\r\n1,\"x, \"\"y\"\"\nz\",3\n\n4,5\n6,7,8,9\nC:\\\\P\\,q,\\n,\\\"\n";
        let (_dir, folders) = folders_with(text);
        let csv = Format::Csv {
            delimiter: b',',
            headers: None,
        };
        assert_eq!(
            values(items(&object(csv), &folders, 0, 100).unwrap()),
            [
                json!({"a": "1", "b": "x, \"y\"\nz", "c": "3"}),
                json!({"a": "4", "b": "5", "c": ""}),
                json!({"a": "6", "b": "7", "c": "8"}),
                json!({"a": "C:\\P,q", "b": "n", "c": "\""}),
            ]
        );
        let given = Format::Csv {
            delimiter: b'|',
            headers: Some(vec!["h".to_string()]),
        };
        let (_dir, folders) = folders_with("x|y\nz\n");
        assert_eq!(
            values(items(&object(given), &folders, 1, 100).unwrap()),
            [json!({"h": "z"})]
        );
    }

    #[test]
    fn json_items_stream_from_arrays_objects_and_pointers() {
        let (_dir, folders) = folders_with(
            r#"{"skip": [1, {"a": 2}], "data": {"list": [{"n": 1}, {"n": 2}, {"n": 3}]}}"#,
        );
        let pointer = |text: &str| Format::Json {
            pointer: pointer_tokens(text).unwrap(),
        };
        assert_eq!(
            values(items(&object(pointer("/data/list")), &folders, 1, 1).unwrap()),
            [json!({"n": 2})]
        );
        let pairs = items(&object(pointer("/data")), &folders, 0, 10).unwrap();
        assert_eq!(pairs[0].key.as_deref(), Some("list"));
        assert!(items(&object(pointer("/nothing")), &folders, 0, 10)
            .unwrap_err()
            .cause
            .contains("selects nothing"));
        assert_eq!(
            values(items(&object(pointer("/skip/1")), &folders, 0, 10).unwrap()),
            [json!(2)]
        );
        let (_dir, folders) = folders_with("[1, 2, oops]");
        assert!(items(&object(pointer("")), &folders, 0, 10)
            .unwrap_err()
            .cause
            .starts_with("The JSON object cannot be read"));
    }

    #[test]
    fn jsonl_reads_one_value_per_line() {
        let (_dir, folders) = folders_with("{\"a\":1}\n\n[2]\n3");
        assert_eq!(
            values(items(&object(Format::Jsonl), &folders, 0, 10).unwrap()),
            [json!({"a": 1}), json!([2]), json!(3)]
        );
        let (_dir, folders) = folders_with("{\"a\":1}\nnope\n");
        assert!(items(&object(Format::Jsonl), &folders, 0, 10)
            .unwrap_err()
            .cause
            .starts_with("The line 2 of the JSONL object is not JSON"));
    }

    #[test]
    fn listings_and_missing_objects() {
        let (_dir, folders) = folders_with("x");
        folders.put_object("b", "p/one", b"12", None).unwrap();
        let listing = Source::Listing {
            bucket: "b".to_string(),
            prefix: "p/".to_string(),
        };
        let listed = values(items(&listing, &folders, 0, 10).unwrap());
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["Key"], json!("p/one"));
        assert_eq!(listed[0]["Size"], json!(2));
        assert!(listed[0]["LastModified"].is_i64());
        assert!(listed[0]["Etag"].as_str().unwrap().starts_with('"'));
        let missing = Source::Object {
            bucket: "b".to_string(),
            key: "none".to_string(),
            format: Format::Jsonl,
        };
        let failure = items(&missing, &folders, 0, 10).unwrap_err();
        assert!(
            failure.cause.contains("The specified key does not exist."),
            "{}",
            failure.cause
        );
    }

    /// Reads every page of `config`'s object as the engine asks for them.
    fn pages(folders: &Folders, config: Value) -> Vec<Value> {
        let mut request = json!({"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": config, "Parameters": {"Bucket": "b", "Key": "k"}, "MaxItems": 0});
        let mut items = Vec::new();
        loop {
            request["Skip"] = json!(items.len());
            let crate::TaskOutcome::Succeeded(mut page) = read_page(Some(folders), &request) else {
                panic!("a page")
            };
            items.extend(page["Items"].as_array().unwrap().iter().cloned());
            if page["More"] != json!(true) {
                return items;
            }
            // A later page resumes where the last one ended, not from the object's start.
            let cursor = page["Cursor"].take();
            assert!(cursor["Offset"].as_u64().unwrap() > 0, "{cursor}");
            request["Cursor"] = cursor;
        }
    }

    #[test]
    fn pages_resume_at_the_previous_pages_byte_offset() {
        let rows: String = (0..2500).map(|n| format!("{n},\"r\n{n}\"\n")).collect();
        let (_dir, folders) = folders_with(&format!("n,text\n{rows}"));
        let items = pages(
            &folders,
            json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}),
        );
        assert_eq!(items.len(), 2500);
        assert_eq!(items[1234], json!({"n": "1234", "text": "r\n1234"}));
        assert_eq!(items[2499]["n"], json!("2499"));
        let lines: String = (0..2100).map(|n| format!("{{\"n\":{n}}}\n")).collect();
        let (_dir, folders) = folders_with(&lines);
        let items = pages(&folders, json!({"InputType": "JSONL"}));
        let expected: Vec<Value> = (0..2100).map(|n| json!({"n": n})).collect();
        assert_eq!(items, expected);
    }

    /// Folders whose objects count the bytes their bodies give.
    #[derive(Debug)]
    struct Counting {
        folders: Folders,
        read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    }

    struct CountingBody {
        inner: Box<dyn Read + Send>,
        read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    }

    impl Read for CountingBody {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buffer)?;
            self.read
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            Ok(n)
        }
    }

    impl Counting {
        fn count(&self, mut object: super::super::Object) -> super::super::Object {
            object.body = Box::new(CountingBody {
                inner: object.body,
                read: self.read.clone(),
            });
            object
        }
    }

    impl Buckets for Counting {
        fn get_object(&self, bucket: &str, key: &str) -> Result<super::super::Object, Error> {
            self.folders.get_object(bucket, key).map(|o| self.count(o))
        }
        fn get_object_from(
            &self,
            bucket: &str,
            key: &str,
            offset: u64,
        ) -> Result<super::super::Object, Error> {
            let object = self.folders.get_object_from(bucket, key, offset)?;
            Ok(self.count(object))
        }
        fn head_object(&self, bucket: &str, key: &str) -> Result<super::super::ObjectInfo, Error> {
            self.folders.head_object(bucket, key)
        }
        fn put_object(
            &self,
            bucket: &str,
            key: &str,
            body: &[u8],
            content_type: Option<&str>,
        ) -> Result<super::super::ObjectInfo, Error> {
            self.folders.put_object(bucket, key, body, content_type)
        }
        fn create_multipart_upload(&self, bucket: &str, key: &str) -> Result<String, Error> {
            self.folders.create_multipart_upload(bucket, key)
        }
        fn upload_part(
            &self,
            bucket: &str,
            key: &str,
            upload_id: &str,
            part_number: u32,
            body: &[u8],
        ) -> Result<String, Error> {
            self.folders
                .upload_part(bucket, key, upload_id, part_number, body)
        }
        fn complete_multipart_upload(
            &self,
            bucket: &str,
            key: &str,
            upload_id: &str,
            parts: &[(u32, String)],
        ) -> Result<(), Error> {
            self.folders
                .complete_multipart_upload(bucket, key, upload_id, parts)
        }
        fn copy_object(
            &self,
            bucket: &str,
            key: &str,
            source_bucket: &str,
            source_key: &str,
        ) -> Result<super::super::ObjectInfo, Error> {
            self.folders
                .copy_object(bucket, key, source_bucket, source_key)
        }
        fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
            self.folders.delete_object(bucket, key)
        }
        fn list_objects(&self, bucket: &str, list: &List) -> Result<super::super::ListPage, Error> {
            self.folders.list_objects(bucket, list)
        }
        fn create_bucket(&self, bucket: &str) -> Result<(), Error> {
            self.folders.create_bucket(bucket)
        }
        fn list_buckets(&self) -> Result<Vec<super::super::BucketInfo>, Error> {
            self.folders.list_buckets()
        }
    }

    #[test]
    fn json_pages_resume_where_the_last_one_ended_and_read_the_object_once() {
        // Values of every kind, strings with brackets, commas and escapes among them, and
        // numbers (which serde_json reads one byte past).
        let value = |n: u64| match n % 5 {
            0 => json!(n),
            1 => json!(format!("s{n},]}}\"\\[{{")),
            2 => json!({"n": n, "list": [n, {"deep": [true, null]}], "pad": "x".repeat(60)}),
            3 => json!([-1.5e3, false, n]),
            _ => Value::Null,
        };
        let items: Vec<Value> = (0..10_000).map(value).collect();
        let pairs: Map<String, Value> = (0..3_000).map(|n| (format!("k{n}"), value(n))).collect();
        for (text, config, want) in [
            (
                serde_json::to_string_pretty(&items).unwrap(),
                json!({"InputType": "JSON"}),
                items.clone(),
            ),
            (
                json!({"skip": [1, 2], "data": {"pairs": pairs}}).to_string(),
                json!({"InputType": "JSON", "ItemsPointer": "/data/pairs"}),
                pairs.values().cloned().collect(),
            ),
        ] {
            let (_dir, folders) = folders_with(&text);
            let counting = Counting {
                folders,
                read: Default::default(),
            };
            let mut request = json!({"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": config, "Parameters": {"Bucket": "b", "Key": "k"},
                "MaxItems": 0});
            let (mut read, mut n_pages) = (Vec::new(), 0u64);
            loop {
                request["Skip"] = json!(read.len());
                let crate::TaskOutcome::Succeeded(mut page) = read_page(Some(&counting), &request)
                else {
                    panic!("a page")
                };
                n_pages += 1;
                read.extend(page["Items"].as_array().unwrap().iter().cloned());
                if page["More"] != json!(true) {
                    break;
                }
                request["Cursor"] = page["Cursor"].take();
            }
            assert_eq!(read, want);
            assert!(n_pages >= 3, "{n_pages} pages");
            // Each page reads on from where the last one ended: the object once, and at
            // most two read buffers (8 KiB each) past each page's end.
            let bytes = counting.read.load(std::sync::atomic::Ordering::Relaxed);
            let size = text.len() as u64;
            assert!(
                bytes <= size + n_pages * 16 * 1024,
                "{bytes} bytes read of a {size}-byte object in {n_pages} pages"
            );
        }
    }

    #[test]
    fn a_huge_item_fails_without_being_held() {
        let line = "x".repeat(ITEM_BYTES_MAX as usize + 10);
        let (_dir, folders) = folders_with(&format!("{{\"a\":\"{line}\"}}\n"));
        assert!(items(&object(Format::Jsonl), &folders, 0, 10)
            .unwrap_err()
            .cause
            .contains("longer than"));
    }
}
