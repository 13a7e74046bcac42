//! [`Folders`]: buckets served from a local folder (`--s3-dir DIR`): bucket `b` is the
//! folder `DIR/b`, key `k/x.csv` the file `DIR/b/k/x.csv`. A Distributed Map over a CSV
//! then runs with no S3 server at all.
//!
//! What S3 would say is said here too: a missing bucket is `NoSuchBucket`, a missing key
//! `NoSuchKey`, with S3's messages. Keys that cannot be file paths (empty segments, `.`,
//! `..`, a leading `/`) are refused, so no key reaches outside its bucket's folder.
//! A multipart upload's parts wait in `DIR/.steppe-uploads/ID/` (no bucket: bucket names
//! cannot start with `.`) until it completes; its id is the key's, so an upload started again
//! is the same upload.
//! An ETag is the MD5 of the file's size and modification time, not of its content (reading
//! every file listed would cost too much): the same for every operation on an unchanged file,
//! and different once the file changes, which is what S3's clients rely on.

use super::{BucketInfo, Buckets, Error, List, ListPage, Object, ObjectInfo};
use md5::{Digest, Md5};
use std::collections::BinaryHeap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Buckets in the subfolders of one folder.
#[derive(Debug, Clone)]
pub struct Folders {
    root: PathBuf,
}

impl Folders {
    /// The buckets in `root`'s subfolders.
    pub fn new(root: impl Into<PathBuf>) -> Folders {
        Folders { root: root.into() }
    }

    fn bucket(&self, bucket: &str) -> Result<PathBuf, Error> {
        let invalid = bucket.is_empty()
            || bucket == "."
            || bucket == ".."
            || bucket.contains(['/', '\\'])
            || bucket.starts_with('.');
        if invalid {
            return Err(Error::service(
                400,
                "InvalidBucketName",
                "The specified bucket is not valid.",
            ));
        }
        let path = self.root.join(bucket);
        if path.is_dir() {
            Ok(path)
        } else {
            Err(Error::no_such_bucket())
        }
    }

    /// Where the parts of upload `upload_id` wait: outside every bucket's folder (a name
    /// starting with `.` is no bucket).
    fn upload(&self, upload_id: &str) -> Result<PathBuf, Error> {
        if upload_id.is_empty() || !upload_id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(no_such_upload());
        }
        Ok(self.root.join(UPLOADS_FOLDER).join(upload_id))
    }

    /// The folder of an upload under way.
    fn open_upload(&self, upload_id: &str) -> Result<PathBuf, Error> {
        let folder = self.upload(upload_id)?;
        if folder.is_dir() {
            Ok(folder)
        } else {
            Err(no_such_upload())
        }
    }

    fn object(&self, bucket: &str, key: &str) -> Result<PathBuf, Error> {
        let mut path = self.bucket(bucket)?;
        if key.is_empty() {
            return Err(Error::service(400, "InvalidArgument", "The key is empty."));
        }
        for segment in key.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." || segment.contains('\\') {
                return Err(Error::service(
                    400,
                    "InvalidArgument",
                    "steppe's --s3-dir cannot store a key with an empty, '.' or '..' segment",
                ));
            }
            path.push(segment);
        }
        Ok(path)
    }
}

/// The folder (in the root, beside the buckets) of multipart uploads under way.
const UPLOADS_FOLDER: &str = ".steppe-uploads";

