//! One application of an input: the scheduler loop, event emission, and how a frame's end
//! or failure travels to its parent (a Parallel or Map) or ends the execution.
//!
//! `previousEventId` follows the algorithm in `docs/history-rules.md`, derived from AWS's
//! recorded histories: each frame carries the id of its latest event, and the first state of
//! the execution is entered with `previousEventId` 0.

use crate::event::{Details, ErrorCause, HistoryEvent, StateType};
use crate::execution::{
    Command, Execution, Frame, FrameId, Input, Phase, Scope, ScopeId, Status, Transition,
    HISTORY_LIMIT_CAUSE,
};
use crate::map_run::{ChildId, MapRunStatus};
use crate::states;
use serde_json::Value;
use steppe_asl::definition::{Definition, Kind, StateId};
use steppe_asl::error_name::{self, Failure};

/// The working context of one [`crate::apply`].
pub(crate) struct Run<'a> {
    pub definition: &'a Definition,
    pub execution: &'a mut Execution,
    pub now: i64,
    events: Vec<HistoryEvent>,
    pub commands: Vec<Command>,
    steps: u32,
    /// Whose history the frame being processed writes to (see [`Frame::sink`]).
    pub sink: Option<ChildId>,
    /// Events are dropped, not numbered: a child execution's frames being aborted by its
    /// parent, whose own history says only `ExecutionAborted`.
    pub discard: bool,
}

/// How a state's run phase ended for its frame.
pub(crate) enum Next {
    /// The frame is ready again (entering its next state).
    Ready(Frame),
    /// The frame waits for a task, a timer or its children; it is stored and registered.
    Parked(Frame),
    /// The block ended with this output.
    Ended(Frame, Value),
    /// The block failed: nothing in this block handles the failure.
    Failed(Frame, Failure),
    /// A Fail state ended the block; its error and cause may be absent.
    FailState(Frame, ErrorCause),
}

