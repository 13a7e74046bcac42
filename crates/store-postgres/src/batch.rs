//! A batch's writes as a few set-based statements: every execution the batch inserts in two
//! statements, and its transitions in one call of `steppe_transitions` per round (a round
//! holds at most one transition of each execution, in the order they were submitted), instead
//! of a statement per execution and a call per transition.
//!
//! Profiling the writer's PostgreSQL backend under the transitions benchmark showed its time
//! in what every statement costs whatever it does (executor start-up, relation locks and
//! catalog look-ups, the extended protocol's messages), not in the rows: a set-based
//! statement pays it once for the round. The per-group statements of `write.rs` remain for
//! batches this path does not take (redrives) and for redoing a failed batch group by group,
//! which also words each group's error exactly.

use crate::write::{
    aliases_prefix, exec, waiting_activity, EncodedTransition, Op, Param, Sql, Statements,
};
use std::collections::HashMap;
use steppe_store::writer::Group;
use steppe_store::*;
use tokio_postgres::Client;

/// The rows a batch inserts and the rounds of its transitions, as the arrays the statements
/// take; built by [`Batch::of`].
#[derive(Default)]
pub(crate) struct Batch<'a> {
    resources: Vec<ResourceWrite<'a>>,
    executions: Vec<&'a ExecutionRow>,
    rounds: Vec<Round<'a>>,
    /// How many transitions of each execution the batch holds so far: the next one's round.
    transitions_of: HashMap<u64, usize>,
}

/// A resource write or condition, encoded.
enum ResourceWrite<'a> {
    Put {
        key: String,
        body: String,
    },
    Delete(&'a str),
    Expect {
        key: &'a str,
        body: Option<String>,
    },
    /// `Write::ExpectActive` of these keys: a run of them (a batch's starts) is one call.
    Active(Vec<&'a str>),
    Unaliased {
        prefix: String,
        version: &'a str,
    },
}

/// One round of transitions: the arguments of one `steppe_transitions` call.
#[derive(Default)]
struct Round<'a> {
    ids: Vec<i64>,
    seqs: Vec<i64>,
    pending: Vec<String>,
    now_millis: Vec<i64>,
    inputs: Vec<String>,
    history_hashes: Vec<Option<i64>>,
    ends: Vec<bool>,
    statuses: Vec<Option<&'static str>>,
    stop_millis: Vec<Option<i64>>,
    outputs: Vec<Option<&'a str>>,
    errors: Vec<Option<&'a [u8]>>,
    causes: Vec<Option<&'a [u8]>>,
    event_executions: Vec<i64>,
    event_ids: Vec<i64>,
    event_bodies: Vec<&'a str>,
    timer_executions: Vec<i64>,
    timer_ids: Vec<i64>,
    timer_fire_at_millis: Vec<i64>,
    cleared_timer_executions: Vec<i64>,
    cleared_timer_ids: Vec<i64>,
    task_executions: Vec<i64>,
    task_ids: Vec<i64>,
    task_bodies: Vec<String>,
    task_tokens: Vec<Option<&'a str>>,
    task_activities: Vec<Option<&'a str>>,
    cleared_task_executions: Vec<i64>,
    cleared_task_ids: Vec<i64>,
}

impl<'a> Batch<'a> {
    /// The batch of `groups`, and each group's result so far (a group whose writes will not
    /// encode fails alone and is left out); `None` when a group holds a write this path
    /// does not take (a redrive), for the per-group statements.
    pub(crate) fn of(groups: &'a [Group]) -> Option<(Batch<'a>, Vec<Result<(), Error>>)> {
        let takes = |write: &Write| {
            matches!(
                write,
                Write::PutResource(_)
                    | Write::DeleteResource(_)
                    | Write::ExpectResource { .. }
                    | Write::ExpectActive { .. }
                    | Write::ExpectUnaliased { .. }
                    | Write::InsertExecution(_)
                    | Write::Transition(_)
            )
        };
        if !groups.iter().all(|(writes, _)| writes.iter().all(takes)) {
            return None;
        }
        let mut batch = Batch::default();
        let results = groups.iter().map(|(writes, _)| batch.add(writes)).collect();
        Some((batch, results))
    }

