//! The simulated callback worker: Task states that wait for a task token
//! (`.waitForTaskToken`, [`workload::CALLBACK_RESOURCE`]) send an SQS message carrying the
//! token to an endpoint the simulator does not configure, so the server calls no service and
//! only waits for the token, as it does when a callback's service is not reachable from it.
//! The worker reads the message from the task's durable row, as if SQS delivered it once the
//! task's scheduling was committed (a message is never lost: which tokens a worker knows is
//! not a fault the server could undo, and the activity worker already covers lost tokens).
//!
//! It then answers as [`workload::callback_answer`] says: on time, failing, with heartbeats
//! within `HeartbeatSeconds`, with one heartbeat too late (after which the task has timed out
//! with `States.HeartbeatTimeout` if it has `HeartbeatSeconds`), after `TimeoutSeconds`,
//! twice, or never. What each answer must get back is checked when it comes back
//! ([`Plan::check`]): once an answer was accepted, any other answer to the token gets
//! `TaskTimedOut`, and so does an answer or heartbeat sent after the task's timeout.

use crate::workload::{self, Answer};
use serde_json::Value;
use std::collections::HashSet;
use steppe_store::{MemoryStore, Store};

/// How long after a callback task's timeout the worker sends a late answer: far more than a
/// slow commit can delay the task's start (its timers start when `TaskStarted` applies,
/// after the worker may have read its message).
pub const LATE_MARGIN_MILLIS: i64 = 60_000;

/// A callback task's message, read from its durable row.
#[derive(Debug, Clone)]
pub struct Callback {
    /// The task token.
    pub token: String,
    /// The message (`MessageBody`), token included.
    pub message: Value,
    /// The task's `HeartbeatSeconds`, if it has one.
    pub heartbeat_seconds: Option<u64>,
}

/// The callback tasks of the executions `execution_ids` whose scheduling is durable and
/// whose token is not in `taken` yet (it is added), in execution and task order.
pub fn arrived(
    durable: &MemoryStore,
    execution_ids: impl Iterator<Item = u64>,
    taken: &mut HashSet<String>,
) -> Vec<Callback> {
    let mut arrived = Vec::new();
    for execution_id in execution_ids {
        let Ok(tasks) = durable.tasks(execution_id) else {
            continue;
        };
        for task in tasks {
            if task.resource != workload::CALLBACK_RESOURCE {
                continue;
            }
            let Some(token) = task.task_token else {
                continue;
            };
            if !taken.insert(token.clone()) {
                continue;
            }
            arrived.push(Callback {
                token,
                message: task.parameters["MessageBody"].clone(),
                heartbeat_seconds: task.heartbeat_seconds,
            });
        }
    }
    arrived
}

/// What the worker sends for one task, and when: heartbeats first, then its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The first send, at the earliest (milliseconds after the worker took the task).
    pub first_after_millis: i64,
    /// Heartbeats still to send before the answer.
    pub heartbeats_left: u8,
    /// Between a heartbeat that was accepted and the next send.
    pub heartbeat_every_millis: i64,
    /// Answers still to send (two for a twice-sent answer).
    pub sends_left: u8,
    /// Everything is sent after the task timed out: nothing may be accepted.
    pub must_time_out: bool,
    /// An answer was accepted: another may not be.
    pub accepted: bool,
}

impl Plan {
    /// The plan for a callback task's `answer`; `soon` is a short delay drawn from the seed.
    pub fn callback(answer: &Answer, heartbeat_seconds: Option<u64>, soon: i64) -> Plan {
        let heartbeat_millis = workload::HEARTBEAT_SECONDS * 1000;
        let mut plan = Plan::activity(answer, soon);
        match answer {
            Answer::Late(_) => {
                plan.first_after_millis =
                    workload::TASK_TIMEOUT_SECONDS * 1000 + LATE_MARGIN_MILLIS;
                plan.must_time_out = true;
            }
            // Well within `HeartbeatSeconds` even when the task started a little after
            // the worker read its message.
            Answer::Heartbeats(_, count) => {
                plan.heartbeats_left = *count;
                plan.heartbeat_every_millis = heartbeat_millis / 4;
            }
            Answer::HeartbeatLate(_) => {
                plan.first_after_millis = 2 * heartbeat_millis;
                plan.heartbeats_left = 1;
                plan.must_time_out = heartbeat_seconds.is_some();
            }
            Answer::Succeed(_) | Answer::Fail(_) | Answer::Twice(_) | Answer::Never => {}
        }
        plan
    }

