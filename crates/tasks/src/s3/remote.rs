//! [`Remote`]: an S3-compatible server (Amazon S3, moto, MinIO, LocalStack) reached with
//! path-style addressing (`{endpoint}/{bucket}/{key}`), SigV4-signed for `s3`.
//!
//! S3 speaks REST-XML: the few responses read here (errors, `ListObjectsV2`, `ListBuckets`,
//! `CopyObject`) are read with `roxmltree`; the one request body written (`CreateBucket`
//! outside `us-east-1`) is a fixed template.

use super::{normalize_time, BucketInfo, Buckets, Error, List, ListPage, Object, ObjectInfo};
use crate::services::{sign_s3, Services};
use crate::transport::{self, HttpRequest, HttpResponse, SendError, StreamingResponse};
use std::time::{Duration, SystemTime};

/// How long S3 may take to start answering (and, streaming, between two reads).
const ANSWER_SECONDS_MAX: u64 = 60;

/// An S3-compatible server.
#[derive(Debug, Clone)]
pub struct Remote {
    /// `http://127.0.0.1:9000`, without a trailing slash.
    endpoint: String,
    /// The region and credentials requests are signed with.
    services: Services,
}

impl Remote {
    /// The server at `endpoint`, signed as `services` signs (region, credentials).
    pub fn new(endpoint: &str, services: &Services) -> Remote {
        Remote {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            services: services.clone(),
        }
    }

    fn url(&self, bucket: &str, key: Option<&str>, query: &[(String, String)]) -> String {
        let mut url = format!("{}/{}", self.endpoint, encode(bucket, false));
        if let Some(key) = key {
            url.push('/');
            url.push_str(&encode(key, true));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(&crate::http::encode_pairs(query));
        }
        url
    }

    fn open(&self, mut request: HttpRequest) -> Result<StreamingResponse, Error> {
        sign_s3(&mut request, &self.services, SystemTime::now())
            .map_err(|why| Error::Client(format!("Unable to sign the request: {why}")))?;
        transport::open(&request, Duration::from_secs(ANSWER_SECONDS_MAX)).map_err(send_error)
    }

    /// Sends a request and reads the whole answer; an error status is an [`Error`].
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        let response = self.open(request)?.read_whole().map_err(send_error)?;
        if (200..300).contains(&response.status) {
            Ok(response)
        } else {
            Err(error_of(&response))
        }
    }
}

fn request(method: &str, url: String, body: Option<Vec<u8>>) -> HttpRequest {
    HttpRequest {
        method: method.to_string(),
        url,
        headers: Vec::new(),
        body,
    }
}

impl Buckets for Remote {
    fn get_object(&self, bucket: &str, key: &str) -> Result<Object, Error> {
        let response = self.open(request("GET", self.url(bucket, Some(key), &[]), None))?;
        if !(200..300).contains(&response.status) {
            let response = response.read_whole().map_err(send_error)?;
            return Err(error_of(&response));
        }
        let info = info_of_headers(key, |name| response.header(name));
        Ok(Object {
            info,
            body: response.body,
        })
    }

    fn get_object_from(&self, bucket: &str, key: &str, offset: u64) -> Result<Object, Error> {
        if offset == 0 {
            return self.get_object(bucket, key);
        }
        let mut get = request("GET", self.url(bucket, Some(key), &[]), None);
        get.headers
            .push(("Range".to_string(), format!("bytes={offset}-")));
        let response = self.open(get)?;
        // 416: the offset is at or past the end, where nothing is left to read.
        if response.status == 416 {
            return Ok(Object {
                info: ObjectInfo {
                    key: key.to_string(),
                    ..ObjectInfo::default()
                },
                body: Box::new(std::io::empty()),
            });
        }
        if !(200..300).contains(&response.status) {
            let response = response.read_whole().map_err(send_error)?;
            return Err(error_of(&response));
        }
        let info = info_of_headers(key, |name| response.header(name));
        Ok(Object {
            info,
            body: response.body,
        })
    }

    fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, Error> {
        let response = self
            .open(request("HEAD", self.url(bucket, Some(key), &[]), None))?
            .read_whole()
            .map_err(send_error)?;
        if !(200..300).contains(&response.status) {
            // A HEAD answer has no body: the status is all S3 says.
            return Err(match response.status {
                404 => Error::Service {
                    status: 404,
                    code: "NoSuchKey".to_string(),
                    message: String::new(),
                    request_id: request_id(&response),
                },
                status => Error::Service {
                    status,
                    code: String::new(),
                    message: String::new(),
                    request_id: request_id(&response),
                },
            });
        }
        Ok(info_of_headers(key, |name| response.header(name)))
    }

    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<ObjectInfo, Error> {
        let mut put = request("PUT", self.url(bucket, Some(key), &[]), Some(body.to_vec()));
        if let Some(content_type) = content_type {
            put.headers
                .push(("Content-Type".to_string(), content_type.to_string()));
        }
        let response = self.send(put)?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size: body.len() as u64,
            etag: response.header("etag").unwrap_or_default().to_string(),
            ..ObjectInfo::default()
        })
    }

    fn create_multipart_upload(&self, bucket: &str, key: &str) -> Result<String, Error> {
        let query = [("uploads".to_string(), String::new())];
        let mut create = request("POST", self.url(bucket, Some(key), &query), None);
        create
            .headers
            .push(("Content-Type".to_string(), "application/json".to_string()));
        let response = self.send(create)?;
        let document = xml(&response)?;
        child_text(document.root_element(), "UploadId")
            .ok_or_else(|| Error::Client("Unable to unmarshall response (no UploadId)".to_string()))
    }

    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: &[u8],
    ) -> Result<String, Error> {
        let query = [
            ("partNumber".to_string(), part_number.to_string()),
            ("uploadId".to_string(), upload_id.to_string()),
        ];
        let put = request(
            "PUT",
            self.url(bucket, Some(key), &query),
            Some(body.to_vec()),
        );
        let response = self.send(put)?;
        Ok(response.header("etag").unwrap_or_default().to_string())
    }

    fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<(), Error> {
        let mut body = String::from(
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        for (number, etag) in parts {
            body.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
                escape(etag)
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let query = [("uploadId".to_string(), upload_id.to_string())];
        let complete = request(
            "POST",
            self.url(bucket, Some(key), &query),
            Some(body.into_bytes()),
        );
        let response = self.send(complete)?;
        // S3 may answer 200 with an error in the body once the upload was under way.
        let text = String::from_utf8_lossy(&response.body);
        if text.contains("<Error>") {
            return Err(error_of(&response));
        }
        Ok(())
    }

    fn copy_object(
        &self,
        bucket: &str,
        key: &str,
        source_bucket: &str,
        source_key: &str,
    ) -> Result<ObjectInfo, Error> {
        let mut copy = request("PUT", self.url(bucket, Some(key), &[]), None);
        copy.headers.push((
            "x-amz-copy-source".to_string(),
            format!(
                "/{}/{}",
                encode(source_bucket, false),
                encode(source_key, true)
            ),
        ));
        let response = self.send(copy)?;
        let document = xml(&response)?;
        let root = document.root_element();
        Ok(ObjectInfo {
            key: key.to_string(),
            etag: child_text(root, "ETag").unwrap_or_default(),
            last_modified: child_text(root, "LastModified").map(|time| normalize_time(&time)),
            ..ObjectInfo::default()
        })
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.send(request("DELETE", self.url(bucket, Some(key), &[]), None))
            .map(drop)
    }

    fn list_objects(&self, bucket: &str, list: &List) -> Result<ListPage, Error> {
        let mut query = vec![("list-type".to_string(), "2".to_string())];
        if let Some(token) = &list.continuation_token {
            query.push(("continuation-token".to_string(), token.clone()));
        }
        query.push(("max-keys".to_string(), list.max_keys.to_string()));
        if !list.prefix.is_empty() {
            query.push(("prefix".to_string(), list.prefix.clone()));
        }
        if let Some(start_after) = &list.start_after {
            query.push(("start-after".to_string(), start_after.clone()));
        }
        let response = self.send(request("GET", self.url(bucket, None, &query), None))?;
        let document = xml(&response)?;
        let root = document.root_element();
        let contents = children(root, "Contents")
            .map(|node| ObjectInfo {
                key: child_text(node, "Key").unwrap_or_default(),
                size: child_text(node, "Size")
                    .and_then(|size| size.parse().ok())
                    .unwrap_or(0),
                etag: child_text(node, "ETag").unwrap_or_default(),
                last_modified: child_text(node, "LastModified").map(|time| normalize_time(&time)),
                content_type: None,
                storage_class: child_text(node, "StorageClass")
                    .unwrap_or_else(|| "STANDARD".to_string()),
            })
            .collect();
        let truncated = child_text(root, "IsTruncated").as_deref() == Some("true");
        Ok(ListPage {
            contents,
            next_continuation_token: child_text(root, "NextContinuationToken")
                .filter(|_| truncated),
        })
    }

    fn create_bucket(&self, bucket: &str) -> Result<(), Error> {
        let region = &self.services.region;
        // us-east-1 is S3's default location, which must not be named.
        let body = (region != "us-east-1" && !region.is_empty()).then(|| {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                escape(region)
            )
            .into_bytes()
        });
        self.send(request("PUT", self.url(bucket, None, &[]), body))
            .map(drop)
    }

    fn list_buckets(&self) -> Result<Vec<BucketInfo>, Error> {
        let url = format!("{}/", self.endpoint);
        let response = self.send(request("GET", url, None))?;
        let document = xml(&response)?;
        let root = document.root_element();
        let Some(buckets) = root.children().find(|node| node.has_tag_name("Buckets")) else {
            return Ok(Vec::new());
        };
        Ok(children(buckets, "Bucket")
            .map(|node| BucketInfo {
                name: child_text(node, "Name").unwrap_or_default(),
                creation_date: child_text(node, "CreationDate").map(|time| normalize_time(&time)),
            })
            .collect())
    }
}

