//! A step's plan: the inputs queued for one execution applied through the engine, and what
//! their transitions ask for: the writes to commit as one group, and what to do once they
//! are durable (timers to arm, tasks to open or close, callers to answer).
//!
//! Pure: no clock, no store, no runtime, no locks. The driver reads what a plan needs first
//! ([`Context`]), plans under the execution's slot, submits [`Plan::writes`] and carries out
//! the rest once they commit. Tests plan without tokio.

use super::{
    follow_ups, guarded, Applied, Counts, Live, Queued, Reply, TaskOperation, TimerOperation,
    BATCH_MAX,
};
use crate::tasks::{is_activity, OpenTask};
use std::collections::VecDeque;
use steppe_engine::{apply, Command, Input, Random, TaskInvocation};
use steppe_store::{
    ExecutionEnd, InputRecord, LoggedInput, StoredEvent, TaskRecord, Timer, TransitionRecord, Write,
};

/// What a plan needs besides the execution and its queue, read before planning.
pub(super) struct Context<'a> {
    /// The execution's store id.
    pub execution_id: u64,
    /// Now, epoch milliseconds: when inputs without a time of their own apply.
    pub now_millis: i64,
    /// The name of the execution's state machine, if it is being deleted: its next state
    /// transition ends it instead.
    pub deleting: Option<&'a str>,
    /// The execution's open task with this id, as stored.
    pub open_task: &'a dyn Fn(u64) -> Option<TaskRecord>,
    /// Where activity task tokens come from.
    pub random: &'a mut Random,
}

/// What applying a batch of inputs asked for.
pub(super) struct Plan {
    /// To commit as one group.
    pub writes: Vec<Write>,
    /// Timers to arm and disarm once committed, in the order the transitions asked.
    pub timer_operations: Vec<TimerOperation>,
    /// Timers whose firing the group applied (to deliver again if it fails).
    pub fired_timers: Vec<u64>,
    /// Integration results the group applied (to deliver again if it fails).
    pub task_results: Vec<Input>,
    /// Each applied input's reply and what it did.
    pub replies: Vec<(Option<Reply>, Applied)>,
    /// Tasks to open or close once committed, in order.
    pub task_operations: Vec<TaskOperation>,
    /// Why the engine failed on an input (it panicked): then nothing of the group may be
    /// committed.
    pub quarantine: Option<String>,
    /// What the metrics count once the group is committed (all but the end).
    pub counts: Counts,
    /// Trace spans the group's transitions ended, to export once it is committed.
    pub spans: Vec<crate::traces::Span>,
}

