//! History events, with AWS's types and detail fields.
//!
//! The engine emits these and the store keeps them; `GetExecutionHistory` serves them
//! unchanged. Payloads (`input`, `output`, `parameters`) are JSON text, as AWS records them.

use serde_json::{json, Map, Value};

/// One history event.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// 1-based, sequential within the execution.
    pub id: u64,
    /// The event this one follows from; 0 for none.
    pub previous_event_id: u64,
    /// When it happened, in epoch milliseconds.
    pub timestamp_millis: i64,
    /// The type and its details.
    pub details: Details,
}

/// The eight ASL state types, as history event type prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateType {
    /// `Pass`.
    Pass,
    /// `Task`.
    Task,
    /// `Choice`.
    Choice,
    /// `Wait`.
    Wait,
    /// `Succeed`.
    Succeed,
    /// `Fail`.
    Fail,
    /// `Parallel`.
    Parallel,
    /// `Map`.
    Map,
}

impl StateType {
    /// The type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Pass => "Pass",
            StateType::Task => "Task",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }
}

/// A task's resource as history shows it: `arn:aws:states:::lambda:invoke` is type `lambda`,
/// resource `invoke`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResource {
    /// `resourceType`.
    pub resource_type: String,
    /// `resource`.
    pub resource: String,
}

/// An event's type and details.
#[derive(Debug, Clone, PartialEq)]
pub enum Details {
    /// `ExecutionStarted`.
    ExecutionStarted {
        /// Execution input, JSON text.
        input: String,
        /// The execution role.
        role_arn: String,
    },
    /// `ExecutionSucceeded`.
    ExecutionSucceeded {
        /// Execution output, JSON text.
        output: String,
    },
    /// `ExecutionFailed`.
    ExecutionFailed(ErrorCause),
    /// `ExecutionRedriven`.
    ExecutionRedriven {
        /// How many times the execution has been redriven, this time included.
        redrive_count: u32,
    },
    /// `ExecutionAborted`.
    ExecutionAborted(ErrorCause),
    /// `ExecutionTimedOut`.
    ExecutionTimedOut(ErrorCause),
    /// `<Type>StateEntered`.
    StateEntered {
        /// The state's type.
        state_type: StateType,
        /// The state's name.
        name: String,
        /// The state's raw input, JSON text.
        input: String,
    },
    /// `<Type>StateExited`.
    StateExited {
        /// The state's type.
        state_type: StateType,
        /// The state's name.
        name: String,
        /// The state's output, JSON text.
        output: String,
        /// Variables the state assigned: name and JSON text, in assignment order.
        assigned_variables: Option<Vec<(String, String)>>,
    },
    /// `TaskStateAborted`, `WaitStateAborted`, `ParallelStateAborted`, `MapStateAborted`.
    StateAborted(StateType),
    /// `TaskScheduled`.
    TaskScheduled {
        /// Resource type and name.
        resource: TaskResource,
        /// Region.
        region: String,
        /// The effective parameters, JSON text.
        parameters: String,
        /// The task's timeout.
        timeout_in_seconds: Option<u64>,
        /// The task's heartbeat timeout.
        heartbeat_in_seconds: Option<u64>,
    },
    /// `TaskStarted`.
    TaskStarted(TaskResource),
    /// `TaskSubmitted`.
    TaskSubmitted(TaskResource, String),
    /// `TaskSucceeded`.
    TaskSucceeded(TaskResource, String),
    /// `TaskFailed`.
    TaskFailed(TaskResource, ErrorCause),
    /// `TaskTimedOut`.
    TaskTimedOut(TaskResource, ErrorCause),
    /// `ActivityScheduled`: a Task whose resource is an activity ARN.
    ActivityScheduled {
        /// The activity's ARN.
        resource: String,
        /// The task input, JSON text.
        input: String,
        /// The task's timeout.
        timeout_in_seconds: Option<u64>,
        /// The task's heartbeat timeout.
        heartbeat_in_seconds: Option<u64>,
    },
    /// `ActivityStarted`: a worker took the activity task.
    ActivityStarted {
        /// The worker's name, when it gave one.
        worker_name: Option<String>,
    },
    /// `ActivitySucceeded`, with the output as JSON text.
    ActivitySucceeded(String),
    /// `ActivityFailed`.
    ActivityFailed(ErrorCause),
    /// `ActivityTimedOut`.
    ActivityTimedOut(ErrorCause),
    /// `ParallelStateStarted`.
    ParallelStateStarted,
    /// `ParallelStateSucceeded`.
    ParallelStateSucceeded,
    /// `ParallelStateFailed`.
    ParallelStateFailed,
    /// `MapStateStarted`.
    MapStateStarted {
        /// Number of items.
        length: usize,
    },
    /// `MapStateSucceeded`.
    MapStateSucceeded,
    /// `MapStateFailed`.
    MapStateFailed,
    /// `MapRunStarted`: a distributed Map began its map run.
    MapRunStarted {
        /// The map run's ARN.
        map_run_arn: String,
    },
    /// `MapRunRedriven`: a redrive of the execution reruns the Map Run's unsuccessful children.
    MapRunRedriven {
        /// The map run's ARN.
        map_run_arn: String,
        /// How many times it was redriven, this time included.
        redrive_count: u32,
    },
    /// `MapRunSucceeded`.
    MapRunSucceeded,
    /// `MapRunFailed`.
    MapRunFailed(ErrorCause),
    /// `MapIterationStarted`.
    MapIterationStarted(MapIteration),
    /// `MapIterationSucceeded`.
    MapIterationSucceeded(MapIteration),
    /// `MapIterationFailed`.
    MapIterationFailed(MapIteration),
    /// `MapIterationAborted`.
    MapIterationAborted(MapIteration),
    /// `EvaluationFailed` (JSONata).
    EvaluationFailed {
        /// Error and cause.
        error: ErrorCause,
        /// The field that failed, e.g. `Output/FunctionResult`.
        location: Option<String>,
        /// The state's name.
        state: String,
    },
}

