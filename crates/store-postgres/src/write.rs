//! The writer: one thread that takes every queued group of writes and commits them in one
//! PostgreSQL transaction (group commit), pipelined on one connection.
//!
//! A batch is sent as one pipeline: `BEGIN`, every group's statements, `COMMIT`, each
//! request sent before any answer is awaited, so a batch costs one round trip and one WAL
//! flush however many groups it holds. Every statement that can refuse a group raises an
//! error (a duplicate key, `steppe_transition`'s `ST001`), which aborts the transaction, and
//! PostgreSQL turns the pipelined `COMMIT` of an aborted transaction into a rollback; so a
//! batch commits whole or not at all. When it fails with more than one group, it is redone
//! with a savepoint per group, one group at a time, so the failing group alone is rolled
//! back: exactly store-sqlite's semantics.

use crate::batch::Batch;
use crate::error::{column, statement_error};
use futures_util::future::{maybe_done, MaybeDone};
use std::future::Future;
use std::pin::Pin;
use steppe_store::writer::{self, Group};
use steppe_store::*;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

/// One pipelined statement of a batch, answering with its error mapped.
pub(crate) type Op<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// A statement parameter, owned by its statement's future.
pub(crate) type Param<'a> = Box<dyn ToSql + Sync + Send + 'a>;

/// The statements the writer runs, prepared once per connection (the pool's statement
/// cache keeps them): a pipeline may only hold statements that need no round trip first.
#[derive(Clone, Copy)]
pub(crate) enum Sql {
    PutResource,
    DeleteResource,
    InsertExecution,
    Transition,
    Redrive,
    PutRedriveToken,
    TrimRedriveTokens,
    InsertExecutions,
    InsertExecutionBodies,
    Transitions,
    ExpectResource,
    ExpectActive,
    ExpectUnaliased,
}

impl Sql {
    const ALL: [Sql; 13] = [
        Sql::PutResource,
        Sql::DeleteResource,
        Sql::InsertExecution,
        Sql::Transition,
        Sql::Redrive,
        Sql::PutRedriveToken,
        Sql::TrimRedriveTokens,
        Sql::InsertExecutions,
        Sql::InsertExecutionBodies,
        Sql::Transitions,
        Sql::ExpectResource,
        Sql::ExpectActive,
        Sql::ExpectUnaliased,
    ];

    fn text(self) -> &'static str {
        match self {
            Sql::PutResource => {
                "INSERT INTO resources (key, body) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body"
            }
            Sql::DeleteResource => "DELETE FROM resources WHERE key = $1",
            // One statement for both rows (a duplicate id or ARN fails it whole).
            Sql::InsertExecution => {
                "WITH execution AS (
                     INSERT INTO executions (id, arn, state_machine_arn, version_arn, alias_arn,
                     status, start_millis, stop_millis, output, error, cause, redrive_count,
                     redrive_millis, next_seq, pending, owner)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, '', $20)
                     RETURNING id)
                 INSERT INTO execution_bodies (id, name, revision_id, seed, input, trace_header, test_case)
                 SELECT id, $14, $15, $16, $17, $18, $19 FROM execution"
            }
            Sql::Transition => {
                "SELECT steppe_transition($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                 $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
            }
            Sql::Redrive => {
                "UPDATE executions SET status = 'RUNNING', stop_millis = NULL, output = NULL,
                 error = NULL, cause = NULL, redrive_count = $2, redrive_millis = $3, owner = $4
                 WHERE id = $1"
            }
            Sql::PutRedriveToken => {
                "INSERT INTO redrive_tokens (execution_id, client_token, redrive_millis)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (execution_id, client_token) DO UPDATE SET redrive_millis = EXCLUDED.redrive_millis"
            }
            Sql::TrimRedriveTokens => {
                "DELETE FROM redrive_tokens WHERE execution_id = $1 AND client_token NOT IN
                 (SELECT client_token FROM redrive_tokens WHERE execution_id = $1
                  ORDER BY redrive_millis DESC LIMIT $2)"
            }
            // The set-based statements of `batch.rs`: every row of a batch in one statement.
            Sql::InsertExecutions => {
                "INSERT INTO executions (id, arn, state_machine_arn, version_arn, alias_arn,
                 status, start_millis, stop_millis, output, error, cause, redrive_count,
                 redrive_millis, next_seq, pending, owner)
                 SELECT id, arn, machine, version, alias, status, start_millis, stop_millis,
                 output, error, cause, redrive_count, redrive_millis, 0, '', $14
                 FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                 $6::TEXT[], $7::BIGINT[], $8::BIGINT[], $9::TEXT[], $10::BYTEA[], $11::BYTEA[],
                 $12::BIGINT[], $13::BIGINT[]) AS row (id, arn, machine, version, alias, status,
                 start_millis, stop_millis, output, error, cause, redrive_count, redrive_millis)"
            }
            Sql::InsertExecutionBodies => {
                "INSERT INTO execution_bodies (id, name, revision_id, seed, input, trace_header, test_case)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[],
                 $5::TEXT[], $6::TEXT[], $7::TEXT[])"
            }
            Sql::ExpectResource => "SELECT steppe_expect_resource($1, $2)",
            Sql::ExpectActive => "SELECT steppe_expect_active($1)",
            Sql::ExpectUnaliased => "SELECT steppe_expect_unaliased($1, $2)",
            Sql::Transitions => {
                "SELECT steppe_transitions($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                 $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
            }
        }
    }
}