    /// Adds one group's writes, or none of them when one will not encode.
    fn add(&mut self, writes: &'a [Write]) -> Result<(), Error> {
        let mut resources = Vec::new();
        let mut executions = Vec::new();
        let mut transitions = Vec::new();
        for write in writes {
            match write {
                Write::PutResource(resource) => resources.push(ResourceWrite::Put {
                    key: resource.key(),
                    body: serde_json::to_string(resource)?,
                }),
                Write::DeleteResource(key) => resources.push(ResourceWrite::Delete(key)),
                Write::ExpectResource { key, expected } => resources.push(ResourceWrite::Expect {
                    key,
                    body: expected.as_ref().map(serde_json::to_string).transpose()?,
                }),
                Write::ExpectActive { key } => match resources.last_mut() {
                    Some(ResourceWrite::Active(keys)) => keys.push(key.as_str()),
                    _ => resources.push(ResourceWrite::Active(vec![key.as_str()])),
                },
                Write::ExpectUnaliased { version_arn } => {
                    resources.push(ResourceWrite::Unaliased {
                        prefix: aliases_prefix(version_arn),
                        version: version_arn,
                    })
                }
                Write::InsertExecution(row) => executions.push(&**row),
                Write::Transition(transition) => {
                    transitions.push(EncodedTransition::of(transition)?)
                }
                // `of` took only batches without them.
                Write::Redrive { .. } | Write::RedriveToken { .. } => {}
            }
        }
        for resource in resources {
            // A run of conditions on active resources, across groups, is one call.
            match (self.resources.last_mut(), resource) {
                (Some(ResourceWrite::Active(keys)), ResourceWrite::Active(more)) => {
                    keys.extend(more)
                }
                (_, resource) => self.resources.push(resource),
            }
        }
        self.executions.extend(executions);
        for transition in transitions {
            let count = self
                .transitions_of
                .entry(transition.record.execution_id)
                .or_default();
            if *count == self.rounds.len() {
                self.rounds.push(Round::default());
            }
            self.rounds[*count].push(transition);
            *count += 1;
        }
        Ok(())
    }

    /// The batch's statements, in an order that keeps every group's meaning: resources (no
    /// execution write depends on them), the new executions (no earlier write can touch an
    /// execution not yet inserted), then the rounds in order.
    pub(crate) fn ops(
        self,
        client: &'a Client,
        statements: &'a Statements,
        node: i64,
    ) -> Vec<Op<'a>> {
        let mut ops = Vec::new();
        for resource in self.resources {
            ops.push(match resource {
                ResourceWrite::Put { key, body } => exec(
                    client,
                    statements.get(Sql::PutResource),
                    params![key, body],
                    None,
                ),
                ResourceWrite::Delete(key) => exec(
                    client,
                    statements.get(Sql::DeleteResource),
                    params![key],
                    None,
                ),
                ResourceWrite::Expect { key, body } => exec(
                    client,
                    statements.get(Sql::ExpectResource),
                    params![key, body],
                    None,
                ),
                ResourceWrite::Active(keys) => exec(
                    client,
                    statements.get(Sql::ExpectActive),
                    params![keys],
                    None,
                ),
                ResourceWrite::Unaliased { prefix, version } => exec(
                    client,
                    statements.get(Sql::ExpectUnaliased),
                    params![prefix, version],
                    None,
                ),
            });
        }
        if !self.executions.is_empty() {
            ops.extend(insert_ops(client, statements, &self.executions, node));
        }
        for round in self.rounds {
            ops.push(exec(
                client,
                statements.get(Sql::Transitions),
                round.params(node),
                None,
            ));
        }
        ops
    }
}