/// `NoSuchUpload`, as S3 answers an upload that is not under way.
fn no_such_upload() -> Error {
    Error::service(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

fn io_error(error: &io::Error) -> Error {
    match error.kind() {
        io::ErrorKind::NotFound => Error::no_such_key(),
        io::ErrorKind::PermissionDenied => Error::service(403, "AccessDenied", "Access Denied"),
        _ => Error::Client(format!("Unable to read the file: {error}")),
    }
}

fn info(key: &str, metadata: &fs::Metadata) -> ObjectInfo {
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let nanos = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |duration| duration.as_nanos());
    let millis = i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX);
    let fingerprint = Md5::digest(format!("{}:{nanos}", metadata.len()));
    ObjectInfo {
        key: key.to_string(),
        size: metadata.len(),
        etag: format!("\"{}\"", hex(&fingerprint)),
        // S3 keeps times to the second.
        last_modified: Some(steppe_asl::timestamp::format_iso8601(
            millis - millis % 1000,
        )),
        content_type: None,
        storage_class: "STANDARD".to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Buckets for Folders {
    fn get_object(&self, bucket: &str, key: &str) -> Result<Object, Error> {
        let path = self.object(bucket, key)?;
        let file = fs::File::open(&path).map_err(|error| io_error(&error))?;
        let metadata = file.metadata().map_err(|error| io_error(&error))?;
        if metadata.is_dir() {
            return Err(Error::no_such_key());
        }
        Ok(Object {
            info: info(key, &metadata),
            body: Box::new(io::BufReader::new(file)),
        })
    }

    fn get_object_from(&self, bucket: &str, key: &str, offset: u64) -> Result<Object, Error> {
        let mut object = self.get_object(bucket, key)?;
        if offset > 0 {
            let path = self.object(bucket, key)?;
            let mut file = fs::File::open(&path).map_err(|error| io_error(&error))?;
            io::Seek::seek(&mut file, io::SeekFrom::Start(offset))
                .map_err(|error| io_error(&error))?;
            object.body = Box::new(io::BufReader::new(file));
        }
        Ok(object)
    }

    fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, Error> {
        let path = self.object(bucket, key)?;
        let metadata = fs::metadata(&path).map_err(|error| io_error(&error))?;
        if metadata.is_dir() {
            return Err(Error::no_such_key());
        }
        Ok(info(key, &metadata))
    }

    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        _content_type: Option<&str>,
    ) -> Result<ObjectInfo, Error> {
        let path = self.object(bucket, key)?;
        let write = || -> io::Result<fs::Metadata> {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            // Written beside, then renamed: a reader sees the old object or the new one.
            let temporary = path.with_file_name(format!(
                ".{}.steppe-partial",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
            fs::write(&temporary, body)?;
            fs::rename(&temporary, &path)?;
            fs::metadata(&path)
        };
        let metadata =
            write().map_err(|error| Error::Client(format!("Unable to write: {error}")))?;
        Ok(info(key, &metadata))
    }

    fn create_multipart_upload(&self, bucket: &str, key: &str) -> Result<String, Error> {
        self.object(bucket, key)?;
        // One upload per key at a time: starting it again (a task run again after a crash)
        // joins the one under way instead of leaving it behind, unlike S3.
        let id = hex(&Md5::digest(format!("{bucket}/{key}")));
        fs::create_dir_all(self.upload(&id)?)
            .map_err(|error| Error::Client(format!("Unable to start the upload: {error}")))?;
        Ok(id)
    }

    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: &[u8],
    ) -> Result<String, Error> {
        self.object(bucket, key)?;
        let folder = self.open_upload(upload_id)?;
        let part = folder.join(part_number.to_string());
        let temporary = folder.join(format!("{part_number}.steppe-partial"));
        let write = || -> io::Result<()> {
            fs::write(&temporary, body)?;
            fs::rename(&temporary, &part)
        };
        write().map_err(|error| Error::Client(format!("Unable to write the part: {error}")))?;
        Ok(format!("\"{}\"", hex(&Md5::digest(body))))
    }

    fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<(), Error> {
        let path = self.object(bucket, key)?;
        let folder = self.open_upload(upload_id)?;
        let temporary = path.with_file_name(format!(
            ".{}.steppe-partial",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        // The parts are copied one after another: memory holds a copy buffer, not the object.
        let write = || -> io::Result<()> {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            let mut out = io::BufWriter::new(fs::File::create(&temporary)?);
            for (number, _) in parts {
                let mut part = fs::File::open(folder.join(number.to_string()))?;
                io::copy(&mut part, &mut out)?;
            }
            io::Write::flush(&mut out)?;
            fs::rename(&temporary, &path)?;
            fs::remove_dir_all(&folder)
        };
        write().map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => Error::service(
                400,
                "InvalidPart",
                "One or more of the specified parts could not be found.",
            ),
            _ => Error::Client(format!("Unable to complete the upload: {error}")),
        })
    }

    fn copy_object(
        &self,
        bucket: &str,
        key: &str,
        source_bucket: &str,
        source_key: &str,
    ) -> Result<ObjectInfo, Error> {
        let source = self.object(source_bucket, source_key)?;
        let target = self.object(bucket, key)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|error| io_error(&error))?;
        }
        fs::copy(&source, &target).map_err(|error| io_error(&error))?;
        let metadata = fs::metadata(&target).map_err(|error| io_error(&error))?;
        Ok(info(key, &metadata))
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        let path = self.object(bucket, key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(io_error(&error)),
        }
    }

    fn list_objects(&self, bucket: &str, list: &List) -> Result<ListPage, Error> {
        let root = self.bucket(bucket)?;
        // The continuation token is the last key of the previous page.
        let after = match (&list.continuation_token, &list.start_after) {
            (Some(token), _) => Some(token.clone()),
            (None, start_after) => start_after.clone(),
        };
        let max_keys = list.max_keys.min(super::LIST_KEYS_MAX);
        // The smallest `max_keys + 1` keys after `after`: memory stays bounded by the page,
        // whatever the folder holds.
        let mut smallest: BinaryHeap<String> = BinaryHeap::new();
        let mut offer = |key: String| {
            let wanted = key.starts_with(&list.prefix)
                && after
                    .as_ref()
                    .is_none_or(|after| key.as_str() > after.as_str());
            if !wanted {
                return;
            }
            if smallest.len() <= max_keys {
                smallest.push(key);
            } else if smallest.peek().is_some_and(|largest| key < *largest) {
                smallest.pop();
                smallest.push(key);
            }
        };
        walk(&root, String::new(), &mut offer)
            .map_err(|error| Error::Client(format!("Unable to list the folder: {error}")))?;
        let mut keys = smallest.into_sorted_vec();
        let truncated = keys.len() > max_keys;
        keys.truncate(max_keys);
        let mut contents = Vec::with_capacity(keys.len());
        for key in keys {
            // A file removed since the walk is left out, as S3 would leave it out.
            if let Ok(metadata) = fs::metadata(root.join(&key)) {
                contents.push(info(&key, &metadata));
            }
        }
        let next_continuation_token = truncated
            .then(|| contents.last().map(|info| info.key.clone()))
            .flatten();
        Ok(ListPage {
            contents,
            next_continuation_token,
        })
    }

    fn create_bucket(&self, bucket: &str) -> Result<(), Error> {
        match self.bucket(bucket) {
            Ok(_) => Err(Error::service(
                409,
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
            )),
            Err(Error::Service { code, .. }) if code == "NoSuchBucket" => {
                fs::create_dir_all(self.root.join(bucket))
                    .map_err(|error| Error::Client(format!("Unable to create the folder: {error}")))
            }
            Err(error) => Err(error),
        }
    }

    fn list_buckets(&self) -> Result<Vec<BucketInfo>, Error> {
        let entries = fs::read_dir(&self.root).map_err(|error| {
            Error::Client(format!("Unable to list {}: {error}", self.root.display()))
        })?;
        let mut buckets: Vec<BucketInfo> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let created = entry
                    .metadata()
                    .ok()
                    .and_then(|metadata| metadata.modified().ok());
                let millis = created
                    .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map(|duration| duration.as_millis() as i64);
                Some(BucketInfo {
                    name,
                    creation_date: millis.map(|millis| {
                        steppe_asl::timestamp::format_iso8601(millis - millis % 1000)
                    }),
                })
            })
            .filter(|bucket| !bucket.name.starts_with('.'))
            .collect();
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        if buckets.len() > super::LIST_KEYS_MAX {
            buckets.truncate(super::LIST_KEYS_MAX);
        }
        Ok(buckets)
    }
}