/// [`Sql::ALL`], prepared on one connection.
pub(crate) struct Statements(Vec<Statement>);

impl Statements {
    async fn prepare(client: &deadpool_postgres::Client) -> Result<Statements, Error> {
        let mut prepared = Vec::with_capacity(Sql::ALL.len());
        for sql in Sql::ALL {
            let statement = client
                .prepare_cached(sql.text())
                .await
                .map_err(|e| statement_error(&e))?;
            prepared.push(statement);
        }
        Ok(Statements(prepared))
    }

    pub(crate) fn get(&self, sql: Sql) -> &Statement {
        // `prepare` filled one statement per entry of `Sql::ALL`, in its order.
        &self.0[sql as usize]
    }
}

/// The writer thread's connections: what [`writer::run`] commits through.
pub(crate) struct Writer {
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) pool: deadpool_postgres::Pool,
    /// The node this store joined as (0 before it joins): what fences its writes.
    pub(crate) node: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl writer::Commit for Writer {
    fn commit(&mut self, groups: &[Group]) -> Vec<Result<(), Error>> {
        let node = self.node.load(std::sync::atomic::Ordering::Acquire) as i64;
        self.runtime
            .block_on(commit_groups(&self.pool, groups, node))
    }

    fn delete_closed(&mut self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error> {
        self.runtime
            .block_on(delete_closed(&self.pool, cutoff_millis, limit))
    }
}

/// Commits every group that applies cleanly in one transaction; returns each group's result.
pub(crate) async fn commit_groups(
    pool: &deadpool_postgres::Pool,
    groups: &[Group],
    node: i64,
) -> Vec<Result<(), Error>> {
    let all = |error: Error| groups.iter().map(|_| Err(error.clone())).collect();
    let client = match pool.get().await {
        Ok(client) => client,
        Err(error) => return all(crate::error::pool_error(error)),
    };
    let statements = match Statements::prepare(&client).await {
        Ok(statements) => statements,
        Err(error) => return all(error),
    };
    // A group whose writes will not encode fails alone, before anything is sent.
    let mut ops: Vec<Op<'_>> = vec![simple(&client, "BEGIN")];
    let (results, set_based) = match Batch::of(groups) {
        Some((batch, results)) => {
            ops.extend(batch.ops(&client, &statements, node));
            (results, true)
        }
        None => {
            let mut results = Vec::with_capacity(groups.len());
            for (writes, _) in groups {
                match group_ops(&client, &statements, writes, node) {
                    Ok(group) => {
                        ops.extend(group);
                        results.push(Ok(()));
                    }
                    Err(error) => results.push(Err(error)),
                }
            }
            (results, false)
        }
    };
    ops.push(simple(&client, "COMMIT"));
    let answers = pipeline(ops).await;
    let Some(error) = answers.into_iter().find_map(Result::err) else {
        return results;
    };
    let mut results = results;
    let applying = results.iter().filter(|result| result.is_ok()).count();
    // A set-based batch's error names no group: it is redone group by group even when it
    // holds one, so that the failing group gets its own statement's error.
    if applying == 0 || (applying == 1 && !set_based) || client.is_closed() {
        for result in results.iter_mut().filter(|result| result.is_ok()) {
            *result = Err(error.clone());
        }
        return results;
    }
    commit_apart(&client, &statements, groups, results, node).await
}

/// Commits the groups still `Ok` in `results`, each inside its own savepoint, in one
/// transaction; a group that fails is rolled back alone.
async fn commit_apart(
    client: &Client,
    statements: &Statements,
    groups: &[Group],
    mut results: Vec<Result<(), Error>>,
    node: i64,
) -> Vec<Result<(), Error>> {
    let outcome: Result<(), Error> = async {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| statement_error(&e))?;
        for ((writes, _), result) in groups.iter().zip(results.iter_mut()) {
            if result.is_err() {
                continue;
            }
            let mut ops = vec![simple(client, "SAVEPOINT steppe_group")];
            ops.extend(group_ops(client, statements, writes, node)?);
            let failed = pipeline(ops).await.into_iter().find_map(Result::err);
            let end = match failed {
                None => "RELEASE SAVEPOINT steppe_group",
                Some(error) => {
                    *result = Err(error);
                    "ROLLBACK TO SAVEPOINT steppe_group"
                }
            };
            client
                .batch_execute(end)
                .await
                .map_err(|e| statement_error(&e))?;
        }
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| statement_error(&e))
    }
    .await;
    if let Err(error) = outcome {
        // Nothing committed; leave no transaction open on the connection either.
        let _ = client.batch_execute("ROLLBACK").await;
        for result in results.iter_mut() {
            if result.is_ok() {
                *result = Err(error.clone());
            }
        }
    }
    results
}

