//! Task integrations on the server: Step Functions Local mocks, Lambda (local commands or
//! Invoke endpoints), the HTTP Task and plain nested executions, for Standard and Express
//! executions alike. Blocking work runs on tokio's blocking pool.
//!
//! Semantics are at least once: a task's row stays in the store until its result is
//! committed, so a task in flight when the server stops runs again after the restart.
//!
//! Mocks: an execution started as `stateMachineArn#TestCaseName` (with `--mock-config`) has
//! every Task state its test case names answered by the mocked response for that state's
//! `invocation`th task, as Step Functions Local does: the service is never called, and a
//! mocked `.waitForTaskToken` task gets its answer without waiting for a token. Activity
//! tasks are never mocked (Step Functions Local mocks service integrations): their workers
//! answer. States the test case does not name run their real integration.

use crate::effects::{Effect, Effects};
use crate::error::{ApiError, ApiResult};
use crate::tasks::OpenTask;
use std::sync::Arc;
use steppe_engine::TaskInvocation;
use steppe_runtime::TaskOutcome;
use steppe_tasks::mock::MockConfig;
use steppe_tasks::{http, lambda, services, CALLBACK_SUFFIX};

/// What the server's Task states can call.
#[derive(Debug)]
pub struct Integrations {
    /// Lambda functions (`--functions`), if given.
    pub functions: Option<lambda::Functions>,
    /// EventBridge connections for the HTTP Task (`--connections`).
    pub connections: http::Connections,
    /// Nested workflows (`states:startExecution`), which start children on this server.
    pub nested: crate::nested::Nested,
    /// Where nested executions are asked for (they need the whole server).
    pub effects: Effects,
    /// Step Functions Local's mock configuration (`--mock-config`), if given.
    pub mocks: Option<MockConfig>,
    /// Where AWS service integrations go (`--aws-endpoint`, `--service-endpoint`).
    pub services: services::Services,
    /// Where execution log events go (`loggingConfiguration`, `--execution-log`).
    pub execution_log: crate::execution_log::ExecutionLog,
    /// Where the HTTP Task and API Gateway calls may connect (`--http-allow`, `--http-deny`).
    pub destinations: steppe_tasks::destinations::Destinations,
    /// Where task latencies are recorded.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where executions' traces go (`--otlp-endpoint`).
    pub traces: Arc<crate::traces::Traces>,
    /// The stderr tails of the last Lambda command runs, for the console.
    pub stderr_tails: Arc<steppe_tasks::command::StderrTails>,
}

impl Integrations {
    /// Checks a `stateMachineArn#TestCaseName` start: the mock configuration must define
    /// the test case for the state machine.
    pub fn check_test_case(&self, state_machine_name: &str, test_case: &str) -> ApiResult<()> {
        let Some(mocks) = &self.mocks else {
            return Err(ApiError::new(
                "ValidationException",
                format!("The test case '{test_case}' needs a mock configuration (--mock-config)"),
            ));
        };
        mocks
            .test_case(state_machine_name, test_case)
            .map(|_| ())
            .map_err(|error| ApiError::new("ValidationException", error.to_string()))
    }

    /// The mocked outcome of a task whose execution runs `test_case`, when the test case
    /// mocks the task's state.
    pub fn mocked(
        &self,
        execution_arn: &str,
        test_case: Option<&str>,
        task: &TaskInvocation,
    ) -> Option<TaskOutcome> {
        let test_case = test_case?;
        // Activities, and a Map's ItemReader pages and ResultWriter exports (steppe's own
        // tasks), are never mocked.
        if crate::tasks::is_activity(&task.resource)
            || task.resource == steppe_engine::ITEM_READER_RESOURCE
            || task.resource == steppe_engine::RESULT_WRITER_RESOURCE
        {
            return None;
        }
        let machine = state_machine_name(execution_arn)?;
        self.mocks
            .as_ref()?
            .answer(machine, test_case, &task.state_name, task.invocation)
    }