/// Calls `offer` with the key of every file under `folder` (keys joined with `/`); files
/// whose names are not UTF-8, and unfinished writes, are skipped.
fn walk(folder: &Path, prefix: String, offer: &mut dyn FnMut(String)) -> io::Result<()> {
    for entry in fs::read_dir(folder)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.ends_with(".steppe-partial") {
            continue;
        }
        let key = format!("{prefix}{name}");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), format!("{key}/"), offer)?;
        } else if kind.is_file() {
            offer(key);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_files_under_the_bucket_folder_and_pages_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let folders = Folders::new(dir.path());
        assert_eq!(
            folders.list_objects("b", &List::default()).unwrap_err(),
            Error::no_such_bucket()
        );
        folders.create_bucket("b").unwrap();
        for key in ["c.txt", "a/2.csv", "a/1.csv", "b.json"] {
            folders.put_object("b", key, key.as_bytes(), None).unwrap();
        }
        let page = |token: Option<String>| {
            folders
                .list_objects(
                    "b",
                    &List {
                        max_keys: 2,
                        continuation_token: token,
                        ..List::default()
                    },
                )
                .unwrap()
        };
        let first = page(None);
        let keys: Vec<_> = first
            .contents
            .iter()
            .map(|info| info.key.as_str())
            .collect();
        assert_eq!(keys, ["a/1.csv", "a/2.csv"]);
        let second = page(first.next_continuation_token);
        let keys: Vec<_> = second
            .contents
            .iter()
            .map(|info| info.key.as_str())
            .collect();
        assert_eq!(keys, ["b.json", "c.txt"]);
        assert_eq!(second.next_continuation_token, None);
        let mut body = String::new();
        folders
            .get_object("b", "a/1.csv")
            .unwrap()
            .body
            .read_to_string(&mut body)
            .unwrap();
        assert_eq!(body, "a/1.csv");
        assert_eq!(
            folders.get_object("b", "missing").unwrap_err(),
            Error::no_such_key()
        );
        assert!(folders.get_object("b", "../b/c.txt").is_err());
        assert!(folders.get_object("..", "x").is_err());
    }

    use std::io::Read;
}