/// Sends every op before awaiting any answer (each request leaves on its future's first
/// poll, in order), then awaits them in order.
async fn pipeline(ops: Vec<Op<'_>>) -> Vec<Result<(), Error>> {
    let mut pending: Vec<MaybeDone<Op<'_>>> = ops.into_iter().map(maybe_done).collect();
    std::future::poll_fn(|context| {
        for op in pending.iter_mut() {
            let _ = Pin::new(op).poll(context);
        }
        std::task::Poll::Ready(())
    })
    .await;
    let mut answers = Vec::with_capacity(pending.len());
    for op in pending.iter_mut() {
        Pin::new(&mut *op).await;
        answers.push(
            Pin::new(op).take_output().unwrap_or_else(|| {
                Err(Error::Database("a statement's answer went missing".into()))
            }),
        );
    }
    answers
}

/// A statement without parameters (transaction control), as an op.
fn simple<'a>(client: &'a Client, sql: &'static str) -> Op<'a> {
    Box::pin(async move {
        client
            .batch_execute(sql)
            .await
            .map_err(|e| statement_error(&e))
    })
}

/// A prepared statement with its parameters, as an op; `conflict` words a unique violation.
pub(crate) fn exec<'a>(
    client: &'a Client,
    statement: &'a Statement,
    params: Vec<Param<'a>>,
    conflict: Option<String>,
) -> Op<'a> {
    Box::pin(async move {
        match client.execute_raw(statement, params).await {
            Ok(_) => Ok(()),
            Err(error) => Err(match (&conflict, statement_error(&error)) {
                (Some(conflict), Error::Conflict(_)) => Error::Conflict(conflict.clone()),
                (_, mapped) => mapped,
            }),
        }
    })
}