/// Applies up to [`BATCH_MAX`] of the inputs queued now (not the follow-ups they queue,
/// which go to the back of `queue`) to `live`.
pub(super) fn plan(live: &mut Live, queue: &mut VecDeque<Queued>, context: Context<'_>) -> Plan {
    let batch = queue.len().min(BATCH_MAX);
    let mut writes = Vec::new();
    let mut timer_operations = Vec::new();
    let mut fired_timers = Vec::new();
    let mut replies = Vec::new();
    let mut task_operations = Vec::new();
    let mut task_results = Vec::new();
    let mut quarantine = None;
    let mut counts = Counts::default();
    let mut spans = Vec::new();
    for _ in 0..batch {
        let redrive = queue
            .front()
            .is_some_and(|queued| queued.input == Input::Redrive);
        if live.execution.is_finished() && !(redrive && live.execution.is_redrivable()) {
            break;
        }
        let Some(queued) = queue.pop_front() else {
            break;
        };
        let now_millis = queued.at_millis.unwrap_or(context.now_millis);
        let Queued {
            input,
            prefix,
            reply,
            ..
        } = queued;
        writes.extend(prefix);
        let mut timers_cleared = Vec::new();
        let mut tasks_started = Vec::new();
        let mut tasks_cleared = Vec::new();
        match &input {
            Input::TaskSucceeded { task_id, .. } | Input::TaskFailed { task_id, .. } => {
                if reply.is_none() {
                    task_results.push(input.clone());
                }
                tasks_cleared.push(*task_id);
                task_operations.push(TaskOperation::Close(*task_id));
            }
            Input::TaskStarted { task_id, .. } => {
                // An activity task a worker took: keep it from being handed out again.
                if let Some(task) = (context.open_task)(*task_id) {
                    tasks_started.push(task);
                }
            }
            Input::TaskSubmitted { task_id, .. } => {
                // A callback's service took the call: never call it again.
                if let Some(mut task) = (context.open_task)(*task_id) {
                    task.submitted = true;
                    tasks_started.push(task);
                }
            }
            _ => {}
        }
        if let Input::TimerFired { timer_id } = &input {
            fired_timers.push(*timer_id);
            timers_cleared.push(*timer_id);
            timer_operations.push(TimerOperation::Cancel(*timer_id));
        }
        // A machine being deleted ends its executions at their next state transition (the
        // bookkeeping above still closes the task or timer that brought the input).
        let input = crate::deletion::instead(context.deleting, input);
        let record = InputRecord::from(&input);
        let redrive = input == Input::Redrive;
        let start = input == Input::Start;
        let states_entered = live.execution.states_entered();
        let applied = guarded(|| apply(&live.definition, &mut live.execution, input, now_millis));
        let transition = match applied {
            Ok(transition) => transition,
            Err(reason) => {
                replies.push((
                    reply,
                    Applied {
                        applied: false,
                        now_millis,
                        status: None,
                    },
                ));
                quarantine = Some(reason);
                break;
            }
        };
        counts.states_entered += live.execution.states_entered() - states_entered;
        counts.started |= start;
        counts.redriven += u64::from(redrive);
        if redrive {
            // Reopen the row in the same group as the transition that reruns it.
            writes.push(Write::Redrive {
                execution_id: context.execution_id,
                redrive_count: live.execution.info.redrive_count,
                redrive_millis: now_millis,
            });
        }
        let seq = live.next_seq;
        live.next_seq += 1;
        let mut timers_started = Vec::new();
        for command in &transition.commands {
            match command {
                Command::StartTimer {
                    timer_id,
                    fire_at_millis,
                } => {
                    timers_started.push(Timer {
                        execution_id: context.execution_id,
                        timer_id: *timer_id,
                        fire_at_millis: *fire_at_millis,
                    });
                    timer_operations.push(TimerOperation::Start(*timer_id, *fire_at_millis));
                }
                Command::CancelTimer { timer_id } => {
                    timers_cleared.push(*timer_id);
                    timer_operations.push(TimerOperation::Cancel(*timer_id));
                }
                Command::InvokeTask(task) => {
                    let mut record = task_record(task, now_millis, context.random);
                    record.test_case = live.test_case.clone();
                    tasks_started.push(record.clone());
                    let trace = live
                        .trace
                        .as_ref()
                        .map(|trace| trace.task(&task.state_name, task.invocation));
                    task_operations.push(TaskOperation::Open(Box::new(OpenTask {
                        execution_id: context.execution_id,
                        execution_arn: live.execution.info.execution_arn.clone(),
                        record,
                        trace,
                    })));
                }
                Command::CancelTask { task_id } => {
                    tasks_cleared.push(*task_id);
                    task_operations.push(TaskOperation::Close(*task_id));
                }
                _ => {}
            }
        }
        // Follow-ups go to the back of the queue: they apply in a later step, after
        // this group is committed.
        for owed in follow_ups(&transition.commands) {
            queue.push_back(Queued::local(owed));
        }
        let execution = &live.execution;
        let end = execution.is_finished().then(|| ExecutionEnd {
            status: execution.status.into(),
            stop_millis: execution.stop_time_millis.unwrap_or(now_millis),
            output: execution.output.as_ref().map(|output| output.to_string()),
            error: execution.error.as_ref().and_then(|e| e.error.clone()),
            cause: execution.error.as_ref().and_then(|e| e.cause.clone()),
        });
        let events: Vec<StoredEvent> = transition.events.iter().map(StoredEvent::from).collect();
        live.history_hash = steppe_store::history_hash(live.history_hash, &events);
        #[cfg(feature = "sim-bugs")]
        let events = corrupt_event(events);
        let record = TransitionRecord {
            execution_id: context.execution_id,
            input: LoggedInput {
                seq,
                now_millis,
                input: record,
                history_hash: Some(live.history_hash),
            },
            events,
            end,
            timers_started,
            timers_cleared,
            tasks_started,
            tasks_cleared,
            pending: queue
                .iter()
                .filter(|queued| queued.local)
                .map(|queued| InputRecord::from(&queued.input))
                .collect(),
        };
        writes.push(Write::Transition(Box::new(record)));
        if let Some(trace) = &mut live.trace {
            trace.observe(&transition.events, &mut spans);
        }
        replies.push((
            reply,
            Applied {
                applied: true,
                now_millis,
                status: Some(execution.status),
            },
        ));
    }
    Plan {
        writes,
        timer_operations,
        fired_timers,
        task_results,
        replies,
        task_operations,
        quarantine,
        counts,
        spans,
    }
}

