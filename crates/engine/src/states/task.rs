//! `Task`: hands work to the runtime through [`Command::InvokeTask`] and waits for its result,
//! under `TimeoutSeconds` and `HeartbeatSeconds` timers, which start when the task starts
//! (`Input::TaskStarted`), as AWS counts them: an activity task may wait in its queue longer.
//! A Task whose resource is an activity ARN records `Activity*` events instead of `Task*` ones.

use super::fail_state;
use crate::event::{Details, ErrorCause, TaskResource};
use crate::execution::{Command, Frame, FrameId, Phase, TaskInvocation};
use crate::io::{self, Env};
use crate::run::{to_text, Next, Run};
use serde_json::Value;
use steppe_asl::definition::{Dynamic, State, Task};
use steppe_asl::error_name::{self, Failure};

/// A task the frame waits for.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub task_id: u64,
    pub resource: TaskResource,
    pub timeout_timer: Option<u64>,
    pub heartbeat_timer: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
    pub timeout_seconds: Option<u64>,
    /// The resource is an activity ARN: history shows `Activity*` events.
    pub activity: bool,
}

pub(crate) fn run(
    run: &mut Run<'_>,
    id: FrameId,
    mut frame: Frame,
    state: &State,
    task: &Task,
) -> Next {
    if task.resource.ends_with(".waitForTaskToken") {
        frame.task_token = Some(task_token(run));
    }
    let scheduled = (|| {
        let parameters = io::arguments(run, &frame, state)?;
        let timeout_seconds = seconds(
            run,
            &frame,
            task.timeout_seconds.as_ref(),
            "TimeoutSecondsPath",
        )?;
        let heartbeat_seconds = seconds(
            run,
            &frame,
            task.heartbeat_seconds.as_ref(),
            "HeartbeatSecondsPath",
        )?;
        Ok::<_, Failure>((parameters, timeout_seconds, heartbeat_seconds))
    })();
    let (parameters, timeout_seconds, heartbeat_seconds) = match scheduled {
        Ok(scheduled) => scheduled,
        Err(failure) => return super::fail_before_start(run, id, frame, state, failure, None),
    };
    let resource = task_resource(&task.resource);
    let task_id = run.new_wait_id();
    let region = run.execution.info.region.clone();
    let shown_resource = resource.clone();
    let parameters_text = if run.record_payloads() {
        to_text(&parameters)
    } else {
        String::new()
    };
    let activity = is_activity(&task.resource);
    let event = if activity {
        let activity_arn = task.resource.clone();
        run.emit(frame.previous_event_id, || Details::ActivityScheduled {
            resource: activity_arn,
            input: parameters_text,
            timeout_in_seconds: timeout_seconds,
            heartbeat_in_seconds: heartbeat_seconds,
        })
    } else {
        run.emit(frame.previous_event_id, || Details::TaskScheduled {
            resource: shown_resource,
            region,
            parameters: parameters_text,
            timeout_in_seconds: timeout_seconds,
            heartbeat_in_seconds: heartbeat_seconds,
        })
    };
    frame.previous_event_id = event;
    run.execution.waiting.insert(task_id, id);
    let invocations = run
        .execution
        .task_invocations
        .entry(state.name.clone())
        .or_default();
    let invocation = *invocations;
    *invocations += 1;
    run.commands.push(Command::InvokeTask(TaskInvocation {
        task_id,
        state_name: state.name.clone(),
        resource: task.resource.clone(),
        parameters,
        timeout_seconds,
        heartbeat_seconds,
        task_token: frame.task_token.clone(),
        invocation,
    }));
    let pending = Pending {
        task_id,
        resource,
        timeout_timer: None,
        heartbeat_timer: None,
        heartbeat_seconds,
        timeout_seconds,
        activity,
    };
    frame.phase = Phase::AwaitTask(Box::new(pending));
    Next::Parked(frame)
}

/// The runtime began running the task.
pub(crate) fn started(run: &mut Run<'_>, task_id: u64, worker_name: Option<String>) {
    let Some((id, mut frame, mut pending)) = take(run, task_id) else {
        return;
    };
    let resource = pending.resource.clone();
    frame.previous_event_id = if pending.activity {
        run.emit(frame.previous_event_id, || Details::ActivityStarted {
            worker_name,
        })
    } else {
        run.emit(frame.previous_event_id, || Details::TaskStarted(resource))
    };
    let now = run.now;
    pending.timeout_timer = pending
        .timeout_seconds
        .map(|s| run.start_timer(id, now.saturating_add(s as i64 * 1000)));
    pending.heartbeat_timer = pending
        .heartbeat_seconds
        .map(|s| run.start_timer(id, now.saturating_add(s as i64 * 1000)));
    frame.phase = Phase::AwaitTask(pending);
    run.store(id, frame);
}

