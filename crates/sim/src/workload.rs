//! Workloads drawn from a seed: state machines (Pass, Wait, Choice, Map, Parallel, Task
//! with Retry and Catch, Fail, Succeed; Pass, Task and Choice in JSONata or JSONPath; Task
//! on an activity or waiting for a task token) and how the simulated worker answers each
//! task.
//!
//! Results must not depend on timing, so that a run with faults ends as a fault-free run
//! does: every Task inside a Map or Parallel branch catches `States.ALL` (which branch
//! fails first would otherwise depend on timing), and a task's answer depends only on what
//! the task was given (its state name, the data, `$$.State.RetryCount` and where it runs:
//! see [`task_key`]), never on when.

use serde_json::{json, Map, Value};
use steppe_engine::Random;

/// What a run's workload has, beyond the first version's machines, starts, stops and
/// activity answers. A seed replays identically only with the workload it ran with, so a
/// regression seed keeps the one it was found with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// RedriveExecution of failed executions (and Task parameters that tell a redriven
    /// task from the first run's: `$$.Execution.RedriveCount`).
    pub redrive: bool,
    /// DeleteStateMachine of a machine whose executions may still run.
    pub delete: bool,
    /// Pass, Task and Choice states in JSONata (`QueryLanguage` on the state) among JSONPath
    /// ones, doing what their JSONPath forms do.
    pub jsonata: bool,
    /// Task states that wait for a task token (`.waitForTaskToken`, see [`crate::callbacks`]),
    /// some with `HeartbeatSeconds`, among activity ones.
    pub callbacks: bool,
    /// Task states outside Map and Parallel branches that start an execution of the child
    /// machine ([`CHILD_MACHINE_NAME`]): `states:startExecution.sync:2`, or plain.
    pub nested: bool,
}

impl Workload {
    /// The first workload (session 8's seeds).
    pub const FIRST: Workload = Workload {
        redrive: false,
        delete: false,
        jsonata: false,
        callbacks: false,
        nested: false,
    };
    /// Redrives and deletions.
    pub const SECOND: Workload = Workload {
        redrive: true,
        delete: true,
        jsonata: false,
        callbacks: false,
        nested: false,
    };
    /// Redrives, deletions and JSONata states.
    pub const THIRD: Workload = Workload {
        redrive: true,
        delete: true,
        jsonata: true,
        callbacks: false,
        nested: false,
    };
    /// Redrives, deletions, JSONata states and callback tasks with heartbeats.
    pub const FOURTH: Workload = Workload {
        redrive: true,
        delete: true,
        jsonata: true,
        callbacks: true,
        nested: false,
    };
    /// Redrives, deletions, JSONata states, callback tasks and nested executions.
    pub const FIFTH: Workload = Workload {
        redrive: true,
        delete: true,
        jsonata: true,
        callbacks: true,
        nested: true,
    };
    /// What the simulator runs unless told otherwise: not yet [`Workload::FIFTH`], whose
    /// 1000-seed sweep still finds violations not yet explained (see ARCHITECTURE.md).
    pub const CURRENT: Workload = Workload::FOURTH;
}

/// The activity every generated Task state calls.
pub const ACTIVITY_NAME: &str = "sim-worker";

/// Every task times out after this long; the worker answers a late task after it.
pub const TASK_TIMEOUT_SECONDS: i64 = 600;

/// What generated callback tasks call: an SQS message carrying the task token, sent to no
/// endpoint (the simulator configures none, so the server only waits for the token; the
/// simulated worker reads the message from the task's durable row, see
/// [`crate::callbacks`]).
pub const CALLBACK_RESOURCE: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";

/// The queue generated callback tasks send to.
pub const QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/sim-callbacks";

/// The state machine whose executions nested Task states start (the workload's last
/// machine, when it has nested executions).
pub const CHILD_MACHINE_NAME: &str = "sim-child";

/// The resource of nested Task states that wait for their child: `.sync:2`.
pub const NESTED_SYNC_RESOURCE: &str = "arn:aws:states:::states:startExecution.sync:2";

/// The resource of nested Task states that do not wait for their child.
pub const NESTED_PLAIN_RESOURCE: &str = "arn:aws:states:::states:startExecution";

/// The `HeartbeatSeconds` of half the generated callback tasks.
pub const HEARTBEAT_SECONDS: i64 = 60;

