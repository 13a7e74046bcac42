//! DeleteStateMachine's second half: a Standard state machine with running executions stays
//! `DELETING` until they have ended.
//!
//! AWS's API reference: "It sets the state machine's status to `DELETING` and begins the
//! deletion process. A state machine is deleted only when all its executions are completed.
//! On the next state transition, the state machine's executions are terminated." AWS's
//! knowledge center shows how they end: `ExecutionFailed` with error `States.Runtime` and
//! cause "State machine <name> has been deleted.", and a machine stays `DELETING` while an
//! execution waits in a Wait state or for a task.
//!
//! [`Deletions`] knows the machines being deleted (their stored `deleting` flag brings them
//! back after a restart). The driver asks it what to apply instead of an input that would
//! make the next state transition ([`Deletions::deleting`], [`instead`]); while any machine is being
//! deleted, each execution's end reaches [`execution_ended`] (an effect, see `effects.rs`),
//! and [`finish`] then deletes the machine, its versions and aliases once none of its
//! executions is running. Revisions stay: the executions'
//! histories and DescribeStateMachineForExecution still refer to them.

use crate::app::App;
use crate::error::ApiResult;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use steppe_asl::error_name;
use steppe_engine::Input;
use steppe_store::{ExecutionQuery, ExecutionStatus, Resource, StateMachine, Write};

/// The machines being deleted; see the module documentation.
#[derive(Default)]
pub struct Deletions {
    /// Names of the machines being deleted, by ARN.
    deleting: Mutex<HashMap<String, String>>,
    /// Whether `deleting` may be non-empty: the driver's check costs no lock otherwise.
    any: AtomicBool,
}

impl std::fmt::Debug for Deletions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deletions").finish_non_exhaustive()
    }
}

impl Deletions {
    /// From now on, the machine's executions end at their next state transition.
    pub fn mark(&self, machine: &StateMachine) {
        let mut deleting = lock(&self.deleting);
        deleting.insert(machine.arn.clone(), machine.name.clone());
        self.any.store(true, Ordering::Release);
    }

    /// The machine is gone (deleted here or by another node).
    pub fn forget(&self, state_machine_arn: &str) {
        let mut deleting = lock(&self.deleting);
        deleting.remove(state_machine_arn);
        self.any.store(!deleting.is_empty(), Ordering::Release);
    }

    /// The name of `state_machine_arn`'s machine, if it is being deleted (see [`instead`]).
    pub fn deleting(&self, state_machine_arn: &str) -> Option<String> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.deleting).get(state_machine_arn).cloned()
    }

    /// Whether any machine is being deleted (then each execution's end is sent to
    /// [`execution_ended`]).
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }
}

/// An execution's end was committed: its machine, if being deleted, may be done.
pub async fn execution_ended(app: &App, execution_id: u64) {
    let machine_arn = match app.store.execution(execution_id) {
        Ok(Some(row)) => row.state_machine_arn,
        Ok(None) => return,
        Err(error) => {
            tracing::error!(execution_id, %error, "cannot read the execution");
            return;
        }
    };
    finish_retrying(app, &machine_arn).await;
}

/// [`finish`], tried again while the store does not answer (its commit failed with a 503:
/// nothing was made durable), after the driver's delays (100 ms doubling to
/// `STORE_RETRY_DELAY_MAX`). Without it a failed commit left the machine DELETING, its
/// executions all ended, until the server restarted (found by the simulator: seed 557).
async fn finish_retrying(app: &App, state_machine_arn: &str) {
    let mut failures = 0u32;
    loop {
        let Err(error) = finish(app, state_machine_arn).await else {
            return;
        };
        tracing::error!(
            state_machine_arn,
            error = %error.message,
            "deletion not finished"
        );
        if error.status != 503 {
            return;
        }
        tokio::time::sleep(crate::driver::store_retry_delay(failures)).await;
        failures = failures.saturating_add(1);
    }
}

/// What to apply instead of `input` to an execution whose machine is `deleting` (its name):
/// the execution's end, if `input` would move it on.
pub fn instead(deleting: Option<&str>, input: Input) -> Input {
    match deleting {
        Some(name) if is_transition(&input) => terminated(name),
        _ => input,
    }
}

/// Whether applying `input` can move an execution to its next state (a heartbeat, a task's
/// start or a stop request cannot; a stop still ends the execution as the caller asked).
fn is_transition(input: &Input) -> bool {
    matches!(
        input,
        Input::Continue
            | Input::TimerFired { .. }
            | Input::TaskSucceeded { .. }
            | Input::TaskFailed { .. }
    )
}

/// How an execution of a deleted machine ends (AWS's knowledge center shows this event).
fn terminated(state_machine_name: &str) -> Input {
    Input::Fail {
        error: error_name::RUNTIME.to_string(),
        cause: format!("State machine {state_machine_name} has been deleted."),
    }
}

/// Whether any execution of the state machine is running.
pub fn has_running_executions(app: &App, state_machine_arn: &str) -> ApiResult<bool> {
    let running = app.store.list_executions(&ExecutionQuery {
        state_machine_arn: state_machine_arn.to_string(),
        status: Some(ExecutionStatus::Running),
        limit: 1,
        ..ExecutionQuery::default()
    })?;
    Ok(!running.is_empty())
}

/// Deletes a machine being deleted, with its versions and aliases, if none of its executions
/// is running any more.
///
/// On a shared store every node may get here for the same machine (each of its nodes
/// learns of the deletion, and the last execution may end on any of them): the store, not
/// this node's registry, says whether the machine is still being deleted, and deleting it
/// twice deletes nothing more.
pub async fn finish(app: &App, state_machine_arn: &str) -> ApiResult<()> {
    let mut registry = app.registry.write().await;
    let deleting = registry
        .state_machines
        .get(state_machine_arn)
        .is_some_and(|machine| machine.deleting);
    if !deleting || has_running_executions(app, state_machine_arn)? {
        return Ok(());
    }
    if app.cluster.shared() {
        let stored = app.store.resource(state_machine_arn)?;
        if !matches!(stored, Some(Resource::StateMachine(machine)) if machine.deleting) {
            return Ok(());
        }
    }
    let keys = registry.keys_of(state_machine_arn);
    app.commit(keys.iter().cloned().map(Write::DeleteResource).collect())
        .await?;
    for key in &keys {
        registry.remove(key);
    }
    app.driver.deletions().forget(state_machine_arn);
    Ok(())
}

/// At startup, before recovery: the machines stored as `DELETING` end their executions at
/// their next state transition again, and those whose executions ended before the restart
/// are deleted now.
pub async fn resume(app: &Arc<App>) {
    let deleting: Vec<StateMachine> = app
        .registry
        .read()
        .await
        .state_machines
        .values()
        .filter(|machine| machine.deleting)
        .cloned()
        .collect();
    for machine in deleting {
        app.driver.deletions().mark(&machine);
        let app = app.clone();
        tokio::spawn(async move { finish_retrying(&app, &machine.arn).await });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