/// The `corrupt-event` bug (feature `sim-bugs`): the fifth event of a history is stored
/// with another timestamp than the engine gave it (and than the running hash covers).
#[cfg(feature = "sim-bugs")]
fn corrupt_event(mut events: Vec<StoredEvent>) -> Vec<StoredEvent> {
    if crate::sim::injected(crate::sim::Bug::CorruptEvent) {
        for event in events.iter_mut().filter(|event| event.id == 5) {
            event.json = event.json.replacen("\"timestamp\":", "\"timestamp\":1", 1);
        }
    }
    events
}

/// The stored form of a scheduled task; activity tasks get a token here.
fn task_record(task: &TaskInvocation, now_millis: i64, random: &mut Random) -> TaskRecord {
    let mut record = TaskRecord::from(task);
    record.scheduled_millis = now_millis;
    if is_activity(&task.resource) {
        record.task_token = Some(format!(
            "{:016x}{:016x}{:016x}{:016x}",
            random.next_u64(),
            random.next_u64(),
            random.next_u64(),
            random.next_u64()
        ));
    } else {
        record.started = true;
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::sync::Arc;
    use steppe_engine::{Config, Execution, ExecutionInfo};
    use steppe_store::ExecutionStatus;

    const NOW: i64 = 1_700_000_000_000;

    fn live(definition: &str) -> Live {
        let definition = steppe_asl::compile(definition).expect("the definition compiles");
        let info = ExecutionInfo {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
            name: "e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            state_machine_name: "m".into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            region: "us-east-1".into(),
            start_time_millis: NOW,
            redrive_count: 0,
            id: 0,
        };
        Live {
            execution: Execution::new(info, json!({}), Config::standard(), 7),
            definition: Arc::new(definition),
            next_seq: 0,
            history_hash: steppe_store::HISTORY_HASH_EMPTY,
            test_case: None,
            trace: None,
        }
    }

    fn plan_now(
        live: &mut Live,
        queue: &mut VecDeque<Queued>,
        deleting: Option<&str>,
        seed: u64,
    ) -> Plan {
        plan(
            live,
            queue,
            Context {
                execution_id: 1,
                now_millis: NOW,
                deleting,
                open_task: &|_| None,
                random: &mut Random::new(seed),
            },
        )
    }

    fn transitions(plan: &Plan) -> Vec<&TransitionRecord> {
        plan.writes
            .iter()
            .filter_map(|write| match write {
                Write::Transition(record) => Some(&**record),
                _ => None,
            })
            .collect()
    }

    fn event_types(record: &TransitionRecord) -> Vec<String> {
        record
            .events
            .iter()
            .map(|event| {
                let event: Value = serde_json::from_str(&event.json).unwrap();
                event["type"].as_str().unwrap().to_string()
            })
            .collect()
    }

    /// The Wait state's timer: the one due in 10 s.
    fn wait_timer(record: &TransitionRecord) -> u64 {
        let due: Vec<u64> = record
            .timers_started
            .iter()
            .filter(|timer| timer.fire_at_millis == NOW + 10_000)
            .map(|timer| timer.timer_id)
            .collect();
        assert_eq!(due.len(), 1, "one timer falls due in 10 s");
        due[0]
    }

    const WAIT: &str = r#"{"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 10, "Next": "Done"},
        "Done": {"Type": "Succeed"}}}"#;

    #[test]
    fn a_start_commits_its_transition_and_arms_the_wait_once_committed() {
        let mut live = live(WAIT);
        let mut queue = VecDeque::from([Queued::local(Input::Start)]);
        let plan = plan_now(&mut live, &mut queue, None, 1);
        assert!(plan.quarantine.is_none());
        let transitions = transitions(&plan);
        assert_eq!(transitions.len(), 1);
        let start = transitions[0];
        assert_eq!(start.input.seq, 0);
        assert_eq!(start.input.now_millis, NOW);
        assert_eq!(event_types(start), ["ExecutionStarted", "WaitStateEntered"]);
        assert!(start.end.is_none());
        // The Wait's timer (beside the execution's own) is stored with the transition and
        // armed only after the commit.
        let wait = wait_timer(start);
        assert!(plan.timer_operations.iter().any(|operation| matches!(
            operation,
            TimerOperation::Start(id, at) if *id == wait && *at == NOW + 10_000
        )));
        assert_eq!(plan.replies.len(), 1);
        assert!(plan.replies[0].1.applied);
        assert_eq!(live.next_seq, 1);
        assert!(queue.is_empty());
    }

    #[test]
    fn the_next_transition_of_an_execution_whose_machine_is_being_deleted_ends_it() {
        let mut live = live(WAIT);
        let mut queue = VecDeque::from([Queued::local(Input::Start)]);
        let started = plan_now(&mut live, &mut queue, None, 1);
        let timer_id = wait_timer(transitions(&started)[0]);
        queue.push_back(Queued::local(Input::TimerFired { timer_id }));
        let plan = plan_now(&mut live, &mut queue, Some("m"), 1);
        let transitions = transitions(&plan);
        let end = transitions[0].end.as_ref().expect("the execution ended");
        assert_eq!(end.status, ExecutionStatus::Failed);
        assert_eq!(end.error.as_deref(), Some("States.Runtime"));
        assert_eq!(
            end.cause.as_deref(),
            Some("State machine m has been deleted.")
        );
        // The timer that brought the input is cleared with it.
        assert!(transitions[0].timers_cleared.contains(&timer_id));
        assert_eq!(plan.fired_timers, [timer_id]);
    }

    #[test]
    fn activity_task_tokens_come_from_the_plans_generator() {
        const ACTIVITY: &str = r#"{"StartAt": "Work", "States": {"Work": {"Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "End": true}}}"#;
        let token = |seed| {
            let mut live = live(ACTIVITY);
            let mut queue = VecDeque::from([Queued::local(Input::Start)]);
            let plan = plan_now(&mut live, &mut queue, None, seed);
            let [TaskOperation::Open(task)] = plan.task_operations.as_slice() else {
                panic!("one task is opened");
            };
            // An activity task waits for a worker to take it.
            assert!(!task.record.started);
            task.record
                .task_token
                .clone()
                .expect("an activity task has a token")
        };
        assert_eq!(token(5), token(5));
        assert_ne!(token(5), token(6));
        assert_eq!(token(5).len(), 64);
    }
}
