//! Plain HTTP requests and responses, and the one blocking client that sends them.
//!
//! The integrations build an [`HttpRequest`] and read an [`HttpResponse`] without doing I/O, so an
//! async caller can send the same request with its own client.

use crate::destinations::Destinations;
use std::time::Duration;

/// An HTTP request, fully built.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The absolute URL, query string included.
    pub url: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

/// An HTTP response, fully read.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The request did not complete within the timeout.
    Timeout(String),
    /// The connection failed (refused, reset, DNS, TLS, ...), or the request was malformed.
    Connection(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Timeout(message) | SendError::Connection(message) => f.write_str(message),
        }
    }
}

/// The largest response body read, bytes (well above the 256 KiB payload limit, so the limit
/// check sees oversized bodies rather than a transport error).
pub const RESPONSE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Sends `request` and reads the whole response, within `timeout`; with `destinations`, only
/// to addresses they permit (checked after name resolution).
pub fn send(
    request: &HttpRequest,
    timeout: Duration,
    destinations: Option<&Destinations>,
) -> Result<HttpResponse, SendError> {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .build();
    let agent = match destinations {
        Some(destinations) => ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            CheckedResolver {
                resolver: ureq::unversioned::resolver::DefaultResolver::default(),
                destinations: destinations.clone(),
            },
        ),
        None => config.into(),
    };
    let (mut response, status, headers) = run(&agent, request)?;
    let body = response
        .body_mut()
        .with_config()
        .limit(RESPONSE_BYTES_MAX)
        .read_to_vec()
        .map_err(map_error)?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// A response whose body is read as it arrives.
pub struct StreamingResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Box<dyn std::io::Read + Send>,
}

impl StreamingResponse {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Reads the rest of the body, at most [`RESPONSE_BYTES_MAX`] bytes of it.
    pub fn read_whole(self) -> Result<HttpResponse, SendError> {
        use std::io::Read;
        let mut body = Vec::new();
        self.body
            .take(RESPONSE_BYTES_MAX)
            .read_to_end(&mut body)
            .map_err(|error| SendError::Connection(error.to_string()))?;
        Ok(HttpResponse {
            status: self.status,
            headers: self.headers,
            body,
        })
    }
}

/// Sends `request` and answers once the response's head has arrived, within `head_timeout`;
/// the body is then read as the caller reads it, each read within `head_timeout` too, so a
/// large object streams for as long as it keeps arriving.
pub fn open(request: &HttpRequest, head_timeout: Duration) -> Result<StreamingResponse, SendError> {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(head_timeout))
        .timeout_send_request(Some(head_timeout))
        .timeout_send_body(Some(head_timeout))
        .timeout_recv_response(Some(head_timeout))
        .timeout_per_read(Some(head_timeout))
        .max_redirects(0)
        .build();
    let agent: ureq::Agent = config.into();
    let (response, status, headers) = run(&agent, request)?;
    let body = response.into_body().into_reader();
    Ok(StreamingResponse {
        status,
        headers,
        body: Box::new(body),
    })
}

/// A response as ureq gives it, with its status and headers read.
type Answered = (ureq::http::Response<ureq::Body>, u16, Vec<(String, String)>);

/// Sends `request` with `agent` and reads the response's head.
fn run(agent: &ureq::Agent, request: &HttpRequest) -> Result<Answered, SendError> {
    let mut builder = ureq::http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let invalid =
        |error: ureq::http::Error| SendError::Connection(format!("invalid request: {error}"));
    let response = match &request.body {
        Some(body) => agent.run(builder.body(body.clone()).map_err(invalid)?),
        None => agent.run(builder.body(()).map_err(invalid)?),
    }
    .map_err(map_error)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect();
    Ok((response, status, headers))
}

fn map_error(error: ureq::Error) -> SendError {
    match error {
        ureq::Error::Timeout(_) => SendError::Timeout(error.to_string()),
        _ => SendError::Connection(error.to_string()),
    }
}

/// Resolves names as ureq does, then keeps only the addresses `destinations` permit.
#[derive(Debug)]
struct CheckedResolver {
    resolver: ureq::unversioned::resolver::DefaultResolver,
    destinations: Destinations,
}

impl ureq::unversioned::resolver::Resolver for CheckedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let resolved = self.resolver.resolve(uri, config, timeout)?;
        let host = uri.host().unwrap_or_default();
        let mut permitted = self.resolver.empty();
        let (mut refused, mut kept) = (None, 0);
        for address in &resolved {
            match self.destinations.check(host, address.ip()) {
                Ok(()) => {
                    permitted.push(*address);
                    kept += 1;
                }
                Err(why) => refused = Some(why),
            }
        }
        match refused {
            Some(why) if kept == 0 => Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                why,
            ))),
            _ => Ok(permitted),
        }
    }
}

/// The reason phrase of a status code (`404` → `Not Found`), empty when unknown.
pub fn reason_phrase(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("")
}