/// The ops of one group, in order; fails (sending nothing) when a write will not encode.
/// The statements of one group, written by node `node` (see `Store::join`).
fn group_ops<'a>(
    client: &'a Client,
    statements: &'a Statements,
    writes: &'a [Write],
    node: i64,
) -> Result<Vec<Op<'a>>, Error> {
    let mut ops = Vec::new();
    let mut push = |sql: Sql, params: Vec<Param<'a>>, conflict: Option<String>| {
        ops.push(exec(client, statements.get(sql), params, conflict));
    };
    for write in writes {
        match write {
            Write::PutResource(resource) => {
                let body = serde_json::to_string(resource)?;
                push(Sql::PutResource, params![resource.key(), body], None);
            }
            Write::DeleteResource(key) => push(Sql::DeleteResource, params![key.as_str()], None),
            Write::ExpectResource { key, expected } => {
                let body = expected.as_ref().map(serde_json::to_string).transpose()?;
                push(Sql::ExpectResource, params![key.as_str(), body], None);
            }
            Write::ExpectActive { key } => {
                push(Sql::ExpectActive, params![vec![key.as_str()]], None)
            }
            Write::ExpectUnaliased { version_arn } => push(
                Sql::ExpectUnaliased,
                params![aliases_prefix(version_arn), version_arn.as_str()],
                None,
            ),
            Write::InsertExecution(row) => push(
                Sql::InsertExecution,
                params![
                    row.id as i64,
                    row.arn.as_str(),
                    row.state_machine_arn.as_str(),
                    row.version_arn.as_deref(),
                    row.alias_arn.as_deref(),
                    row.status.as_str(),
                    row.start_millis,
                    row.stop_millis,
                    row.output.as_deref(),
                    row.error.as_deref().map(str::as_bytes),
                    row.cause.as_deref().map(str::as_bytes),
                    i64::from(row.redrive_count),
                    row.redrive_millis,
                    row.name.as_str(),
                    row.revision_id.as_str(),
                    row.seed as i64,
                    row.input.as_str(),
                    row.trace_header.as_deref(),
                    row.test_case.as_deref(),
                    node,
                ],
                Some(format!("execution {} exists", row.arn)),
            ),
            Write::Transition(transition) => transition_op(node, transition, &mut push)?,
            Write::Redrive {
                execution_id,
                redrive_count,
                redrive_millis,
            } => push(
                Sql::Redrive,
                params![
                    *execution_id as i64,
                    i64::from(*redrive_count),
                    *redrive_millis,
                    node
                ],
                None,
            ),
            Write::RedriveToken {
                execution_id,
                token,
            } => {
                let id = *execution_id as i64;
                push(
                    Sql::PutRedriveToken,
                    params![id, token.client_token.as_str(), token.redrive_millis],
                    None,
                );
                push(
                    Sql::TrimRedriveTokens,
                    params![id, REDRIVE_TOKENS_KEPT as i64],
                    None,
                );
            }
        }
    }
    Ok(ops)
}

/// A transition's text columns encoded, and its timers and tasks each once: the last of a
/// repeated id (one statement inserts them all, and may not touch a row twice). What both
/// `steppe_transition` (here) and `steppe_transitions` (`batch.rs`) take.
pub(crate) struct EncodedTransition<'a> {
    pub(crate) record: &'a TransitionRecord,
    /// The pending inputs as JSON, or empty when there are none.
    pub(crate) pending: String,
    pub(crate) input: String,
    pub(crate) timers: Vec<&'a Timer>,
    pub(crate) tasks: Vec<&'a TaskRecord>,
    /// `tasks` as JSON, in their order.
    pub(crate) task_bodies: Vec<String>,
}

impl<'a> EncodedTransition<'a> {
    pub(crate) fn of(record: &'a TransitionRecord) -> Result<EncodedTransition<'a>, Error> {
        let pending = if record.pending.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&record.pending)?
        };
        let tasks = last_of_each(&record.tasks_started, |t| t.task_id);
        let task_bodies = tasks
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<String>, _>>()?;
        Ok(EncodedTransition {
            record,
            pending,
            input: serde_json::to_string(&record.input.input)?,
            timers: last_of_each(&record.timers_started, |t| t.timer_id),
            tasks,
            task_bodies,
        })
    }
}

/// `items` without those whose id (`id`) comes again later, in order.
fn last_of_each<T>(items: &[T], id: impl Fn(&T) -> u64) -> Vec<&T> {
    let last: std::collections::HashMap<u64, usize> = items
        .iter()
        .enumerate()
        .map(|(index, item)| (id(item), index))
        .collect();
    if last.len() == items.len() {
        return items.iter().collect();
    }
    items
        .iter()
        .enumerate()
        .filter(|(index, item)| last.get(&id(item)) == Some(index))
        .map(|(_, item)| item)
        .collect()
}