/// The service of a callback task (`.waitForTaskToken`) accepted the call: `TaskSubmitted`
/// records its response while the task waits for its token.
pub(crate) fn submitted(run: &mut Run<'_>, task_id: u64, output: Value) {
    let Some((id, mut frame, pending)) = take(run, task_id) else {
        return;
    };
    let resource = pending.resource.clone();
    let text = if run.record_payloads() {
        to_text(&output)
    } else {
        String::new()
    };
    frame.previous_event_id = run.emit(frame.previous_event_id, || {
        Details::TaskSubmitted(resource, text)
    });
    frame.phase = Phase::AwaitTask(pending);
    run.store(id, frame);
}

/// The task reported a heartbeat: restart its heartbeat timer.
pub(crate) fn heartbeat(run: &mut Run<'_>, task_id: u64) {
    let Some((id, mut frame, mut pending)) = take(run, task_id) else {
        return;
    };
    if let (Some(timer_id), Some(seconds)) = (pending.heartbeat_timer, pending.heartbeat_seconds) {
        run.cancel_wait(timer_id);
        pending.heartbeat_timer =
            Some(run.start_timer(id, run.now.saturating_add(seconds as i64 * 1000)));
    }
    frame.phase = Phase::AwaitTask(pending);
    run.store(id, frame);
}

/// The task ended.
pub(crate) fn completed(run: &mut Run<'_>, task_id: u64, result: Result<Value, Failure>) {
    if let Some((id, mut frame)) = take_map_task(run, task_id) {
        // The Map's events go to the history its frame writes (a Map Run child's, when the
        // Map runs inside one).
        let caller = std::mem::replace(&mut run.sink, frame.sink);
        let next = match std::mem::replace(&mut frame.phase, Phase::Run) {
            Phase::AwaitChildren(children) => {
                let part = children.result_files.as_ref().and_then(|f| f.sending);
                match part {
                    Some((sent, _)) if sent == task_id => {
                        super::result_files::part_answered(run, id, frame, children, result)
                    }
                    _ => super::reader::page(run, id, frame, children, result),
                }
            }
            Phase::AwaitWrite(writing) => super::writer::written(run, id, frame, *writing, result),
            _ => unreachable!("take_map_task checked the phase"),
        };
        run.settle(id, next);
        run.sink = caller;
        return;
    }
    let Some((id, mut frame, pending)) = take(run, task_id) else {
        return;
    };
    run.execution.waiting.remove(&task_id);
    cancel_timers(run, &pending);
    let state = run.definition.state(frame.state);
    let resource = pending.resource.clone();
    let next = match result {
        Ok(output) => {
            let text = if run.record_payloads() {
                to_text(&output)
            } else {
                String::new()
            };
            frame.previous_event_id = if pending.activity {
                run.emit(frame.previous_event_id, || Details::ActivitySucceeded(text))
            } else {
                run.emit(frame.previous_event_id, || {
                    Details::TaskSucceeded(resource, text)
                })
            };
            frame.phase = Phase::Run;
            super::finish_with_result(run, id, frame, state, output)
        }
        Err(failure) => {
            let details = ErrorCause {
                error: Some(failure.error.clone()),
                cause: Some(failure.cause.clone()),
            };
            frame.previous_event_id = if pending.activity {
                run.emit(frame.previous_event_id, || Details::ActivityFailed(details))
            } else {
                run.emit(frame.previous_event_id, || {
                    Details::TaskFailed(resource, details)
                })
            };
            frame.phase = Phase::Run;
            fail_state(run, id, frame, state, failure)
        }
    };
    run.settle(id, next);
}

/// A timer of a waiting task fell due: the task timed out.
pub(crate) fn timer_fired(run: &mut Run<'_>, id: FrameId, mut frame: Frame, timer_id: u64) -> Next {
    let Phase::AwaitTask(pending) = std::mem::replace(&mut frame.phase, Phase::Run) else {
        unreachable!("caller checked the phase")
    };
    let error = if pending.heartbeat_timer == Some(timer_id) {
        error_name::HEARTBEAT_TIMEOUT
    } else {
        error_name::TIMEOUT
    };
    run.execution.waiting.remove(&pending.task_id);
    run.commands.push(Command::CancelTask {
        task_id: pending.task_id,
    });
    cancel_timers(run, &pending);
    let failure = Failure::new(error, "");
    let details = ErrorCause {
        error: Some(error.to_string()),
        cause: None,
    };
    let resource = pending.resource.clone();
    frame.previous_event_id = if pending.activity {
        run.emit(frame.previous_event_id, || {
            Details::ActivityTimedOut(details)
        })
    } else {
        run.emit(frame.previous_event_id, || {
            Details::TaskTimedOut(resource, details)
        })
    };
    let state = run.definition.state(frame.state);
    fail_state(run, id, frame, state, failure)
}