impl<'a> Run<'a> {
    pub fn new(definition: &'a Definition, execution: &'a mut Execution, now: i64) -> Run<'a> {
        Run {
            definition,
            execution,
            now,
            events: Vec::new(),
            commands: Vec::new(),
            steps: 0,
            sink: None,
            discard: false,
        }
    }

    pub fn finish(self) -> Transition {
        Transition {
            events: self.events,
            commands: self.commands,
        }
    }

    /// Emits an event into the current sink's history (the execution's, or a Map Run
    /// child's); returns its id. Details are built only when that history is recorded.
    pub fn emit(&mut self, previous_event_id: u64, details: impl FnOnce() -> Details) -> u64 {
        if self.discard {
            return previous_event_id;
        }
        let id = match self.sink {
            None => {
                let id = self.execution.next_event_id;
                self.execution.next_event_id += 1;
                id
            }
            Some(child) => {
                let record = self
                    .execution
                    .map_runs
                    .get_mut(child.map_run)
                    .and_then(|map_run| map_run.child_mut(child.slot));
                let Some(record) = record else {
                    return previous_event_id;
                };
                let id = record.next_event_id;
                record.next_event_id += 1;
                id
            }
        };
        if self.record_history() {
            self.events.push(HistoryEvent {
                id,
                previous_event_id,
                timestamp_millis: self.now,
                details: details(),
            });
        }
        id
    }

    /// Whether the current sink's events are recorded: the execution's history, unless
    /// `Config::child_history` asks for one child's instead.
    pub fn record_history(&self) -> bool {
        let config = &self.execution.config;
        config.record_history && !self.discard && self.sink == config.child_history
    }

    /// Whether events carry the execution's data (`Config::history_payloads`).
    pub fn record_payloads(&self) -> bool {
        self.record_history() && self.execution.config.history_payloads
    }

    pub fn handle(&mut self, input: Input) {
        match input {
            Input::Start => self.start(),
            Input::Continue => {}
            Input::TimerFired { timer_id } => self.timer_fired(timer_id),
            Input::TaskStarted {
                task_id,
                worker_name,
            } => states::task::started(self, task_id, worker_name),
            Input::TaskSubmitted { task_id, output } => {
                states::task::submitted(self, task_id, output)
            }
            Input::TaskHeartbeat { task_id } => states::task::heartbeat(self, task_id),
            Input::TaskSucceeded { task_id, output } => {
                states::task::completed(self, task_id, Ok(output))
            }
            Input::TaskFailed {
                task_id,
                error,
                cause,
            } => states::task::completed(self, task_id, Err(Failure::new(error, cause))),
            Input::Stop { error, cause } => self.stop(error, cause),
            Input::UpdateMapRun {
                map_run_arn,
                update,
            } => states::map::update(self, &map_run_arn, update),
            Input::StopMapRunChild {
                child,
                error,
                cause,
            } => states::child_executions::stop_child(self, child, ErrorCause { error, cause }),
            Input::Redrive => self.redrive(),
            Input::Fail { error, cause } => {
                let last = self.last_top_level_event();
                self.end_execution(Status::Failed, Some(error), Some(cause), last);
            }
        }
    }

    fn start(&mut self) {
        if self.execution.next_event_id != 1 {
            return;
        }
        let input = self.execution.input.clone();
        let role_arn = self.execution.info.role_arn.clone();
        let payloads = self.record_payloads();
        self.emit(0, || Details::ExecutionStarted {
            input: if payloads {
                to_text(&input)
            } else {
                String::new()
            },
            role_arn,
        });
        self.arm_execution_timer();
        let scope = self.new_scope(None);
        let frame = self.new_frame(None, scope, self.definition.start_at(), input, 0);
        self.ready(frame);
    }

    /// Arms the execution's own timer (the definition's `TimeoutSeconds`, else the
    /// workflow type's longest duration) from now: at the start and at each redrive.
    fn arm_execution_timer(&mut self) {
        let timeout = self
            .definition
            .timeout_seconds
            .or(self.execution.config.duration_seconds_max);
        if let Some(seconds) = timeout {
            let timer_id = self.new_wait_id();
            self.execution.execution_timer = Some(timer_id);
            let fire_at_millis = self.now.saturating_add(seconds as i64 * 1000);
            self.commands.push(Command::StartTimer {
                timer_id,
                fire_at_millis,
            });
        }
    }

    /// Runs ready frames until none is left or the step budget is spent.
    pub fn drain(&mut self) {
        while let Some(id) = self.execution.ready.pop_front() {
            if self.execution.status != Status::Running {
                return;
            }
            if self.steps >= self.execution.config.steps_per_apply_max {
                self.execution.ready.push_front(id);
                self.commands.push(Command::Continue);
                return;
            }
            if let Some(max) = self.execution.config.history_events_max {
                if self.execution.next_event_id > max {
                    let cause = format!("{HISTORY_LIMIT_CAUSE} ({max}).");
                    self.end_execution(
                        Status::Failed,
                        Some(error_name::RUNTIME.into()),
                        Some(cause),
                        0,
                    );
                    return;
                }
            }
            self.steps += 1;
            if self.child_history_full(id) {
                continue;
            }
            let Some(frame) = self.execution.frames[id.0].take() else {
                continue;
            };
            self.sink = frame.sink;
            self.step(id, frame);
            self.sink = None;
        }
    }

    /// Whether frame `id` belongs to a Map Run child whose own history reached the limit
    /// (AWS's 25,000 events hold for each child execution); such a child fails with
    /// `States.Runtime`, as an execution does, and its frames stop here.
    fn child_history_full(&mut self, id: FrameId) -> bool {
        let (Some(max), Some(child)) = (
            self.execution.config.history_events_max,
            self.execution.frame_ref(id).and_then(|frame| frame.sink),
        ) else {
            return false;
        };
        let full = self
            .execution
            .map_runs
            .get(child.map_run)
            .and_then(|map_run| map_run.children.get(child.slot))
            .and_then(Option::as_ref)
            .is_some_and(|record| record.next_event_id > max);
        if full {
            let error = ErrorCause {
                error: Some(error_name::RUNTIME.into()),
                cause: Some(format!("{HISTORY_LIMIT_CAUSE} ({max}).")),
            };
            states::child_executions::end_child(self, child, Status::Failed, error);
        }
        full
    }

    fn step(&mut self, id: FrameId, mut frame: Frame) {
        match frame.phase {
            Phase::Enter => {
                let state = self.definition.state(frame.state);
                let state_type = state_type(&state.kind);
                let name = state.name.clone();
                #[cfg(feature = "fault-injection")]
                crate::fault::entering(&name);
                let input = &frame.input;
                let entered_input = if self.record_payloads() {
                    to_text(input)
                } else {
                    String::new()
                };
                frame.entered_previous_event_id = frame.previous_event_id;
                self.execution.states_entered += 1;
                let entered = self.emit(frame.previous_event_id, || Details::StateEntered {
                    state_type,
                    name,
                    input: entered_input,
                });
                frame.entered_event_id = entered;
                frame.previous_event_id = entered;
                frame.entered_time_millis = self.now;
                frame.phase = Phase::Run;
                self.store(id, frame);
                self.execution.ready.push_back(id);
            }
            Phase::Run => {
                let next = states::run(self, id, frame);
                self.settle(id, next);
            }
            _ => unreachable!("only frames in Enter or Run phase are ready"),
        }
    }

    /// Puts a frame back after its state's run phase.
    pub fn settle(&mut self, id: FrameId, next: Next) {
        match next {
            Next::Ready(frame) => {
                self.store(id, frame);
                self.execution.ready.push_back(id);
            }
            Next::Parked(frame) => {
                let parent = frame.parent;
                self.store(id, frame);
                if let Some((parent, _)) = parent {
                    states::map::kick(self, parent);
                }
            }
            Next::Ended(frame, output) => self.frame_ended(id, frame, output),
            Next::Failed(mut frame, mut failure) => {
                states::record_evaluation_failure(self, &mut frame, &mut failure);
                // A Fail state without Error or Cause inside a Parallel or Map reaches here as
                // a `Failure` with empty texts; AWS leaves them absent, as at the top level.
                let details = ErrorCause {
                    error: Some(failure.error).filter(|error| !error.is_empty()),
                    cause: Some(failure.cause).filter(|cause| !cause.is_empty()),
                };
                self.frame_failed(id, frame, details);
            }
            Next::FailState(frame, details) => self.frame_failed(id, frame, details),
        }
    }

    fn frame_ended(&mut self, id: FrameId, frame: Frame, output: Value) {
        self.free_frame(id, &frame);
        match frame.parent {
            Some((parent, slot)) => {
                states::child_ended(self, parent, slot, Ok(output), frame.previous_event_id)
            }
            None => {
                self.execution.output = Some(output.clone());
                let text = if self.record_payloads() {
                    to_text(&output)
                } else {
                    String::new()
                };
                self.emit(frame.previous_event_id, || Details::ExecutionSucceeded {
                    output: text,
                });
                self.finish_execution(Status::Succeeded);
            }
        }
    }

    fn frame_failed(&mut self, id: FrameId, frame: Frame, details: ErrorCause) {
        self.free_frame(id, &frame);
        match frame.parent {
            Some((parent, slot)) => {
                states::child_executions::keep_child_redrive_point(self, &frame);
                let failure = Failure::new(
                    details.error.unwrap_or_default(),
                    details.cause.unwrap_or_default(),
                );
                states::child_ended(self, parent, slot, Err(failure), frame.previous_event_id);
            }
            None => {
                self.keep_redrive_point(&frame);
                self.fail_execution(details, frame.previous_event_id)
            }
        }
    }

    /// Remembers where a redrive resumes: the top-level frame's state, input and variables.
    fn keep_redrive_point(&mut self, frame: &Frame) {
        self.execution.redrive_point = Some(self.redrive_point(frame));
    }

    /// Where a redrive resumes a top-level `frame` (the execution's, or a Map Run child's):
    /// its state, input and variables, and the children of a Parallel or Map that succeeded.
    pub(crate) fn redrive_point(&self, frame: &Frame) -> crate::execution::RedrivePoint {
        let variables = self.execution.scopes[frame.scope.0]
            .as_ref()
            .map(|scope| scope.variables.clone())
            .unwrap_or_default();
        let completed = match &frame.phase {
            Phase::AwaitChildren(children) => Some(children.results.clone()),
            _ => frame.completed.clone(),
        };
        crate::execution::RedrivePoint {
            state: frame.state,
            input: frame.input.clone(),
            variables,
            completed,
        }
    }

    /// Applies [`Input::Redrive`]: reruns the top-level state the execution ended in, with
    /// its input and the variables it had; a Parallel or Map reruns only children that did
    /// not succeed. Retry counts start again from zero.
    pub fn redrive(&mut self) {
        if !self.execution.is_redrivable() {
            return;
        }
        let Some(point) = self.execution.redrive_point.take() else {
            return;
        };
        self.execution.status = Status::Running;
        self.execution.error = None;
        self.execution.stop_time_millis = None;
        self.execution.info.redrive_count += 1;
        self.execution.redrive_time_millis = Some(self.now);
        let redrive_count = self.execution.info.redrive_count;
        let last = self.execution.next_event_id - 1;
        let redriven = self.emit(last, || Details::ExecutionRedriven { redrive_count });
        self.arm_execution_timer();
        let scope = self.new_scope(None);
        for (name, value) in point.variables {
            self.set_variable(scope, name, value);
        }
        let frame = self.new_frame(None, scope, point.state, point.input, redriven);
        if let Some(stored) = self.execution.frames[frame.0].as_mut() {
            stored.completed = point.completed;
        }
        self.ready(frame);
    }

    /// Ends the execution as FAILED, as a Fail state or an unhandled error does.
    pub fn fail_execution(&mut self, error: ErrorCause, previous_event_id: u64) {
        let status = Status::Failed;
        self.end_execution(status, error.error, error.cause, previous_event_id);
    }

    fn end_execution(
        &mut self,
        status: Status,
        error: Option<String>,
        cause: Option<String>,
        previous_event_id: u64,
    ) {
        if status != Status::Failed {
            let top = self
                .execution
                .frames
                .iter()
                .flatten()
                .find(|frame| frame.parent.is_none())
                .cloned();
            if let Some(top) = top {
                self.keep_redrive_point(&top);
            }
        }
        let details = ErrorCause { error, cause };
        self.execution.error = Some(details.clone());
        self.emit(previous_event_id, || match status {
            Status::TimedOut => Details::ExecutionTimedOut(details),
            Status::Aborted => Details::ExecutionAborted(details),
            _ => Details::ExecutionFailed(details),
        });
        self.finish_execution(status);
    }

    fn finish_execution(&mut self, status: Status) {
        self.execution.status = status;
        self.execution.stop_time_millis = Some(self.now);
        // A Map Run still running ends with its execution.
        for index in 0..self.execution.map_runs.len() {
            self.end_map_run(index, MapRunStatus::Aborted);
        }
        let waits: Vec<u64> = self.execution.waiting.keys().copied().collect();
        for wait_id in waits {
            self.cancel_wait(wait_id);
        }
        if let Some(timer_id) = self.execution.execution_timer.take() {
            self.commands.push(Command::CancelTimer { timer_id });
        }
        self.execution.frames.clear();
        self.execution.free_frames.clear();
        self.execution.ready.clear();
        self.execution.scopes.clear();
        self.execution.free_scopes.clear();
    }

    /// Ends Map Run `index` with `status` (if it is still running): its children still
    /// running end as aborted, each with `ExecutionAborted` in its own history.
    pub fn end_map_run(&mut self, index: usize, status: MapRunStatus) {
        let Some(map_run) = self.execution.map_runs.get(index) else {
            return;
        };
        if map_run.status != MapRunStatus::Running {
            return;
        }
        let running: Vec<usize> = map_run
            .children
            .iter()
            .enumerate()
            .filter(|(_, child)| child.as_ref().is_some_and(|c| c.status == Status::Running))
            .map(|(slot, _)| slot)
            .collect();
        for slot in running {
            let child = ChildId {
                map_run: index,
                slot,
            };
            states::child_executions::cancel_child_timer(self, child);
            self.end_child_history(child, None, || {
                Details::ExecutionAborted(ErrorCause::default())
            });
        }
        let now = self.now;
        self.execution.map_runs[index].end(status, now);
    }

    /// Writes the last event of a Map Run child's history (`ExecutionSucceeded`,
    /// `ExecutionFailed`, `ExecutionAborted`), after `previous_event_id`, or after the
    /// child's latest event when the child was stopped from outside.
    pub fn end_child_history(
        &mut self,
        child: ChildId,
        previous_event_id: Option<u64>,
        details: impl FnOnce() -> Details,
    ) {
        let Some(record) = self
            .execution
            .map_runs
            .get(child.map_run)
            .and_then(|map_run| map_run.children.get(child.slot))
            .and_then(Option::as_ref)
        else {
            return;
        };
        let previous_event_id = previous_event_id.unwrap_or(record.next_event_id - 1);
        let (sink, discard) = (self.sink, self.discard);
        self.sink = Some(child);
        self.discard = false;
        self.emit(previous_event_id, details);
        self.sink = sink;
        self.discard = discard;
    }

    fn timer_fired(&mut self, timer_id: u64) {
        if self.execution.execution_timer == Some(timer_id) {
            self.execution.execution_timer = None;
            let last = self.last_top_level_event();
            let cause = "The execution has timed out.".to_string();
            self.end_execution(
                Status::TimedOut,
                Some(error_name::TIMEOUT.into()),
                Some(cause),
                last,
            );
            return;
        }
        if let Some(child) = self.execution.child_timers.remove(&timer_id) {
            if let Some(record) = self.execution.map_runs[child.map_run].child_mut(child.slot) {
                record.timer_id = None;
            }
            let error = ErrorCause {
                error: Some(error_name::TIMEOUT.into()),
                cause: Some("The execution has timed out.".to_string()),
            };
            states::child_executions::end_child(self, child, Status::TimedOut, error);
            return;
        }
        let Some(id) = self.execution.waiting.remove(&timer_id) else {
            return;
        };
        let Some(frame) = self.execution.frames[id.0].take() else {
            return;
        };
        self.sink = frame.sink;
        let next = states::timer_fired(self, id, frame, timer_id);
        self.settle(id, next);
        self.sink = None;
    }

    fn stop(&mut self, error: Option<String>, cause: Option<String>) {
        let last = self.last_top_level_event();
        self.end_execution(Status::Aborted, error, cause, last);
    }

    /// The latest event id of the top-level frame, or of the last event at all.
    fn last_top_level_event(&self) -> u64 {
        self.execution.next_event_id - 1
    }

    /// Forgets a task or timer the execution no longer waits for.
    pub fn cancel_wait(&mut self, wait_id: u64) {
        let Some(frame_id) = self.execution.waiting.remove(&wait_id) else {
            return;
        };
        let is_task = self
            .execution
            .frame_ref(frame_id)
            .is_some_and(|frame| frame.phase.awaits_task(wait_id));
        self.commands.push(if is_task {
            Command::CancelTask { task_id: wait_id }
        } else {
            Command::CancelTimer { timer_id: wait_id }
        });
    }

    /// Forgets a task the execution no longer waits for, whose frame is out of the table
    /// (being aborted), so [`Run::cancel_wait`] could not tell it from a timer.
    pub fn cancel_task(&mut self, task_id: u64) {
        if self.execution.waiting.remove(&task_id).is_some() {
            self.commands.push(Command::CancelTask { task_id });
        }
    }

    pub fn new_wait_id(&mut self) -> u64 {
        let id = self.execution.next_wait_id;
        self.execution.next_wait_id += 1;
        id
    }

    /// Starts a timer that will wake `frame` at `fire_at_millis`.
    pub fn start_timer(&mut self, frame: FrameId, fire_at_millis: i64) -> u64 {
        let timer_id = self.new_wait_id();
        self.execution.waiting.insert(timer_id, frame);
        self.commands.push(Command::StartTimer {
            timer_id,
            fire_at_millis,
        });
        timer_id
    }

    pub fn new_frame(
        &mut self,
        parent: Option<(FrameId, usize)>,
        scope: ScopeId,
        state: StateId,
        input: Value,
        previous_event_id: u64,
    ) -> FrameId {
        let frame = Frame {
            parent,
            scope,
            state,
            phase: Phase::Enter,
            input,
            entered_event_id: 0,
            entered_previous_event_id: 0,
            previous_event_id,
            entered_time_millis: self.now,
            retry_attempts: Vec::new(),
            map_item: None,
            task_token: None,
            completed: None,
            sink: self.sink,
        };
        match self.execution.free_frames.pop() {
            Some(index) => {
                self.execution.frames[index] = Some(frame);
                FrameId(index)
            }
            None => {
                self.execution.frames.push(Some(frame));
                FrameId(self.execution.frames.len() - 1)
            }
        }
    }

    pub fn ready(&mut self, id: FrameId) {
        self.execution.ready.push_back(id);
    }

    pub fn store(&mut self, id: FrameId, frame: Frame) {
        self.execution.frames[id.0] = Some(frame);
    }

    /// Frees a stored frame that will never run again.
    pub fn release(&mut self, id: FrameId) {
        if let Some(frame) = self.execution.frames[id.0].take() {
            self.free_frame(id, &frame);
        }
    }

    fn free_frame(&mut self, id: FrameId, frame: &Frame) {
        self.execution.frames[id.0] = None;
        self.execution.free_frames.push(id.0);
        if frame.parent.is_some() {
            self.free_scope(frame.scope);
        }
    }

    pub fn new_scope(&mut self, parent: Option<ScopeId>) -> ScopeId {
        let scope = Scope {
            parent,
            variables: Default::default(),
            bytes: 0,
        };
        match self.execution.free_scopes.pop() {
            Some(index) => {
                self.execution.scopes[index] = Some(scope);
                ScopeId(index)
            }
            None => {
                self.execution.scopes.push(Some(scope));
                ScopeId(self.execution.scopes.len() - 1)
            }
        }
    }

    fn free_scope(&mut self, id: ScopeId) {
        if let Some(scope) = self.execution.scopes[id.0].take() {
            self.execution.variables_bytes -= scope.bytes;
        }
        self.execution.free_scopes.push(id.0);
    }

    /// The value of variable `name` as seen from `scope`.
    pub fn variable(&self, scope: ScopeId, name: &str) -> Option<&Value> {
        let mut current = Some(scope);
        while let Some(id) = current {
            let scope = self.execution.scopes[id.0].as_ref()?;
            if let Some(value) = scope.variables.get(name) {
                return Some(value);
            }
            current = scope.parent;
        }
        None
    }

    /// The value of variable `name` in `scope` itself, not its parents.
    pub fn scope_variable(&self, scope: ScopeId, name: &str) -> Option<&Value> {
        self.execution.scopes[scope.0].as_ref()?.variables.get(name)
    }

    pub fn set_variable(&mut self, scope: ScopeId, name: String, value: Value) {
        if let Some(scope) = self.execution.scopes[scope.0].as_mut() {
            let added = states::json_size(&value);
            let removed = scope.variables.get(&name).map_or(0, states::json_size);
            scope.bytes = scope.bytes + added - removed;
            self.execution.variables_bytes = self.execution.variables_bytes + added - removed;
            scope.variables.insert(name, value);
        }
    }
}

/// The history event prefix of a state's type.
pub(crate) fn state_type(kind: &Kind) -> StateType {
    match kind {
        Kind::Pass(_) => StateType::Pass,
        Kind::Task(_) => StateType::Task,
        Kind::Choice(_) => StateType::Choice,
        Kind::Wait(_) => StateType::Wait,
        Kind::Succeed => StateType::Succeed,
        Kind::Fail(_) => StateType::Fail,
        Kind::Parallel(_) => StateType::Parallel,
        Kind::Map(_) => StateType::Map,
    }
}

/// Compact JSON text, as AWS writes payloads into history.
pub(crate) fn to_text(value: &Value) -> String {
    serde_json::to_string(value).expect("a serde_json::Value always serializes")
}
