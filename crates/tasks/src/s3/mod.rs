//! Amazon S3: one small [`Buckets`] trait with two backends, an S3-compatible server
//! ([`Remote`], `--service-endpoint s3=URL` or `--aws-endpoint URL`, path-style addressing,
//! SigV4) and local folders ([`Folders`], `--s3-dir DIR`, one subfolder per bucket), and the
//! `arn:aws:states:::aws-sdk:s3:ACTION` integration on top of it ([`invoke`]).
//!
//! A Distributed Map's `ItemReader` and `ResultWriter` read and write through the same trait,
//! so they work on either backend. Object bodies are streamed ([`Object::body`]), never held
//! whole by the trait.

mod folders;
pub mod items;
mod manifest;
mod remote;
pub mod results;
mod sdk;

pub use folders::Folders;
pub use remote::Remote;
pub(crate) use sdk::action_of;
pub use sdk::invoke;

use std::io::Read;

/// The objects `listObjectsV2` answers per page at most (S3's own maximum).
pub const LIST_KEYS_MAX: usize = 1000;

/// The fewest bytes a part of a multipart upload other than the last may hold (S3's 5 MiB).
pub const PART_BYTES_MIN: usize = steppe_asl::limits::RESULT_WRITER_PART_BYTES;

/// The most parts one multipart upload may have (S3's limit).
pub const PARTS_MAX: u32 = steppe_asl::limits::RESULT_WRITER_PARTS_MAX;

/// What steppe asks of Amazon S3, whichever backend answers.
pub trait Buckets: Send + Sync + std::fmt::Debug {
    /// An object's metadata and a reader of its body.
    fn get_object(&self, bucket: &str, key: &str) -> Result<Object, Error>;
    /// Like [`Buckets::get_object`], with the body read from byte `offset` on (empty past
    /// its end).
    fn get_object_from(&self, bucket: &str, key: &str, offset: u64) -> Result<Object, Error> {
        let mut object = self.get_object(bucket, key)?;
        if offset > 0 {
            let skipped = std::io::copy(&mut (&mut object.body).take(offset), &mut std::io::sink())
                .map_err(|error| Error::Client(format!("Unable to read the object: {error}")))?;
            debug_assert!(skipped <= offset);
        }
        Ok(object)
    }
    /// An object's metadata.
    fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, Error>;
    /// Writes an object; answers its new metadata (at least the ETag).
    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<ObjectInfo, Error>;
    /// Starts a multipart upload of `key` (S3's `CreateMultipartUpload`); answers its upload id.
    fn create_multipart_upload(&self, bucket: &str, key: &str) -> Result<String, Error>;
    /// Uploads part `part_number` (from 1) of an upload (`UploadPart`); answers its ETag.
    /// Uploading the same part again replaces it, as on S3. Every part but the last must
    /// hold at least [`PART_BYTES_MIN`] bytes (S3 checks it when the upload completes).
    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: &[u8],
    ) -> Result<String, Error>;
    /// Completes an upload from its `parts` (`(part number, ETag)`, in order), which become
    /// the object `key` (`CompleteMultipartUpload`).
    fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<(), Error>;
    /// Copies an object; answers the copy's metadata.
    fn copy_object(
        &self,
        bucket: &str,
        key: &str,
        source_bucket: &str,
        source_key: &str,
    ) -> Result<ObjectInfo, Error>;
    /// Deletes an object (deleting a missing key succeeds, as on S3).
    fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error>;
    /// One page of the keys under `list.prefix`, in UTF-8 binary order.
    fn list_objects(&self, bucket: &str, list: &List) -> Result<ListPage, Error>;
    /// Creates a bucket.
    fn create_bucket(&self, bucket: &str) -> Result<(), Error>;
    /// Every bucket, by name.
    fn list_buckets(&self) -> Result<Vec<BucketInfo>, Error>;
}

/// An object's metadata, as S3 reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The key.
    pub key: String,
    /// The body's length in bytes.
    pub size: u64,
    /// The entity tag, quoted as S3 sends it (`"9a0364b9e99bb480dd25e1f0284c8555"`).
    pub etag: String,
    /// ISO 8601 in UTC (`2026-12-03T07:55:03Z`), when known.
    pub last_modified: Option<String>,
    /// The `Content-Type`, when known.
    pub content_type: Option<String>,
    /// `STANDARD`, ...
    pub storage_class: String,
}