/// How the worker answers one task.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `SendTaskSuccess` with this output, soon.
    Succeed(Value),
    /// `SendTaskFailure` with this error, soon.
    Fail(&'static str),
    /// `SendTaskSuccess` only after the task timed out.
    Late(Value),
    /// `SendTaskSuccess` twice, soon.
    Twice(Value),
    /// This many `SendTaskHeartbeat`s, each well within `HeartbeatSeconds`, then
    /// `SendTaskSuccess` (callback tasks only).
    Heartbeats(Value, u8),
    /// One `SendTaskHeartbeat` after twice `HeartbeatSeconds`, then `SendTaskSuccess`: a task
    /// with `HeartbeatSeconds` has timed out by then (`States.HeartbeatTimeout`), one without
    /// succeeds (callback tasks only).
    HeartbeatLate(Value),
    /// No answer at all: the task times out (callback tasks only).
    Never,
}

/// The answer to an activity task given `parameters` (the Task state's `Parameters` as
/// resolved): a function of the workload seed and what the task was given only.
pub fn answer(workload_seed: u64, parameters: &Value) -> Answer {
    let mut random = drawn(workload_seed, parameters);
    let value = result(&mut random, parameters);
    match random.next_u64() % 100 {
        0..=49 => Answer::Succeed(value),
        50..=64 => Answer::Fail("Sim.Retry"),
        65..=74 => Answer::Fail("Sim.Catch"),
        75..=79 => Answer::Fail("Sim.Other"),
        80..=89 => Answer::Late(value),
        _ => Answer::Twice(value),
    }
}

/// The answer to a callback task whose message is `message` (its `MessageBody`, the token
/// left out: which token a task gets depends on the order its execution's branches ran in).
pub fn callback_answer(workload_seed: u64, message: &Value) -> Answer {
    let mut message = message.clone();
    if let Some(fields) = message.as_object_mut() {
        fields.remove("token");
    }
    let mut random = drawn(workload_seed, &message);
    let value = result(&mut random, &message);
    match random.next_u64() % 100 {
        0..=34 => Answer::Succeed(value),
        35..=44 => Answer::Fail("Sim.Retry"),
        45..=52 => Answer::Fail("Sim.Catch"),
        53..=55 => Answer::Fail("Sim.Other"),
        56..=67 => Answer::Heartbeats(value, 1 + (random.next_u64() % 4) as u8),
        68..=75 => Answer::HeartbeatLate(value),
        76..=83 => Answer::Late(value),
        84..=91 => Answer::Twice(value),
        _ => Answer::Never,
    }
}

/// A generator seeded by the workload seed and `given`.
fn drawn(workload_seed: u64, given: &Value) -> Random {
    let text = given.to_string();
    let mut hash = workload_seed ^ 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Random::new(hash)
}

/// A task's result: a function of its `x` and the generator.
fn result(random: &mut Random, given: &Value) -> Value {
    let x = given["x"].as_i64().unwrap_or(0);
    json!((x * 7 + (random.next_u64() % 100) as i64) % 1000)
}

/// A generated state machine.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Its name.
    pub name: String,
    /// Its definition, JSON text.
    pub definition: String,
}

/// Generates `count` state machines calling `activity_arn`, and, when the workload has
/// nested executions, the child machine they start ([`CHILD_MACHINE_NAME`], last, in the
/// activity's account and region), which nests nothing.
pub fn machines(
    random: &mut Random,
    activity_arn: &str,
    count: usize,
    workload: Workload,
) -> Vec<Machine> {
    let child_arn = activity_arn.replace(
        &format!(":activity:{ACTIVITY_NAME}"),
        &format!(":stateMachine:{CHILD_MACHINE_NAME}"),
    );
    let child_arn = workload.nested.then_some(child_arn.as_str());
    let mut machines: Vec<Machine> = (0..count)
        .map(|index| {
            let mut generator = Generator {
                random,
                activity_arn,
                child_arn,
                workload,
                states: Map::new(),
                next_name: 0,
            };
            let length = 2 + generator.below(4) as usize;
            let start = generator.sequence(length, 2, false, None);
            let definition = json!({"StartAt": start, "States": Value::Object(generator.states)});
            Machine {
                name: format!("sim-machine-{index}"),
                definition: definition.to_string(),
            }
        })
        .collect();
    if workload.nested {
        let mut generator = Generator {
            random,
            activity_arn,
            child_arn: None,
            workload,
            states: Map::new(),
            next_name: 0,
        };
        let length = 1 + generator.below(3) as usize;
        let start = generator.sequence(length, 1, false, None);
        let definition = json!({"StartAt": start, "States": Value::Object(generator.states)});
        machines.push(Machine {
            name: CHILD_MACHINE_NAME.into(),
            definition: definition.to_string(),
        });
    }
    machines
}

