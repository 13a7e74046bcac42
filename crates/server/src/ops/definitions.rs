//! ValidateStateMachineDefinition and TestState: definition tooling that needs no stored
//! state machine.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::wire::Request;
use serde_json::{json, Value};
use steppe_asl::diagnostic::{Diagnostic, Severity};
use steppe_store::StateMachineType;

pub fn validate(request: &Request) -> ApiResult<Value> {
    let definition = request.required_len("definition", 1, 1_048_576)?;
    let machine_type = super::machines::machine_type(request)?;
    let include_warnings = match request.string("severity")? {
        None | Some("ERROR") => false,
        Some("WARNING") => true,
        Some(other) => {
            return Err(ApiError::validation(
                &format!("'{other}'"),
                "severity",
                "Member must satisfy enum value set: [ERROR, WARNING]",
            ))
        }
    };
    let max = request.max_results(100, 100)?;
    let mut diagnostics: Vec<Diagnostic> = match steppe_asl::compile(definition) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics,
    };
    if diagnostics.is_empty() && machine_type == StateMachineType::Express {
        if let Ok(value) = serde_json::from_str::<Value>(definition) {
            diagnostics = super::machines::express_diagnostics(&value);
        }
    }
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let shown: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| include_warnings || d.severity == Severity::Error)
        .collect();
    let truncated = shown.len() > max;
    let items: Vec<Value> = shown
        .iter()
        .take(max)
        .map(|d| {
            let mut item = json!({
                "code": d.code.as_str(),
                "message": d.message,
                "severity": d.severity.as_str(),
            });
            if let Some(location) = &d.location {
                item["location"] = json!(location);
            }
            item
        })
        .collect();
    Ok(json!({
        "result": if failed { "FAIL" } else { "OK" },
        "diagnostics": items,
        "truncated": truncated,
    }))
}

/// TestState runs on the blocking pool: a Task state without a mock waits for its integration
/// (a Lambda command, an HTTP endpoint).
pub async fn test_state(app: &App, request: Request) -> ApiResult<Value> {
    request.required_len("definition", 1, 1_048_576)?;
    // AWS asks for the `states:RevealSecrets` permission; with `--credentials`, a key's
    // profile grants it (`steppe_reveal_secrets = true`).
    if app.credentials.is_some() && request.boolean("revealSecrets")? == Some(true) {
        let caller = request.caller.as_ref();
        if !caller.is_some_and(|caller| caller.reveal_secrets) {
            return Err(ApiError::new(
                "AccessDeniedException",
                format!(
                    "User: {} is not authorized to perform: states:RevealSecrets (its --credentials \
                     profile does not set steppe_reveal_secrets = true)",
                    caller.map_or("anonymous", |caller| caller.access_key_id.as_str())
                ),
            ));
        }
    }
    let integrations = app.driver.integrations().clone();
    tokio::task::spawn_blocking(move || {
        let definition = request.required_len("definition", 1, 1_048_576)?;
        crate::test_state::run(definition, &request, &integrations)
    })
    .await
    .unwrap_or_else(|panic| Err(ApiError::internal(format!("TestState failed: {panic}"))))
}