    /// The plan for an activity task's `answer` (late ones one second after their timeout,
    /// counted from when the worker took it, not checked to time out).
    pub fn activity(answer: &Answer, soon: i64) -> Plan {
        Plan {
            first_after_millis: match answer {
                Answer::Late(_) => (workload::TASK_TIMEOUT_SECONDS + 1) * 1000,
                _ => soon,
            },
            heartbeats_left: 0,
            heartbeat_every_millis: 0,
            sends_left: match answer {
                Answer::Twice(_) => 2,
                Answer::Never => 0,
                _ => 1,
            },
            must_time_out: false,
            accepted: false,
        }
    }

    /// Takes an accepted send (a heartbeat while `heartbeats_left` is not 0, else an answer);
    /// answers a violation if it should not have been accepted.
    pub fn check(&mut self) -> Result<(), String> {
        if self.must_time_out {
            return Err(
                "a callback task accepted an answer or heartbeat after it timed out".into(),
            );
        }
        if self.heartbeats_left > 0 {
            self.heartbeats_left -= 1;
            return Ok(());
        }
        if self.accepted {
            return Err("a task token accepted a second answer".into());
        }
        self.accepted = true;
        self.sends_left = self.sends_left.saturating_sub(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(answer: Answer, heartbeat_seconds: Option<u64>) -> Plan {
        Plan::callback(&answer, heartbeat_seconds, 5)
    }

    #[test]
    fn a_twice_sent_answer_may_be_accepted_once() {
        let mut twice = plan(Answer::Twice(json!(1)), None);
        assert_eq!((twice.first_after_millis, twice.sends_left), (5, 2));
        assert_eq!(twice.check(), Ok(()));
        assert_eq!(twice.sends_left, 1);
        assert!(twice.check().is_err());
    }

    #[test]
    fn heartbeats_come_first_and_well_within_heartbeat_seconds() {
        let mut beating = plan(Answer::Heartbeats(json!(1), 3), Some(60));
        assert_eq!(beating.heartbeat_every_millis, 15_000);
        for left in [2, 1, 0] {
            assert_eq!(beating.check(), Ok(()));
            assert_eq!((beating.heartbeats_left, beating.sends_left), (left, 1));
        }
        assert_eq!(beating.check(), Ok(()));
        assert_eq!(beating.sends_left, 0);
    }

    #[test]
    fn nothing_sent_after_a_timeout_may_be_accepted() {
        let mut late = plan(Answer::Late(json!(1)), Some(60));
        assert_eq!(late.first_after_millis, 660_000);
        assert!(late.check().is_err());
        let mut late_heartbeat = plan(Answer::HeartbeatLate(json!(1)), Some(60));
        assert_eq!(late_heartbeat.first_after_millis, 120_000);
        assert!(late_heartbeat.check().is_err());
        // Without `HeartbeatSeconds` a late heartbeat times nothing out.
        let mut no_heartbeat = plan(Answer::HeartbeatLate(json!(1)), None);
        assert_eq!(no_heartbeat.check(), Ok(()));
        assert_eq!(no_heartbeat.check(), Ok(()));
        assert_eq!(no_heartbeat.sends_left, 0);
        assert_eq!(plan(Answer::Never, Some(60)).sends_left, 0);
    }

    #[test]
    fn a_callback_answer_ignores_the_token() {
        let message = json!({"state": "Task1", "x": 4, "token": "a"});
        let other_token = json!({"state": "Task1", "x": 4, "token": "b"});
        assert_eq!(
            workload::callback_answer(7, &message),
            workload::callback_answer(7, &other_token)
        );
    }
}