/// The two statements that insert `rows` (their `executions` and `execution_bodies` rows).
fn insert_ops<'a>(
    client: &'a Client,
    statements: &'a Statements,
    rows: &[&'a ExecutionRow],
    node: i64,
) -> [Op<'a>; 2] {
    let column = |value: &dyn Fn(&'a ExecutionRow) -> Option<&'a str>| {
        rows.iter().map(|row| value(row)).collect::<Vec<_>>()
    };
    let ids: Vec<i64> = rows.iter().map(|row| row.id as i64).collect();
    let executions = params![
        ids.clone(),
        column(&|row| Some(row.arn.as_str())),
        column(&|row| Some(row.state_machine_arn.as_str())),
        column(&|row| row.version_arn.as_deref()),
        column(&|row| row.alias_arn.as_deref()),
        column(&|row| Some(row.status.as_str())),
        rows.iter()
            .map(|row| row.start_millis)
            .collect::<Vec<i64>>(),
        rows.iter()
            .map(|row| row.stop_millis)
            .collect::<Vec<Option<i64>>>(),
        column(&|row| row.output.as_deref()),
        rows.iter()
            .map(|row| row.error.as_deref().map(str::as_bytes))
            .collect::<Vec<Option<&[u8]>>>(),
        rows.iter()
            .map(|row| row.cause.as_deref().map(str::as_bytes))
            .collect::<Vec<Option<&[u8]>>>(),
        rows.iter()
            .map(|row| i64::from(row.redrive_count))
            .collect::<Vec<i64>>(),
        rows.iter()
            .map(|row| row.redrive_millis)
            .collect::<Vec<Option<i64>>>(),
        node,
    ];
    let bodies = params![
        ids,
        column(&|row| Some(row.name.as_str())),
        column(&|row| Some(row.revision_id.as_str())),
        rows.iter().map(|row| row.seed as i64).collect::<Vec<i64>>(),
        column(&|row| Some(row.input.as_str())),
        column(&|row| row.trace_header.as_deref()),
        column(&|row| row.test_case.as_deref()),
    ];
    [
        exec(
            client,
            statements.get(Sql::InsertExecutions),
            executions,
            None,
        ),
        exec(
            client,
            statements.get(Sql::InsertExecutionBodies),
            bodies,
            None,
        ),
    ]
}

impl<'a> Round<'a> {
    /// Adds one execution's transition (its first in this round).
    fn push(&mut self, transition: EncodedTransition<'a>) {
        let record = transition.record;
        let id = record.execution_id as i64;
        let end = record.end.as_ref();
        self.ids.push(id);
        self.seqs.push(record.input.seq as i64);
        self.pending.push(transition.pending);
        self.now_millis.push(record.input.now_millis);
        self.inputs.push(transition.input);
        // All 64 bits, in a signed column.
        self.history_hashes
            .push(record.input.history_hash.map(|hash| hash as i64));
        self.ends.push(end.is_some());
        self.statuses.push(end.map(|end| end.status.as_str()));
        self.stop_millis.push(end.map(|end| end.stop_millis));
        self.outputs.push(end.and_then(|end| end.output.as_deref()));
        self.errors
            .push(end.and_then(|end| end.error.as_deref()).map(str::as_bytes));
        self.causes
            .push(end.and_then(|end| end.cause.as_deref()).map(str::as_bytes));
        for event in &record.events {
            self.event_executions.push(id);
            self.event_ids.push(event.id as i64);
            self.event_bodies.push(event.json.as_str());
        }
        // An ending transition drops every timer and task of its execution, and starts none
        // (as `steppe_transition` does).
        if end.is_some() {
            return;
        }
        for timer in &transition.timers {
            self.timer_executions.push(id);
            self.timer_ids.push(timer.timer_id as i64);
            self.timer_fire_at_millis.push(timer.fire_at_millis);
        }
        for timer_id in &record.timers_cleared {
            self.cleared_timer_executions.push(id);
            self.cleared_timer_ids.push(*timer_id as i64);
        }
        for (task, body) in transition.tasks.iter().zip(transition.task_bodies) {
            self.task_executions.push(id);
            self.task_ids.push(task.task_id as i64);
            self.task_bodies.push(body);
            self.task_tokens.push(task.task_token.as_deref());
            self.task_activities.push(waiting_activity(task));
        }
        for task_id in &record.tasks_cleared {
            self.cleared_task_executions.push(id);
            self.cleared_task_ids.push(*task_id as i64);
        }
    }

    /// The arguments of `steppe_transitions`, in its order.
    fn params(self, node: i64) -> Vec<Param<'a>> {
        params![
            node,
            self.ids,
            self.seqs,
            self.pending,
            self.now_millis,
            self.inputs,
            self.history_hashes,
            self.ends,
            self.statuses,
            self.stop_millis,
            self.outputs,
            self.errors,
            self.causes,
            self.event_executions,
            self.event_ids,
            self.event_bodies,
            self.timer_executions,
            self.timer_ids,
            self.timer_fire_at_millis,
            self.cleared_timer_executions,
            self.cleared_timer_ids,
            self.task_executions,
            self.task_ids,
            self.task_bodies,
            self.task_tokens,
            self.task_activities,
            self.cleared_task_executions,
            self.cleared_task_ids,
        ]
    }
}