/// The op of one transition: `steppe_transition` checks its order and records it.
fn transition_op<'a>(
    node: i64,
    transition: &'a TransitionRecord,
    push: &mut impl FnMut(Sql, Vec<Param<'a>>, Option<String>),
) -> Result<(), Error> {
    let encoded = EncodedTransition::of(transition)?;
    let id = transition.execution_id as i64;
    let seq = transition.input.seq as i64;
    let ids = |ids: &[u64]| ids.iter().map(|id| *id as i64).collect::<Vec<i64>>();
    let event_ids: Vec<i64> = transition.events.iter().map(|e| e.id as i64).collect();
    let event_bodies: Vec<&str> = transition.events.iter().map(|e| e.json.as_str()).collect();
    let end = transition.end.as_ref();
    let timer_ids: Vec<i64> = encoded.timers.iter().map(|t| t.timer_id as i64).collect();
    let timer_fire_at: Vec<i64> = encoded.timers.iter().map(|t| t.fire_at_millis).collect();
    let task_ids: Vec<i64> = encoded.tasks.iter().map(|t| t.task_id as i64).collect();
    let task_tokens: Vec<Option<&str>> = encoded
        .tasks
        .iter()
        .map(|t| t.task_token.as_deref())
        .collect();
    let task_activities: Vec<Option<&str>> =
        encoded.tasks.iter().map(|t| waiting_activity(t)).collect();
    push(
        Sql::Transition,
        params![
            node,
            id,
            seq,
            encoded.pending,
            transition.input.now_millis,
            encoded.input,
            event_ids,
            event_bodies,
            end.is_some(),
            end.map(|end| end.status.as_str()),
            end.map(|end| end.stop_millis),
            end.and_then(|end| end.output.as_deref()),
            end.and_then(|end| end.error.as_deref()).map(str::as_bytes),
            end.and_then(|end| end.cause.as_deref()).map(str::as_bytes),
            timer_ids,
            timer_fire_at,
            ids(&transition.timers_cleared),
            task_ids,
            encoded.task_bodies,
            task_tokens,
            task_activities,
            ids(&transition.tasks_cleared),
            // A BIGINT holds the hash as its bits.
            transition.input.history_hash.map(|hash| hash as i64),
        ],
        Some(format!(
            "execution {id}: input {seq} does not follow the last committed one"
        )),
    );
    Ok(())
}

/// The activity a task waits for a worker of (any node may claim it then): an activity task
/// that has not started.
pub(crate) fn waiting_activity(task: &TaskRecord) -> Option<&str> {
    task.waits_for_worker().then_some(task.resource.as_str())
}

/// The tables keyed by execution id, emptied for each deleted execution.
const EXECUTION_KEYED_TABLES: [(&str, &str); 7] = [
    ("inputs", "execution_id"),
    ("closed_tokens", "execution_id"),
    ("events", "execution_id"),
    ("timers", "execution_id"),
    ("tasks", "execution_id"),
    ("redrive_tokens", "execution_id"),
    ("execution_bodies", "id"),
];

/// Deletes up to `limit` executions that ended before `cutoff_millis`, in one transaction.
async fn delete_closed(
    pool: &deadpool_postgres::Pool,
    cutoff_millis: i64,
    limit: usize,
) -> Result<Vec<u64>, Error> {
    let mut client = pool.get().await.map_err(crate::error::pool_error)?;
    let transaction = client
        .transaction()
        .await
        .map_err(|e| statement_error(&e))?;
    // Row locks: a redrive committed by another store first keeps its execution; rows
    // another node is deleting at the same moment are left to it.
    let rows = transaction
        .query(
            "SELECT id FROM executions WHERE status <> 'RUNNING' AND stop_millis < $1
             ORDER BY stop_millis, id LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&cutoff_millis, &(limit as i64)],
        )
        .await
        .map_err(|e| statement_error(&e))?;
    let ids = rows
        .iter()
        .map(|row| column::<i64>(row, 0))
        .collect::<Result<Vec<i64>, Error>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    for (table, key) in EXECUTION_KEYED_TABLES {
        transaction
            .execute(
                &format!("DELETE FROM {table} WHERE {key} = ANY($1::BIGINT[])"),
                &[&ids],
            )
            .await
            .map_err(|e| statement_error(&e))?;
    }
    transaction
        .execute(
            "DELETE FROM executions WHERE id = ANY($1::BIGINT[])",
            &[&ids],
        )
        .await
        .map_err(|e| statement_error(&e))?;
    transaction
        .commit()
        .await
        .map_err(|e| statement_error(&e))?;
    Ok(ids.into_iter().map(|id| id as u64).collect())
}

/// The keys a version's aliases may have: its machine's ARN and `:` (aliases are keyed
/// `<machine ARN>:<name>`).
pub(crate) fn aliases_prefix(version_arn: &str) -> String {
    match version_arn.rsplit_once(':') {
        Some((machine_arn, _)) => format!("{machine_arn}:"),
        None => version_arn.to_string(),
    }
}
