//! The `MANIFEST` reader (`ReaderConfig.InputType: MANIFEST`, or `ManifestType:
//! S3_INVENTORY`): the objects an Amazon S3 Inventory report lists.
//!
//! As the ItemReader page describes it: the object named by `Bucket`/`Key` is an inventory's
//! `manifest.json` (`fileFormat` CSV, `fileSchema` such as `"Bucket, Key, Size,
//! LastModifiedDate"`, `files[].key` the gzip-compressed CSV data files in its
//! `destinationBucket`); each data row (no header row) is one item, an object whose members
//! are the schema's columns, every value a string, e.g. `{"Bucket": "amzn-s3-demo-source-bucket",
//! "Key": "csvDataset/titles.csv", "Size": "3399671", "LastModifiedDate":
//! "2022-11-16T00:29:32.000Z"}`. Data files are read in the manifest's order, each streamed
//! through a gzip decoder; a page resumes at its data file and row, re-reading that file from its
//! start (gzip has no random access), never the files before it.

use super::items::{csv, s3_failure, Failure, Item, Position};
use super::Buckets;
use serde_json::Value;
use std::io::Read;

/// The largest `manifest.json` read, bytes (it lists data files, not objects; S3 writes one
/// entry per data file).
pub const MANIFEST_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// An inventory manifest, as far as reading it needs.
struct Manifest {
    /// The bucket of the data files.
    bucket: String,
    /// The columns of each data row.
    schema: Vec<String>,
    /// The data files' keys, in order.
    files: Vec<String>,
}

/// Reads the items of the inventory whose manifest is `bucket`/`key`, from data file
/// `start.file`, row `start.row` of it, on; each item's `next` names the file and row after it.
pub(super) fn read(
    buckets: &dyn Buckets,
    bucket: &str,
    key: &str,
    start: Position,
    offer: &mut dyn FnMut(Item) -> bool,
) -> Result<(), Failure> {
    let manifest = manifest(buckets, bucket, key)?;
    let first = usize::try_from(start.file).unwrap_or(usize::MAX);
    for (index, file) in manifest.files.iter().enumerate().skip(first) {
        let object = buckets
            .get_object(&manifest.bucket, file)
            .map_err(|error| s3_failure(&error, &manifest.bucket, file))?;
        let decoder = flate2::read::MultiGzDecoder::new(object.body);
        let body = Box::new(GzipFailures {
            inner: decoder,
            key: file.clone(),
        });
        let skip = if index == first { start.row } else { 0 };
        let mut row = 0u64;
        let mut stopped = false;
        let mut each = |mut item: Item| {
            row += 1;
            if row <= skip {
                return true;
            }
            item.next = Some(Position {
                file: index as u64,
                offset: 0,
                row,
            });
            stopped = !offer(item);
            !stopped
        };
        let schema = Some(manifest.schema.clone());
        csv(body, b',', schema, Position::default(), &mut each)?;
        if stopped {
            return Ok(());
        }
    }
    Ok(())
}

/// Reads and checks the manifest.
fn manifest(buckets: &dyn Buckets, bucket: &str, key: &str) -> Result<Manifest, Failure> {
    let object = buckets
        .get_object(bucket, key)
        .map_err(|error| s3_failure(&error, bucket, key))?;
    let mut text = Vec::new();
    object
        .body
        .take(MANIFEST_BYTES_MAX + 1)
        .read_to_end(&mut text)
        .map_err(|error| failure(key, &format!("it could not be read: {error}")))?;
    if text.len() as u64 > MANIFEST_BYTES_MAX {
        let why = format!("it is larger than {MANIFEST_BYTES_MAX} bytes");
        return Err(failure(key, &why));
    }
    let manifest: Value = serde_json::from_slice(&text)
        .map_err(|error| failure(key, &format!("it is not JSON: {error}")))?;
    let format = manifest["fileFormat"].as_str().unwrap_or_default();
    if format != "CSV" {
        let why = format!("its fileFormat is '{format}', and the inventory must be CSV");
        return Err(failure(key, &why));
    }
    let Some(schema) = manifest["fileSchema"].as_str() else {
        return Err(failure(key, "it has no fileSchema"));
    };
    let schema = schema
        .split(',')
        .map(|column| column.trim().to_string())
        .collect();
    let Some(files) = manifest["files"].as_array() else {
        return Err(failure(key, "it has no files"));
    };
    let files = files
        .iter()
        .map(|file| file["key"].as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| failure(key, "a file of its files has no key"))?;
    // The data files are in the inventory's destination bucket, where the manifest is too.
    let bucket = manifest["destinationBucket"]
        .as_str()
        .and_then(|arn| arn.strip_prefix("arn:aws:s3:::"))
        .unwrap_or(bucket)
        .to_string();
    Ok(Manifest {
        bucket,
        schema,
        files,
    })
}

fn failure(key: &str, why: &str) -> Failure {
    Failure {
        cause: format!("The S3 inventory manifest '{key}' cannot be read: {why}"),
    }
}

/// A gzip stream whose failures name the data file.
struct GzipFailures<R> {
    inner: R,
    key: String,
}

impl<R: Read> Read for GzipFailures<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("the data file '{}' is not gzip: {error}", self.key),
            )
        })
    }
}
