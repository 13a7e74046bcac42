//! Reading request members and writing response values in the AWS JSON 1.0 shapes.

use crate::error::{ApiError, ApiResult};
use serde_json::{Map, Value};

/// A request body: a JSON object whose members are read with AWS's validation messages.
#[derive(Debug)]
pub struct Request {
    members: Map<String, Value>,
    /// Who signed the request, when the server checks signatures (`--credentials`).
    pub caller: Option<crate::auth::Caller>,
    /// The request's `X-Amzn-Trace-Id` header (X-Ray's trace header), when it has one.
    pub trace_header: Option<String>,
    /// The account and region it acts in (see `auth::scope`): the ARNs it builds and sees.
    pub arns: crate::arn::Arns,
    /// The request as it arrived, when it came over HTTP (a cluster may forward it).
    pub original: Option<std::sync::Arc<crate::cluster::Original>>,
    /// Whether another node forwarded it (it is answered here, never forwarded again).
    pub forwarded: bool,
    /// The activity task a forwarding node claimed for this one to hand out.
    pub claimed: Option<(u64, u64)>,
}

impl Request {
    /// Wraps a parsed body acting in `arns`; anything but an object is a serialization error.
    pub fn new(body: Value, arns: crate::arn::Arns) -> ApiResult<Request> {
        match body {
            Value::Object(members) => Ok(Request {
                members,
                caller: None,
                trace_header: None,
                arns,
                original: None,
                forwarded: false,
                claimed: None,
            }),
            Value::Null => Ok(Request {
                members: Map::new(),
                caller: None,
                trace_header: None,
                arns,
                original: None,
                forwarded: false,
                claimed: None,
            }),
            _ => Err(ApiError::serialization(
                "Start of structure or map found where not expected",
            )),
        }
    }

    /// Every member, in the order given.
    pub fn members(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.members.iter()
    }

    /// A member, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.members.get(key).filter(|v| !v.is_null())
    }

    /// An optional string member.
    pub fn string(&self, key: &str) -> ApiResult<Option<&str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::serialization(format!(
                "STRING_VALUE can not be converted to {key}"
            ))),
        }
    }

    /// A required string member.
    pub fn required(&self, key: &str) -> ApiResult<&str> {
        self.string(key)?.ok_or_else(|| ApiError::missing(key))
    }

    /// A required string member with a length constraint.
    pub fn required_len(&self, key: &str, min: usize, max: usize) -> ApiResult<&str> {
        let value = self.required(key)?;
        check_len(key, value, min, max)?;
        Ok(value)
    }

    /// An optional string member with a length constraint.
    pub fn string_len(&self, key: &str, min: usize, max: usize) -> ApiResult<Option<&str>> {
        let value = self.string(key)?;
        if let Some(value) = value {
            check_len(key, value, min, max)?;
        }
        Ok(value)
    }

    /// An optional boolean member.
    pub fn boolean(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::serialization(format!(
                "Boolean value expected for {key}"
            ))),
        }
    }

    /// An optional integer member.
    pub fn integer(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => value.as_i64().map(Some).ok_or_else(|| {
                ApiError::serialization(format!("Integer value expected for {key}"))
            }),
        }
    }

    /// An optional object member.
    pub fn object(&self, key: &str) -> ApiResult<Option<&Map<String, Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(ApiError::serialization(format!(
                "Start of structure or map expected for {key}"
            ))),
        }
    }

    /// An optional list member.
    pub fn list(&self, key: &str) -> ApiResult<Option<&Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(ApiError::serialization(format!(
                "Start of list expected for {key}"
            ))),
        }
    }

    /// `maxResults`: 0..=`max`, 0 meaning `default`.
    pub fn max_results(&self, max: i64, default: usize) -> ApiResult<usize> {
        match self.integer("maxResults")? {
            None | Some(0) => Ok(default),
            Some(n) if n < 0 => Err(ApiError::validation(
                &format!("'{n}'"),
                "maxResults",
                "Member must have value greater than or equal to 0",
            )),
            Some(n) if n > max => Err(ApiError::validation(
                &format!("'{n}'"),
                "maxResults",
                &format!("Member must have value less than or equal to {max}"),
            )),
            Some(n) => Ok(n as usize),
        }
    }

    /// `nextToken` as an offset we issued.
    pub fn offset_token(&self) -> ApiResult<usize> {
        match self.string_len("nextToken", 1, 1024)? {
            None => Ok(0),
            Some(token) => decode_offset(token).ok_or_else(|| ApiError::invalid_token(token)),
        }
    }
}

fn check_len(key: &str, value: &str, min: usize, max: usize) -> ApiResult<()> {
    let n = value.chars().count();
    if n < min {
        return Err(ApiError::validation(
            &format!("'{value}'"),
            key,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        // Long values (definitions, inputs) are not echoed back.
        let shown = if n > 256 {
            "at".to_string()
        } else {
            format!("'{value}' at")
        };
        return Err(ApiError::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value {shown} '{key}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            ),
        ));
    }
    Ok(())
}

/// An opaque paging token for an offset into a listing.
pub fn offset_token(offset: usize) -> String {
    format!("steppe-page-{offset:016x}")
}

fn decode_offset(token: &str) -> Option<usize> {
    let hex = token.strip_prefix("steppe-page-")?;
    usize::from_str_radix(hex, 16).ok()
}

/// One page of `items` from `offset`, and the token for the next page.
pub fn page<T: Clone>(items: &[T], offset: usize, limit: usize) -> (Vec<T>, Option<String>) {
    let start = offset.min(items.len());
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len()).then(|| offset_token(end));
    (items[start..end].to_vec(), next)
}

/// Epoch milliseconds as AWS's epoch-seconds timestamp.
pub fn timestamp(millis: i64) -> Value {
    serde_json::Number::from_f64(millis as f64 / 1000.0)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}