/// An object being read.
pub struct Object {
    /// Its metadata.
    pub info: ObjectInfo,
    /// Its body, read as it arrives.
    pub body: Box<dyn Read + Send>,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// What one `listObjectsV2` page asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    /// Only keys that start with this.
    pub prefix: String,
    /// Only keys after this one.
    pub start_after: Option<String>,
    /// The previous page's `NextContinuationToken`.
    pub continuation_token: Option<String>,
    /// At most this many keys (at most [`LIST_KEYS_MAX`]).
    pub max_keys: usize,
}

/// One page of keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The objects, in key order.
    pub contents: Vec<ObjectInfo>,
    /// Where the next page starts, when there is one.
    pub next_continuation_token: Option<String>,
}

/// A bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketInfo {
    /// Its name.
    pub name: String,
    /// When it was created, ISO 8601 in UTC, when known.
    pub creation_date: Option<String>,
}

/// Why S3 did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// S3 answered with an error (`NoSuchKey`, `NoSuchBucket`, `AccessDenied`, ...).
    #[error("{message} (Service: S3, Status Code: {status}, Request ID: {request_id})")]
    Service {
        /// The HTTP status.
        status: u16,
        /// S3's error code (`NoSuchKey`).
        code: String,
        /// S3's message.
        message: String,
        /// The request id, when S3 gave one.
        request_id: String,
    },
    /// No answer: the connection failed, or the answer could not be read.
    #[error("{0}")]
    Client(String),
    /// No answer in time.
    #[error("{0}")]
    Timeout(String),
}

impl Error {
    /// An error as S3 would answer it, for backends that are not S3.
    pub fn service(status: u16, code: &str, message: &str) -> Error {
        Error::Service {
            status,
            code: code.to_string(),
            message: message.to_string(),
            request_id: String::new(),
        }
    }

    /// `NoSuchKey`, as S3 answers a missing key.
    pub fn no_such_key() -> Error {
        Error::service(404, "NoSuchKey", "The specified key does not exist.")
    }

    /// `NoSuchBucket`, as S3 answers a missing bucket.
    pub fn no_such_bucket() -> Error {
        Error::service(404, "NoSuchBucket", "The specified bucket does not exist")
    }
}

/// For tests that need a real S3-compatible server (moto, started by
/// `scripts/start-moto.sh`): its URL, from `STEPPE_TEST_S3_URL` or `target/moto-url`, when it
/// answers. Without one it prints that the test skipped and answers `None`, but panics when
/// `CI` is set: a test that passes without its server proves nothing there.
pub fn test_server_url() -> Option<String> {
    let from_env = std::env::var("STEPPE_TEST_S3_URL").ok();
    let from_file = || {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/moto-url");
        std::fs::read_to_string(path).ok()
    };
    let url = from_env
        .or_else(from_file)
        .map(|url| url.trim().to_string());
    let reachable = url
        .as_ref()
        .is_some_and(|url| std::net::TcpStream::connect(url.trim_start_matches("http://")).is_ok());
    match (reachable, std::env::var_os("CI").is_some()) {
        (true, _) => url,
        (false, true) => panic!(
            "CI is set but no S3 server answers (STEPPE_TEST_S3_URL={url:?}): run scripts/start-moto.sh"
        ),
        (false, false) => {
            eprintln!(
                "SKIPPED: no S3 server (set STEPPE_TEST_S3_URL or run scripts/start-moto.sh)"
            );
            None
        }
    }
}

/// `2026-12-03T07:55:03.000Z` or `Wed, 03 Dec 2026 07:55:03 GMT` as steppe writes times
/// (`2026-12-03T07:55:03Z`); text that is neither stays as it is.
pub(crate) fn normalize_time(text: &str) -> String {
    let text = text.trim();
    if let Some(millis) = steppe_asl::timestamp::parse_rfc3339(text) {
        return steppe_asl::timestamp::format_iso8601(millis);
    }
    parse_http_date(text)
        .map(steppe_asl::timestamp::format_iso8601)
        .unwrap_or_else(|| text.to_string())
}

/// IMF-fixdate (`Wed, 03 Dec 2026 07:55:03 GMT`, HTTP's `Last-Modified`) as epoch milliseconds.
fn parse_http_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = text.split_whitespace().skip(1);
    let day: u32 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|name| *name == month_name)? + 1;
    let year: i32 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    let iso = format!("{year:04}-{month:02}-{day:02}T{time}Z");
    steppe_asl::timestamp::parse_rfc3339(&iso)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_iso_8601() {
        assert_eq!(
            normalize_time("2026-12-03T07:55:03.000Z"),
            "2026-12-03T07:55:03Z"
        );
        assert_eq!(
            normalize_time("Wed, 03 Dec 2026 07:55:03 GMT"),
            "2026-12-03T07:55:03Z"
        );
        assert_eq!(normalize_time("soon"), "soon");
    }
}
