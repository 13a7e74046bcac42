//! API errors: AWS's error codes and message texts, and the one place store errors map to them.

use serde_json::json;

/// An error answered to a client as HTTP 400 `{"__type": code, "message": message}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// AWS's error code (the exception shape's name), e.g. `StateMachineDoesNotExist`.
    pub code: &'static str,
    /// The message, in AWS's wording where it is known.
    pub message: String,
    /// HTTP status: 400 for every modelled error, 500 for our own failures.
    pub status: u16,
}

/// The result of an operation.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with HTTP status 400.
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            status: 400,
        }
    }

    /// The response body.
    pub fn body(&self) -> serde_json::Value {
        json!({"__type": self.code, "message": self.message})
    }

    /// `InvalidArn: Invalid Arn: '<arn>'`.
    pub fn invalid_arn(arn: &str) -> ApiError {
        ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'"))
    }

    /// `InvalidArn` for an Express execution ARN given to a Standard-only operation.
    pub fn express_arn() -> ApiError {
        ApiError::new(
            "InvalidArn",
            "Invalid Arn: 'Resource type not valid in this context: express'",
        )
    }

    /// `InvalidName: Invalid Name: '<name>'`.
    pub fn invalid_name(name: &str) -> ApiError {
        ApiError::new("InvalidName", format!("Invalid Name: '{name}'"))
    }

    /// `StateMachineDoesNotExist`.
    pub fn state_machine_does_not_exist(arn: &str) -> ApiError {
        ApiError::new(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        )
    }

    /// `StateMachineDeleting`: the machine is being deleted (AWS documents the error, not its
    /// message; this is worded as `StateMachineDoesNotExist` is).
    pub fn state_machine_deleting(arn: &str) -> ApiError {
        ApiError::new(
            "StateMachineDeleting",
            format!("State Machine is being deleted: '{arn}'"),
        )
    }

    /// `ExecutionDoesNotExist`.
    pub fn execution_does_not_exist(arn: &str) -> ApiError {
        ApiError::new(
            "ExecutionDoesNotExist",
            format!("Execution Does Not Exist: '{arn}'"),
        )
    }

    /// `ConflictException` (HTTP 409, as AWS documents it) for a resource another request
    /// changed while this one was writing it: "Updating or deleting a resource can cause an
    /// inconsistent state. This error occurs when there're concurrent requests for
    /// DeleteStateMachineVersion, PublishStateMachineVersion, or UpdateStateMachine with the
    /// publish parameter set to true." AWS documents no message; this one is ours.
    pub fn concurrent_change(arn: &str) -> ApiError {
        ApiError::conflict(format!(
            "Updating or deleting a resource can cause an inconsistent state: '{arn}' was changed by a concurrent request"
        ))
    }

    /// `ConflictException`, with the HTTP status AWS documents for it (409, where AWS's other
    /// modelled errors answer 400).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            code: "ConflictException",
            message: message.into(),
            status: 409,
        }
    }

    /// `ResourceNotFound`.
    pub fn resource_not_found(arn: &str) -> ApiError {
        ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'"))
    }

    /// `InvalidToken` for a paging token we did not issue.
    pub fn invalid_token(token: &str) -> ApiError {
        ApiError::new("InvalidToken", format!("Invalid Token: '{token}'"))
    }

    /// `ValidationException` in AWS's constraint wording.
    pub fn validation(value: &str, field: &str, constraint: &str) -> ApiError {
        ApiError::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value {value} at '{field}' failed to satisfy constraint: {constraint}"
            ),
        )
    }

    /// `InvalidLoggingConfiguration`, AWS's words after its `Invalid Logging Configuration: `.
    pub fn invalid_logging_configuration(reason: &str) -> ApiError {
        ApiError::new(
            "InvalidLoggingConfiguration",
            format!("Invalid Logging Configuration: {reason}"),
        )
    }

    /// `ValidationException` for a required member that is missing.
    pub fn missing(field: &str) -> ApiError {
        ApiError::validation("null", field, "Member must not be null")
    }

    /// A request body or member of the wrong JSON type.
    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new("SerializationException", message)
    }

    /// A request body over the size we read.
    pub fn request_too_large(bytes_max: usize) -> ApiError {
        ApiError::new(
            "ValidationException",
            format!("The request body is larger than {bytes_max} bytes or could not be read"),
        )
    }

    /// A request body that did not arrive in time: HTTP 408.
    pub fn request_timeout(timeout: std::time::Duration) -> ApiError {
        ApiError {
            code: "RequestTimeoutException",
            message: format!(
                "The request body did not arrive within {} s",
                timeout.as_secs_f64()
            ),
            status: 408,
        }
    }

    /// AWS's answer to more work than the service takes now (SDKs back off and retry).
    pub fn throttling() -> ApiError {
        ApiError::new("ThrottlingException", "Rate exceeded")
    }

    /// Our own failure (a panic, damaged stored data): HTTP 500 `InternalFailure`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            code: "InternalFailure",
            message: message.into(),
            status: 500,
        }
    }
}

impl ApiError {
    /// 503 `ServiceUnavailable` for an execution that another node of the cluster runs, or
    /// will run once it takes it over: SDKs retry, and the retry reaches its node.
    pub fn node_moved() -> ApiError {
        ApiError {
            code: "ServiceUnavailable",
            message: "The execution is moving to another node of the cluster; try again".into(),
            status: 503,
        }
    }
}

impl From<steppe_store::Error> for ApiError {
    fn from(error: steppe_store::Error) -> ApiError {
        match error {
            // Damaged or undecodable data stays so: asking again will not help, so these are
            // not the 503 that tells SDKs to back off and retry.
            steppe_store::Error::Corrupt(_) | steppe_store::Error::Decode(_) => {
                ApiError::internal(format!("The request failed on stored data: {error}"))
            }
            _ => ApiError {
                code: "ServiceUnavailable",
                message: format!("The request could not be made durable: {error}"),
                status: 503,
            },
        }
    }
}

impl From<crate::driver::Error> for ApiError {
    fn from(error: crate::driver::Error) -> ApiError {
        match error {
            crate::driver::Error::Store(error) => error.into(),
            crate::driver::Error::Quarantined(reason) => {
                ApiError::internal(format!("The execution was quarantined: {reason}"))
            }
            crate::driver::Error::NotOwner => ApiError::node_moved(),
            crate::driver::Error::Throttled => ApiError::throttling(),
        }
    }
}