/// An error name and cause; either may be absent (a Fail state without them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorCause {
    /// The error name.
    pub error: Option<String>,
    /// The cause text.
    pub cause: Option<String>,
}

/// Details of the `MapIteration*` events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapIteration {
    /// The Map state's name.
    pub name: String,
    /// The item's index.
    pub index: usize,
}

impl HistoryEvent {
    /// The event's type as AWS spells it, e.g. `PassStateEntered`.
    pub fn event_type(&self) -> String {
        match &self.details {
            Details::StateEntered { state_type, .. } => {
                format!("{}StateEntered", state_type.as_str())
            }
            Details::StateExited { state_type, .. } => {
                format!("{}StateExited", state_type.as_str())
            }
            Details::StateAborted(state_type) => format!("{}StateAborted", state_type.as_str()),
            other => fixed_type_name(other).to_string(),
        }
    }

    /// The event in the shape of an AWS `HistoryEvent` (timestamp as epoch milliseconds).
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("timestamp".into(), json!(self.timestamp_millis));
        map.insert("type".into(), json!(self.event_type()));
        map.insert("id".into(), json!(self.id));
        map.insert("previousEventId".into(), json!(self.previous_event_id));
        if let Some((key, details)) = self.details_json() {
            map.insert(key.into(), details);
        }
        Value::Object(map)
    }

    fn details_json(&self) -> Option<(&'static str, Value)> {
        let untruncated = json!({"truncated": false});
        Some(match &self.details {
            Details::ExecutionStarted { input, role_arn } => (
                "executionStartedEventDetails",
                json!({"input": input, "inputDetails": untruncated, "roleArn": role_arn}),
            ),
            Details::ExecutionSucceeded { output } => (
                "executionSucceededEventDetails",
                json!({"output": output, "outputDetails": untruncated}),
            ),
            Details::ExecutionFailed(error) => ("executionFailedEventDetails", error.to_json()),
            Details::ExecutionRedriven { redrive_count } => (
                "executionRedrivenEventDetails",
                json!({ "redriveCount": redrive_count }),
            ),
            Details::ExecutionAborted(error) => ("executionAbortedEventDetails", error.to_json()),
            Details::ExecutionTimedOut(error) => ("executionTimedOutEventDetails", error.to_json()),
            Details::StateEntered { name, input, .. } => (
                "stateEnteredEventDetails",
                json!({"name": name, "input": input, "inputDetails": untruncated}),
            ),
            Details::StateExited {
                name,
                output,
                assigned_variables,
                ..
            } => {
                let mut details =
                    json!({"name": name, "output": output, "outputDetails": untruncated});
                if let Some(variables) = assigned_variables {
                    let assigned: Map<String, Value> = variables
                        .iter()
                        .map(|(k, v)| (k.clone(), json!(v)))
                        .collect();
                    details["assignedVariables"] = Value::Object(assigned);
                    details["assignedVariablesDetails"] = untruncated;
                }
                ("stateExitedEventDetails", details)
            }
            Details::TaskScheduled {
                resource,
                region,
                parameters,
                timeout_in_seconds,
                heartbeat_in_seconds,
            } => {
                let mut details = resource.to_json();
                details["region"] = json!(region);
                details["parameters"] = json!(parameters);
                if let Some(timeout) = timeout_in_seconds {
                    details["timeoutInSeconds"] = json!(timeout);
                }
                if let Some(heartbeat) = heartbeat_in_seconds {
                    details["heartbeatInSeconds"] = json!(heartbeat);
                }
                ("taskScheduledEventDetails", details)
            }
            Details::TaskStarted(resource) => ("taskStartedEventDetails", resource.to_json()),
            Details::TaskSubmitted(resource, output) => {
                ("taskSubmittedEventDetails", resource.with_output(output))
            }
            Details::TaskSucceeded(resource, output) => {
                ("taskSucceededEventDetails", resource.with_output(output))
            }
            Details::TaskFailed(resource, error) => {
                ("taskFailedEventDetails", resource.with_error(error))
            }
            Details::TaskTimedOut(resource, error) => {
                ("taskTimedOutEventDetails", resource.with_error(error))
            }
            Details::ActivityScheduled {
                resource,
                input,
                timeout_in_seconds,
                heartbeat_in_seconds,
            } => {
                let mut details = json!({
                    "resource": resource,
                    "input": input,
                    "inputDetails": untruncated,
                });
                if let Some(timeout) = timeout_in_seconds {
                    details["timeoutInSeconds"] = json!(timeout);
                }
                if let Some(heartbeat) = heartbeat_in_seconds {
                    details["heartbeatInSeconds"] = json!(heartbeat);
                }
                ("activityScheduledEventDetails", details)
            }
            Details::ActivityStarted { worker_name } => (
                "activityStartedEventDetails",
                match worker_name {
                    Some(name) => json!({"workerName": name}),
                    None => json!({}),
                },
            ),
            Details::ActivitySucceeded(output) => (
                "activitySucceededEventDetails",
                json!({"output": output, "outputDetails": untruncated}),
            ),
            Details::ActivityFailed(error) => ("activityFailedEventDetails", error.to_json()),
            Details::ActivityTimedOut(error) => ("activityTimedOutEventDetails", error.to_json()),
            Details::MapStateStarted { length } => {
                ("mapStateStartedEventDetails", json!({"length": length}))
            }
            Details::MapIterationStarted(iteration) => {
                ("mapIterationStartedEventDetails", iteration.to_json())
            }
            Details::MapRunStarted { map_run_arn } => (
                "mapRunStartedEventDetails",
                json!({ "mapRunArn": map_run_arn }),
            ),
            Details::MapRunRedriven {
                map_run_arn,
                redrive_count,
            } => (
                "mapRunRedrivenEventDetails",
                json!({ "mapRunArn": map_run_arn, "redriveCount": redrive_count }),
            ),
            Details::MapRunFailed(error) => ("mapRunFailedEventDetails", error.to_json()),
            Details::MapIterationSucceeded(iteration) => {
                ("mapIterationSucceededEventDetails", iteration.to_json())
            }
            Details::MapIterationFailed(iteration) => {
                ("mapIterationFailedEventDetails", iteration.to_json())
            }
            Details::MapIterationAborted(iteration) => {
                ("mapIterationAbortedEventDetails", iteration.to_json())
            }
            Details::EvaluationFailed {
                error,
                location,
                state,
            } => {
                let mut details = error.to_json();
                if let Some(location) = location {
                    details["location"] = json!(location);
                }
                details["state"] = json!(state);
                ("evaluationFailedEventDetails", details)
            }
            Details::StateAborted(_)
            | Details::ParallelStateStarted
            | Details::ParallelStateSucceeded
            | Details::ParallelStateFailed
            | Details::MapStateSucceeded
            | Details::MapStateFailed
            | Details::MapRunSucceeded => return None,
        })
    }
}