fn send_error(error: SendError) -> Error {
    match error {
        SendError::Timeout(message) => Error::Timeout(message),
        SendError::Connection(message) => {
            Error::Client(format!("Unable to execute HTTP request: {message}"))
        }
    }
}

fn request_id(response: &HttpResponse) -> String {
    response
        .header("x-amz-request-id")
        .unwrap_or_default()
        .to_string()
}

/// S3's `<Error><Code/><Message/><RequestId/></Error>` answer.
fn error_of(response: &HttpResponse) -> Error {
    let text = String::from_utf8_lossy(&response.body);
    let document = roxmltree::Document::parse(&text).ok();
    let root = document.as_ref().map(roxmltree::Document::root_element);
    let field = |name: &str| root.and_then(|root| child_text(root, name));
    Error::Service {
        status: response.status,
        code: field("Code").unwrap_or_default(),
        message: field("Message").unwrap_or_default(),
        request_id: field("RequestId").unwrap_or_else(|| request_id(response)),
    }
}

fn info_of_headers<'a>(key: &str, header: impl Fn(&str) -> Option<&'a str>) -> ObjectInfo {
    ObjectInfo {
        key: key.to_string(),
        size: header("content-length")
            .and_then(|length| length.parse().ok())
            .unwrap_or(0),
        etag: header("etag").unwrap_or_default().to_string(),
        last_modified: header("last-modified").map(normalize_time),
        content_type: header("content-type").map(str::to_string),
        storage_class: header("x-amz-storage-class")
            .unwrap_or("STANDARD")
            .to_string(),
    }
}

fn xml(response: &HttpResponse) -> Result<roxmltree::Document<'_>, Error> {
    let text = std::str::from_utf8(&response.body)
        .map_err(|error| Error::Client(format!("Unable to unmarshall response ({error})")))?;
    roxmltree::Document::parse(text)
        .map_err(|error| Error::Client(format!("Unable to unmarshall response ({error})")))
}

fn children<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |child| child.has_tag_name(name))
}

fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    node.children()
        .find(|child| child.has_tag_name(name))
        .map(|child| child.text().unwrap_or_default().to_string())
}

/// Percent-encodes a bucket name or key for a URL path (RFC 3986 unreserved characters
/// kept, and `/` in keys).
fn encode(text: &str, keep_slash: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(char::from(byte));
            }
            b'/' if keep_slash => encoded.push('/'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_path_style() {
        let remote = Remote::new("http://127.0.0.1:9000/", &Services::default());
        assert_eq!(
            remote.url("b", Some("dir/a b+c.csv"), &[]),
            "http://127.0.0.1:9000/b/dir/a%20b%2Bc.csv"
        );
        let query = [("prefix".to_string(), "a/b".to_string())];
        assert_eq!(
            remote.url("b", None, &query),
            "http://127.0.0.1:9000/b?prefix=a%2Fb"
        );
    }

    #[test]
    fn errors_are_read_from_the_xml_body() {
        let response = HttpResponse {
            status: 404,
            headers: Vec::new(),
            body: b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>R1</RequestId></Error>".to_vec(),
        };
        assert_eq!(
            error_of(&response),
            Error::Service {
                status: 404,
                code: "NoSuchKey".to_string(),
                message: "The specified key does not exist.".to_string(),
                request_id: "R1".to_string(),
            }
        );
    }
}
