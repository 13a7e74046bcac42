//! Validation diagnostics in AWS's shape: a code, a JSON-pointer location and a message.
//!
//! `ValidateStateMachineDefinition` returns these unchanged, and `CreateStateMachine`
//! joins them into one `InvalidDefinition` message, so their wording follows AWS's.

use std::fmt;

/// The class of a diagnostic, spelled as AWS spells it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The definition is not valid JSON.
    InvalidJsonDescription,
    /// A field is missing, has the wrong type or value, or does not belong where it is.
    SchemaValidationFailed,
    /// A `Next`, `Default` or `StartAt` names a state that does not exist.
    MissingTransitionTarget,
    /// A state can never be reached from `StartAt`.
    UnreachableState,
    /// A `States` block has no state that ends it.
    MissingEndState,
    /// Two states share a name.
    DuplicateStateName,
}

impl Code {
    /// The code as AWS writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidJsonDescription => "INVALID_JSON_DESCRIPTION",
            Code::SchemaValidationFailed => "SCHEMA_VALIDATION_FAILED",
            Code::MissingTransitionTarget => "MISSING_TRANSITION_TARGET",
            Code::UnreachableState => "UNREACHABLE_STATE",
            Code::MissingEndState => "MISSING_END_STATE",
            Code::DuplicateStateName => "DUPLICATE_STATE_NAME",
        }
    }
}

/// How bad a diagnostic is. Only errors make a definition invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The definition is rejected.
    Error,
    /// The definition is accepted, but something is likely wrong.
    Warning,
}

impl Severity {
    /// The severity as AWS writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        }
    }
}

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What kind of problem.
    pub code: Code,
    /// JSON pointer to the offending node, `/` for the root (AWS style); AWS gives none for
    /// whole-workflow problems such as a missing end state.
    pub location: Option<String>,
    /// Human-readable explanation in AWS's wording, without a trailing period.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = self.location.as_deref().unwrap_or("null");
        write!(
            f,
            "{}: {} at {}",
            self.code.as_str(),
            self.message,
            location
        )
    }
}

/// Collects diagnostics while walking a definition.
///
/// Keeps at most [`DIAGNOSTICS_BYTES_MAX`](crate::limits::DIAGNOSTICS_BYTES_MAX) of locations
/// and messages (and always the first diagnostic); later ones still count as errors. A
/// location can be nearly as long as the definition (a long state name is in every location
/// under it), so without a bound a 1 MiB definition could produce gigabytes of diagnostics.
#[derive(Debug, Default)]
pub struct Diagnostics {
    /// Everything found so far, in document order, up to the size bound.
    pub items: Vec<Diagnostic>,
    /// Errors recorded, including those dropped by the size bound.
    errors: usize,
    /// Bytes of the locations and messages in `items`.
    bytes: usize,
}

impl Diagnostics {
    /// Records an error.
    pub fn error(&mut self, code: Code, location: impl Into<String>, message: impl Into<String>) {
        self.push(Diagnostic {
            code,
            location: Some(location.into()),
            message: message.into(),
            severity: Severity::Error,
        });
    }

    /// Records an error about the whole workflow, which AWS reports without a location.
    pub fn unlocated(&mut self, code: Code, message: impl Into<String>) {
        self.push(Diagnostic {
            code,
            location: None,
            message: message.into(),
            severity: Severity::Error,
        });
    }

    /// Records a `SCHEMA_VALIDATION_FAILED` error, the most common kind.
    pub fn schema(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.error(Code::SchemaValidationFailed, location, message);
    }

    /// How many errors were recorded so far.
    pub fn error_count(&self) -> usize {
        self.errors
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        if diagnostic.severity == Severity::Error {
            self.errors += 1;
        }
        let bytes = diagnostic.location.as_ref().map_or(0, String::len) + diagnostic.message.len();
        if self.items.is_empty() || self.bytes + bytes <= crate::limits::DIAGNOSTICS_BYTES_MAX {
            self.bytes += bytes;
            self.items.push(diagnostic);
        }
    }
}

/// Joins diagnostics into the message of AWS's `InvalidDefinition` error.
pub fn invalid_definition_message(diagnostics: &[Diagnostic]) -> String {
    let parts: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("'{d}'"))
        .collect();
    format!("Invalid State Machine Definition: {}", parts.join(", "))
}