fn fixed_type_name(details: &Details) -> &'static str {
    match details {
        Details::ExecutionStarted { .. } => "ExecutionStarted",
        Details::ExecutionSucceeded { .. } => "ExecutionSucceeded",
        Details::ExecutionFailed(_) => "ExecutionFailed",
        Details::ExecutionRedriven { .. } => "ExecutionRedriven",
        Details::ExecutionAborted(_) => "ExecutionAborted",
        Details::ExecutionTimedOut(_) => "ExecutionTimedOut",
        Details::TaskScheduled { .. } => "TaskScheduled",
        Details::TaskStarted(_) => "TaskStarted",
        Details::TaskSubmitted(..) => "TaskSubmitted",
        Details::TaskSucceeded(..) => "TaskSucceeded",
        Details::TaskFailed(..) => "TaskFailed",
        Details::TaskTimedOut(..) => "TaskTimedOut",
        Details::ActivityScheduled { .. } => "ActivityScheduled",
        Details::ActivityStarted { .. } => "ActivityStarted",
        Details::ActivitySucceeded(_) => "ActivitySucceeded",
        Details::ActivityFailed(_) => "ActivityFailed",
        Details::ActivityTimedOut(_) => "ActivityTimedOut",
        Details::ParallelStateStarted => "ParallelStateStarted",
        Details::ParallelStateSucceeded => "ParallelStateSucceeded",
        Details::ParallelStateFailed => "ParallelStateFailed",
        Details::MapStateStarted { .. } => "MapStateStarted",
        Details::MapStateSucceeded => "MapStateSucceeded",
        Details::MapStateFailed => "MapStateFailed",
        Details::MapRunStarted { .. } => "MapRunStarted",
        Details::MapRunRedriven { .. } => "MapRunRedriven",
        Details::MapRunSucceeded => "MapRunSucceeded",
        Details::MapRunFailed(_) => "MapRunFailed",
        Details::MapIterationStarted(_) => "MapIterationStarted",
        Details::MapIterationSucceeded(_) => "MapIterationSucceeded",
        Details::MapIterationFailed(_) => "MapIterationFailed",
        Details::MapIterationAborted(_) => "MapIterationAborted",
        Details::EvaluationFailed { .. } => "EvaluationFailed",
        Details::StateEntered { .. } | Details::StateExited { .. } | Details::StateAborted(_) => {
            unreachable!("state events are named by their state type")
        }
    }
}

impl ErrorCause {
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        if let Some(cause) = &self.cause {
            map.insert("cause".into(), json!(cause));
        }
        if let Some(error) = &self.error {
            map.insert("error".into(), json!(error));
        }
        Value::Object(map)
    }
}

impl TaskResource {
    fn to_json(&self) -> Value {
        json!({"resourceType": self.resource_type, "resource": self.resource})
    }

    fn with_output(&self, output: &str) -> Value {
        let mut details = self.to_json();
        details["output"] = json!(output);
        details["outputDetails"] = json!({"truncated": false});
        details
    }

    fn with_error(&self, error: &ErrorCause) -> Value {
        let mut details = self.to_json();
        if let Some(map) = error.to_json().as_object() {
            for (key, value) in map {
                details[key] = value.clone();
            }
        }
        details
    }
}

impl MapIteration {
    fn to_json(&self) -> Value {
        json!({"index": self.index, "name": self.name})
    }
}