    /// Runs a request-response task (Lambda, HTTP, a plain nested execution) to its outcome,
    /// and records how long it took.
    pub async fn invoke(self: &Arc<Self>, task: OpenTask) -> TaskOutcome {
        let started = std::time::Instant::now();
        let resource = task.record.resource.clone();
        let outcome = self.invoke_untimed(task).await;
        self.metrics.task(&resource, started.elapsed());
        outcome
    }

    async fn invoke_untimed(self: &Arc<Self>, task: OpenTask) -> TaskOutcome {
        if crate::nested::is_start_execution(&task.record.resource) {
            if !crate::nested::is_plain_start_execution(&task.record.resource) {
                return steppe_tasks::unconfigured(
                    &TaskInvocation::from(task.record),
                    "the pattern needs a Standard execution",
                );
            }
            let (reply, outcome) = tokio::sync::oneshot::channel();
            self.effects
                .send(Effect::NestedForExpress(Box::new(task), reply));
            return outcome.await.unwrap_or_else(|_| {
                steppe_tasks::failed(
                    steppe_asl::error_name::TASK_FAILED,
                    "The server stopped before the nested execution started".to_string(),
                )
            });
        }
        let integrations = self.clone();
        let traceparent = task.trace.map(|trace| trace.traceparent());
        let execution_arn = task.execution_arn;
        let invocation = TaskInvocation::from(task.record);
        let resource = invocation.resource.clone();
        let state_name = invocation.state_name.clone();
        tokio::task::spawn_blocking(move || {
            integrations.invoke_for(&invocation, Some(&execution_arn), traceparent.as_deref())
        })
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

    /// Calls the service of a `.waitForTaskToken` task (Lambda, API Gateway, SQS, SNS,
    /// EventBridge, ECS, an `aws-sdk` service) and returns its answer: the service's response (the task then
    /// waits for its token) or the call's failure. `None` when there is no service to call
    /// here (no endpoint is configured for it): the token can still reach a worker through
    /// the console.
    pub async fn call_for_callback(self: &Arc<Self>, task: &OpenTask) -> Option<TaskOutcome> {
        let resource = task.record.resource.strip_suffix(CALLBACK_SUFFIX)?;
        let callable = resource == lambda::INVOKE_RESOURCE
            || resource == steppe_tasks::apigateway::INVOKE_RESOURCE
            || services::call_of(resource)
                .is_some_and(|(call, _)| self.services.endpoint(call.service).is_some());
        if !callable {
            return None;
        }
        let mut request = task.clone();
        request.record.resource = resource.to_string();
        Some(self.invoke(request).await)
    }

    /// Runs a task that belongs to no execution (TestState) on its local integration.
    pub(crate) fn invoke_blocking(&self, task: &TaskInvocation) -> TaskOutcome {
        self.invoke_for(task, None, None)
    }

    /// Runs a task of the execution `execution_arn` on its local integration.
    fn invoke_for(
        &self,
        task: &TaskInvocation,
        execution_arn: Option<&str>,
        traceparent: Option<&str>,
    ) -> TaskOutcome {
        let local = steppe_tasks::Local {
            functions: self.functions.as_ref(),
            connections: &self.connections,
            services: &self.services,
            destinations: &self.destinations,
            execution_arn,
            traceparent,
            stderr_tails: Some(&self.stderr_tails),
        };
        steppe_tasks::invoke_local(&local, task)
            .unwrap_or_else(|why| steppe_tasks::unconfigured(task, &why))
    }
}

/// The state machine name in an execution ARN (Standard or Express).
fn state_machine_name(execution_arn: &str) -> Option<&str> {
    execution_arn.split(':').nth(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_name_is_read_from_standard_and_express_arns() {
        assert_eq!(
            state_machine_name("arn:aws:states:us-east-1:123456789012:execution:Orders:run-1"),
            Some("Orders")
        );
        assert_eq!(
            state_machine_name("arn:aws:states:us-east-1:123456789012:express:Orders:run-1:7e1b"),
            Some("Orders")
        );
    }
}
