//! Work that parts of the server ask of the whole: the driver and the Express runner own no
//! way back to the server that owns them, so what needs the whole server (starting a nested
//! execution, stopping one, finishing a state machine's deletion) is sent here as an
//! [`Effect`] and carried out by [`run`], which holds the server.
//!
//! The queue is bounded ([`EFFECTS_QUEUED_MAX`]); a sender that finds it full hands the
//! effect to a task that waits for room, so the driver never blocks on it and no effect is
//! dropped. [`run`] only spawns, so the queue drains as fast as effects arrive.

use crate::app::App;
use crate::tasks::OpenTask;
use std::sync::Arc;
use steppe_runtime::TaskOutcome;
use tokio::sync::{mpsc, oneshot};

/// The most effects waiting for [`run`].
pub const EFFECTS_QUEUED_MAX: usize = 1024;

/// See the module documentation.
#[derive(Debug)]
pub enum Effect {
    /// Carry out a committed `states:startExecution` task of a Standard execution; its
    /// outcome is delivered to the driver.
    Nested(Box<OpenTask>),
    /// Run an Express execution's plain `states:startExecution` task and answer its outcome.
    NestedForExpress(Box<OpenTask>, oneshot::Sender<TaskOutcome>),
    /// Stop a Standard execution: the child of a `.sync` task that was cancelled.
    StopChild(String),
    /// An execution whose machine is being deleted ended: the deletion may be finished.
    ExecutionOfDeletedMachineEnded(u64),
}

/// Where effects are sent; cheap to clone.
#[derive(Debug, Clone)]
pub struct Effects {
    sender: mpsc::Sender<Effect>,
}

/// The receiving end, for [`run`].
#[derive(Debug)]
pub struct Receiver(mpsc::Receiver<Effect>);

/// A new queue of effects.
pub fn channel() -> (Effects, Receiver) {
    let (sender, receiver) = mpsc::channel(EFFECTS_QUEUED_MAX);
    (Effects { sender }, Receiver(receiver))
}

impl Effects {
    /// Queues an effect without waiting (must run in a tokio runtime).
    pub fn send(&self, effect: Effect) {
        match self.sender.try_send(effect) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(effect)) => {
                let sender = self.sender.clone();
                tokio::spawn(async move {
                    let _ = sender.send(effect).await;
                });
            }
            // The server is stopping: nothing is left to carry effects out.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Carries out effects until the server stops (the task running it is aborted then).
pub async fn run(app: Arc<App>, mut receiver: Receiver) {
    while let Some(effect) = receiver.0.recv().await {
        let app = app.clone();
        tokio::spawn(async move { carry_out(&app, effect).await });
    }
}

async fn carry_out(app: &Arc<App>, effect: Effect) {
    match effect {
        Effect::Nested(task) => crate::nested::carry_out(app, *task).await,
        Effect::NestedForExpress(task, reply) => {
            let _ = reply.send(crate::nested::invoke(app, &task).await);
        }
        Effect::StopChild(execution_arn) => crate::nested::stop_child(app, &execution_arn).await,
        Effect::ExecutionOfDeletedMachineEnded(execution_id) => {
            crate::deletion::execution_ended(app, execution_id).await
        }
    }
}
