//! Task integrations on the server: Lambda (local commands or Invoke endpoints) and the HTTP
//! Task through `steppe-tasks`, run on tokio's blocking pool.
//!
//! Semantics are at least once: a task's row stays in the store until its result is
//! committed, so a task in flight when the server stops runs again after the restart.

use crate::driver::Driver;
use std::sync::Arc;
use steppe_engine::TaskInvocation;
use steppe_runtime::TaskOutcome;
use steppe_tasks::{http, lambda};

/// What the server's Task states can call.
#[derive(Debug, Default)]
pub struct Integrations {
    /// Lambda functions (`--functions`), if given.
    pub functions: Option<lambda::Functions>,
    /// EventBridge connections for the HTTP Task (`--connections`).
    pub connections: http::Connections,
    /// Nested workflows (`states:startExecution`), which start children on this server.
    pub nested: crate::nested::Nested,
}

impl Integrations {
    /// Runs a task to its outcome.
    pub async fn invoke(
        self: &Arc<Self>,
        _driver: &Arc<Driver>,
        task: TaskInvocation,
    ) -> TaskOutcome {
        let integrations = self.clone();
        let resource = task.resource.clone();
        let state_name = task.state_name.clone();
        tokio::task::spawn_blocking(move || integrations.invoke_blocking(&task))
            .await
            .unwrap_or_else(|panic| {
                steppe_tasks::failed(
                    steppe_asl::error_name::TASK_FAILED,
                    format!(
                        "The integration for the resource '{resource}' of the state '{state_name}' panicked: {panic}"
                    ),
                )
            })
    }

    fn invoke_blocking(&self, task: &TaskInvocation) -> TaskOutcome {
        let resource = task.resource.as_str();
        if resource == lambda::INVOKE_RESOURCE || lambda::function_arn_name(resource).is_some() {
            return match &self.functions {
                Some(functions) => lambda::invoke(functions, task),
                None => unconfigured(task, "no functions file is given (--functions)"),
            };
        }
        if resource == http::INVOKE_RESOURCE {
            return http::invoke(&self.connections, task);
        }
        unconfigured(task, "steppe has no integration for it")
    }
}

fn unconfigured(task: &TaskInvocation, why: &str) -> TaskOutcome {
    steppe_tasks::failed(
        steppe_asl::error_name::TASK_FAILED,
        format!(
            "No integration is configured for the resource '{}' of the state '{}': {why}",
            task.resource, task.state_name
        ),
    )
}