/// An execution's input.
pub fn input(random: &mut Random) -> Value {
    let items = 1 + random.next_u64() % 3;
    let xs: Vec<u64> = (0..items).map(|_| random.next_u64() % 50).collect();
    json!({"x": random.next_u64() % 100, "xs": xs, "path": ""})
}

/// What tells a task apart from every other of the run: its execution, its state, the Map
/// iterations it runs in (`path`, e.g. `/2/0`), its attempt and the execution's redrives.
/// Generated machines have no loops, so no two tasks of a run have the same key.
pub fn task_key(parameters: &Value) -> String {
    // A callback task's parameters carry these in the message it sends.
    let parameters = parameters.get("MessageBody").unwrap_or(parameters);
    format!(
        "{} {} {} {} {}",
        parameters["execution"],
        parameters["state"],
        parameters["path"],
        parameters["attempt"],
        parameters["redrive"]
    )
}

struct Generator<'a> {
    random: &'a mut Random,
    activity_arn: &'a str,
    /// The machine nested Task states start, if they may be generated.
    child_arn: Option<&'a str>,
    workload: Workload,
    states: Map<String, Value>,
    next_name: usize,
}

impl Generator<'_> {
    fn below(&mut self, n: u64) -> u64 {
        self.random.next_u64() % n
    }

    fn name(&mut self, kind: &str) -> String {
        self.next_name += 1;
        format!("{kind}{}", self.next_name)
    }

    /// Adds `length` states that run one after the other and then go to `next` (or end),
    /// into `self.states`; answers the first one's name. `depth` bounds nesting; `branch`
    /// says they run in a Map or Parallel branch.
    fn sequence(
        &mut self,
        length: usize,
        depth: u32,
        branch: bool,
        next: Option<String>,
    ) -> String {
        let mut next = next;
        for position in (0..length).rev() {
            let last = next.is_none() && position + 1 == length;
            next = Some(self.state(depth, branch, next.clone(), last));
        }
        next.expect("a sequence has at least one state")
    }

    /// Adds one state (and those it nests) going to `next`; answers its name.
    fn state(&mut self, depth: u32, branch: bool, next: Option<String>, last: bool) -> String {
        let transition = |state: &mut Map<String, Value>, next: &Option<String>| match next {
            Some(next) => {
                state.insert("Next".into(), json!(next));
            }
            None => {
                state.insert("End".into(), json!(true));
            }
        };
        let kind = match self.below(if depth == 0 { 5 } else { 8 }) {
            0 => "Pass",
            1 | 2 => "Task",
            3 => "Wait",
            4 if last && !branch => "Fail",
            4 => "Pass",
            5 => "Choice",
            6 => "Map",
            _ => "Parallel",
        };
        let name = self.name(kind);
        let mut state = Map::new();
        let jsonata = matches!(kind, "Pass" | "Task" | "Choice")
            && self.workload.jsonata
            && self.below(3) == 0;
        if jsonata {
            state.insert("QueryLanguage".into(), json!("JSONata"));
        }
        match kind {
            "Pass" if jsonata => {
                state.insert("Type".into(), json!("Pass"));
                let result = self.below(10);
                state.insert(
                    "Output".into(),
                    json!(format!(
                        "{{% $merge([$states.input, {{'{name}': {result}}}]) %}}"
                    )),
                );
                transition(&mut state, &next);
            }
            "Pass" => {
                state.insert("Type".into(), json!("Pass"));
                state.insert("Result".into(), json!(self.below(10)));
                state.insert("ResultPath".into(), json!(format!("$.{name}")));
                transition(&mut state, &next);
            }
            "Wait" => {
                state.insert("Type".into(), json!("Wait"));
                state.insert("Seconds".into(), json!(1 + self.below(20)));
                transition(&mut state, &next);
            }
            "Fail" => {
                state.insert("Type".into(), json!("Fail"));
                state.insert("Error".into(), json!("Sim.Failed"));
                state.insert("Cause".into(), json!(format!("{name} failed")));
            }
            "Task" if !branch && self.child_arn.is_some() && self.below(2) == 0 => {
                self.nested_task(&name, jsonata, &mut state);
                let catcher = next.clone().unwrap_or_else(|| self.succeed());
                // A child's failure is caught whole (its cause holds the child's dates),
                // keeping the state's input.
                let catch = if jsonata {
                    json!([{"ErrorEquals": ["States.ALL"], "Next": catcher,
                            "Output": "{% $states.input %}"}])
                } else {
                    json!([{"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": catcher}])
                };
                state.insert("Catch".into(), catch);
                transition(&mut state, &next);
            }
            "Task" => {
                state.insert("Type".into(), json!("Task"));
                let callback = self.workload.callbacks && self.below(2) == 0;
                let resource = if callback {
                    CALLBACK_RESOURCE
                } else {
                    self.activity_arn
                };
                state.insert("Resource".into(), json!(resource));
                if jsonata {
                    let mut arguments = json!({"state": name, "x": "{% $states.input.x %}",
                        "attempt": "{% $states.context.State.RetryCount %}",
                        "execution": "{% $states.context.Execution.Name %}",
                        "path": "{% $states.input.path %}"});
                    if self.workload.redrive {
                        arguments["redrive"] =
                            json!("{% $states.context.Execution.RedriveCount %}");
                    }
                    if callback {
                        arguments["token"] = json!("{% $states.context.Task.Token %}");
                        arguments = json!({"QueueUrl": QUEUE_URL, "MessageBody": arguments});
                    }
                    state.insert("Arguments".into(), arguments);
                    state.insert(
                        "Output".into(),
                        json!("{% $merge([$states.input, {'x': $states.result}]) %}"),
                    );
                } else {
                    let mut parameters = json!({"state": name, "x.$": "$.x",
                        "attempt.$": "$$.State.RetryCount", "execution.$": "$$.Execution.Name",
                        "path.$": "$.path"});
                    if self.workload.redrive {
                        parameters["redrive.$"] = json!("$$.Execution.RedriveCount");
                    }
                    if callback {
                        parameters["token.$"] = json!("$$.Task.Token");
                        parameters = json!({"QueueUrl": QUEUE_URL, "MessageBody": parameters});
                    }
                    state.insert("Parameters".into(), parameters);
                    state.insert("ResultPath".into(), json!("$.x"));
                }
                state.insert("TimeoutSeconds".into(), json!(TASK_TIMEOUT_SECONDS));
                if callback && self.below(2) == 0 {
                    state.insert("HeartbeatSeconds".into(), json!(HEARTBEAT_SECONDS));
                }
                state.insert(
                    "Retry".into(),
                    json!([{"ErrorEquals": ["Sim.Retry"], "IntervalSeconds": 1 + self.below(3),
                            "MaxAttempts": 1 + self.below(3), "BackoffRate": 2.0}]),
                );
                let caught = if branch {
                    json!(["States.ALL"])
                } else {
                    json!(["Sim.Catch", "States.Timeout"])
                };
                let catcher = next.clone().unwrap_or_else(|| self.succeed());
                let catch = if jsonata {
                    json!([{"ErrorEquals": caught, "Next": catcher, "Output": format!(
                        "{{% $merge([$states.input, {{'{name}Caught': $states.errorOutput}}]) %}}"
                    )}])
                } else {
                    json!([{"ErrorEquals": caught, "ResultPath": format!("$.{name}Caught"),
                            "Next": catcher}])
                };
                state.insert("Catch".into(), catch);
                transition(&mut state, &next);
            }
            "Choice" => {
                let join = next.clone().unwrap_or_else(|| self.succeed());
                let high = self.sequence(1, depth - 1, branch, Some(join.clone()));
                let length = 1 + self.below(2) as usize;
                let low = self.sequence(length, depth - 1, branch, Some(join));
                state.insert("Type".into(), json!("Choice"));
                let threshold = self.below(100);
                let choice = if jsonata {
                    json!({"Condition": format!("{{% $states.input.x >= {threshold} %}}"),
                           "Next": high})
                } else {
                    json!({"Variable": "$.x", "NumericGreaterThanEquals": threshold, "Next": high})
                };
                state.insert("Choices".into(), json!([choice]));
                state.insert("Default".into(), json!(low));
            }
            "Map" => {
                let mut inner = Generator {
                    random: self.random,
                    activity_arn: self.activity_arn,
                    child_arn: self.child_arn,
                    workload: self.workload,
                    states: Map::new(),
                    next_name: self.next_name,
                };
                let length = 1 + inner.below(2) as usize;
                let start = inner.sequence(length, depth - 1, true, None);
                self.next_name = inner.next_name;
                let states = inner.states;
                state.insert("Type".into(), json!("Map"));
                state.insert("ItemsPath".into(), json!("$.xs"));
                state.insert(
                    "ItemSelector".into(),
                    json!({"x.$": "$$.Map.Item.Value", "xs.$": "$.xs",
                           "path.$": "States.Format('{}/{}', $.path, $$.Map.Item.Index)"}),
                );
                state.insert("MaxConcurrency".into(), json!(self.below(3)));
                state.insert(
                    "ItemProcessor".into(),
                    json!({"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": start,
                           "States": Value::Object(states)}),
                );
                state.insert("ResultPath".into(), json!(format!("$.{name}")));
                transition(&mut state, &next);
            }
            _ => {
                let count = 2 + self.below(2);
                let branches: Vec<Value> = (0..count)
                    .map(|_| {
                        let mut inner = Generator {
                            random: self.random,
                            activity_arn: self.activity_arn,
                            child_arn: self.child_arn,
                            workload: self.workload,
                            states: Map::new(),
                            next_name: self.next_name,
                        };
                        let length = 1 + inner.below(2) as usize;
                        let start = inner.sequence(length, depth - 1, true, None);
                        self.next_name = inner.next_name;
                        json!({"StartAt": start, "States": Value::Object(inner.states)})
                    })
                    .collect();
                state.insert("Type".into(), json!("Parallel"));
                state.insert("Branches".into(), json!(branches));
                state.insert("ResultPath".into(), json!(format!("$.{name}")));
                transition(&mut state, &next);
            }
        }
        self.states.insert(name.clone(), Value::Object(state));
        name
    }

    /// Fills in a nested Task state `name` (but its `Catch` and transition): it starts an
    /// execution of the child machine named after its execution, state and redrive (it has
    /// no `Retry`, and generated machines no loops),
    /// with the state's `x` and `xs`; keeps the child's `x` (`.sync:2`) or ARN (plain), as
    /// nothing else of the result (dates) is a function of the inputs alone.
    fn nested_task(&mut self, name: &str, jsonata: bool, state: &mut Map<String, Value>) {
        let child_arn = self.child_arn.unwrap_or_default();
        let sync = self.below(3) != 0;
        let resource = if sync {
            NESTED_SYNC_RESOURCE
        } else {
            NESTED_PLAIN_RESOURCE
        };
        state.insert("Type".into(), json!("Task"));
        state.insert("Resource".into(), json!(resource));
        if jsonata {
            let child_name = format!(
                "{{% $states.context.Execution.Name & '-{name}-' & \
                 $states.context.Execution.RedriveCount %}}"
            );
            state.insert(
                "Arguments".into(),
                json!({"StateMachineArn": child_arn, "Name": child_name,
                       "Input": {"x": "{% $states.input.x %}", "xs": "{% $states.input.xs %}",
                                 "path": ""}}),
            );
            let kept = if sync {
                "{'x': $states.result.Output.x}"
            } else {
                "{'arn': $states.result.ExecutionArn}"
            };
            state.insert(
                "Output".into(),
                json!(format!(
                    "{{% $merge([$states.input, {{'{name}': {kept}}}]) %}}"
                )),
            );
        } else {
            let child_name = format!(
                "States.Format('{{}}-{name}-{{}}', $$.Execution.Name, $$.Execution.RedriveCount)"
            );
            state.insert(
                "Parameters".into(),
                json!({"StateMachineArn": child_arn, "Name.$": child_name,
                       "Input": {"x.$": "$.x", "xs.$": "$.xs", "path": ""}}),
            );
            let kept = if sync {
                json!({"x.$": "$.Output.x"})
            } else {
                json!({"arn.$": "$.ExecutionArn"})
            };
            state.insert("ResultSelector".into(), kept);
            state.insert("ResultPath".into(), json!(format!("$.{name}")));
        }
    }

    /// Adds a Succeed state (where a Catch or Choice joins at the end); answers its name.
    fn succeed(&mut self) -> String {
        let name = self.name("Done");
        self.states.insert(name.clone(), json!({"Type": "Succeed"}));
        name
    }
}