fn take(run: &mut Run<'_>, task_id: u64) -> Option<(FrameId, Frame, Box<Pending>)> {
    let id = *run.execution.waiting.get(&task_id)?;
    let mut frame = run.execution.frames[id.0].take()?;
    // Reset by `Run::handle`'s caller when the input is done.
    run.sink = frame.sink;
    match std::mem::replace(&mut frame.phase, Phase::Run) {
        Phase::AwaitTask(pending) if pending.task_id == task_id => Some((id, frame, pending)),
        other => {
            frame.phase = other;
            run.store(id, frame);
            None
        }
    }
}

/// The Map frame waiting for `task_id`, a page of items it reads or the results it writes,
/// if one is.
fn take_map_task(run: &mut Run<'_>, task_id: u64) -> Option<(FrameId, Frame)> {
    let id = *run.execution.waiting.get(&task_id)?;
    let frame = run.execution.frames[id.0].as_ref()?;
    let waits = match &frame.phase {
        Phase::AwaitChildren(_) | Phase::AwaitWrite(_) => frame.phase.awaits_task(task_id),
        _ => false,
    };
    if !waits {
        return None;
    }
    let frame = run.execution.frames[id.0].take()?;
    run.sink = frame.sink;
    Some((id, frame))
}

fn cancel_timers(run: &mut Run<'_>, pending: &Pending) {
    for timer_id in [pending.timeout_timer, pending.heartbeat_timer]
        .into_iter()
        .flatten()
    {
        run.cancel_wait(timer_id);
    }
}

fn seconds(
    run: &mut Run<'_>,
    frame: &Frame,
    field: Option<&Dynamic<u64>>,
    key: &str,
) -> Result<Option<u64>, Failure> {
    match field {
        None => Ok(None),
        Some(Dynamic::Literal(seconds)) => Ok(Some(*seconds)),
        Some(Dynamic::Jsonata(expression)) => {
            let field = key.trim_end_matches("Path");
            crate::jsonata::number_field(run, frame, expression, field, "integer", |value| {
                value.as_u64().filter(|n| *n >= 1)
            })
            .map(Some)
        }
        Some(Dynamic::Path(path)) => {
            let input = frame.input.clone();
            let mut env = Env::new(run, frame, &input);
            let value = env.lookup(path)?;
            match value.as_ref().and_then(Value::as_u64).filter(|n| *n >= 1) {
                Some(seconds) => Ok(Some(seconds)),
                None => Err(env.runtime(&format!(
                    "The {key} parameter does not reference a valid positive integer: {}",
                    path.as_str()
                ))),
            }
        }
    }
}

/// Whether a resource is an activity ARN (`arn:aws:states:REGION:ACCOUNT:activity:NAME`).
pub(crate) fn is_activity(resource: &str) -> bool {
    let parts: Vec<&str> = resource.splitn(7, ':').collect();
    parts.len() == 7 && parts[2] == "states" && parts[5] == "activity" && !parts[6].is_empty()
}

/// A task token: unique per task, drawn from the execution's seeded generator.
fn task_token(run: &mut Run<'_>) -> String {
    let random = &mut run.execution.random;
    format!(
        "{:016x}{:016x}{:016x}",
        random.next_u64(),
        random.next_u64(),
        random.next_u64()
    )
}

/// How history names a task's resource: `arn:aws:states:::lambda:invoke` is type `lambda`,
/// resource `invoke`; an ARN such as `arn:aws:lambda:region:account:function:f` is type
/// `lambda`, resource the whole ARN.
pub(crate) fn task_resource(resource: &str) -> TaskResource {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    if parts.len() == 6 && parts[2] == "states" && parts[3].is_empty() && parts[4].is_empty() {
        let rest = parts[5];
        let (resource_type, name) = match rest.strip_prefix("aws-sdk:") {
            Some(sdk) => sdk
                .split_once(':')
                .map_or(("aws-sdk", rest), |(service, action)| (service, action)),
            None => rest.split_once(':').unwrap_or((rest, "")),
        };
        let resource_type = if rest.starts_with("aws-sdk:") {
            format!("aws-sdk:{resource_type}")
        } else {
            resource_type.to_string()
        };
        return TaskResource {
            resource_type,
            resource: name.to_string(),
        };
    }
    let service = parts.get(2).copied().unwrap_or_default();
    TaskResource {
        resource_type: service.to_string(),
        resource: resource.to_string(),
    }
}
