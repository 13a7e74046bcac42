//! Reads: one function per [`steppe_store::Store`] read, each on a pooled connection.

use crate::error::{column, statement_error, text_bytes_column, u64_column};
use deadpool_postgres::Client;
use steppe_store::*;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// Runs a cached prepared statement.
pub(crate) async fn query(
    client: &Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Error> {
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(|e| statement_error(&e))?;
    client
        .query(&statement, params)
        .await
        .map_err(|e| statement_error(&e))
}

pub(crate) async fn load_resources(client: Client) -> Result<Vec<Result<Resource, Error>>, Error> {
    let rows = query(&client, "SELECT key, body FROM resources", &[]).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let key: String = column(row, 0)?;
            let body: &str = column(row, 1)?;
            serde_json::from_str(body).map_err(|e| Error::Decode(format!("resource {key}: {e}")))
        })
        .collect())
}

/// Reserves a block of execution ids: `[first, first + increment)`, as `(first, increment)`.
pub(crate) async fn reserve_execution_ids(client: Client) -> Result<(u64, u64), Error> {
    let rows = query(
        &client,
        "SELECT nextval('execution_ids'), seqincrement FROM pg_sequence
         WHERE seqrelid = 'execution_ids'::regclass",
        &[],
    )
    .await?;
    let Some(row) = rows.first() else {
        return Err(Error::Decode(
            "the sequence execution_ids is missing".into(),
        ));
    };
    let (first, increment) = (column::<i64>(row, 0)?, column::<i64>(row, 1)?);
    // The sequence starts at 1 and only grows; anything else was not made by steppe.
    match (u64::try_from(first), u64::try_from(increment)) {
        (Ok(first), Ok(increment)) if first > 0 && increment > 0 => Ok((first, increment)),
        _ => Err(Error::Decode(format!(
            "execution_ids gave {first} (increment {increment})"
        ))),
    }
}

const EXECUTION_COLUMNS: &str = "e.id, e.arn, e.state_machine_arn, e.version_arn, e.alias_arn,
    e.status, e.start_millis, e.stop_millis, e.output, e.error, e.cause, e.redrive_count,
    e.redrive_millis, b.name, b.revision_id, b.seed, b.input, b.trace_header, b.test_case";

/// The tables execution rows are read from.
const EXECUTION_TABLES: &str = "executions e JOIN execution_bodies b ON b.id = e.id";

fn execution_row(row: &Row) -> Result<ExecutionRow, Error> {
    let status: &str = column(row, 5)?;
    let redrive_count: i64 = column(row, 11)?;
    let arn: String = column(row, 1)?;
    Ok(ExecutionRow {
        id: u64_column(row, 0)?,
        state_machine_arn: column(row, 2)?,
        version_arn: column(row, 3)?,
        alias_arn: column(row, 4)?,
        status: status.parse().map_err(|error: Error| match error {
            Error::Decode(reason) => Error::Decode(format!("execution {arn}: {reason}")),
            other => other,
        })?,
        start_millis: column(row, 6)?,
        stop_millis: column(row, 7)?,
        output: column(row, 8)?,
        error: text_bytes_column(row, 9)?,
        cause: text_bytes_column(row, 10)?,
        redrive_count: u32::try_from(redrive_count).map_err(|_| {
            Error::Decode(format!("execution {arn}: redrive count {redrive_count}"))
        })?,
        redrive_millis: column(row, 12)?,
        name: column(row, 13)?,
        revision_id: column(row, 14)?,
        seed: u64_column(row, 15)?,
        input: column(row, 16)?,
        trace_header: column(row, 17)?,
        test_case: column(row, 18)?,
        arn,
    })
}

pub(crate) async fn execution(client: Client, id: u64) -> Result<Option<ExecutionRow>, Error> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM {EXECUTION_TABLES} WHERE e.id = $1");
    let rows = query(&client, &sql, &[&(id as i64)]).await?;
    rows.first().map(execution_row).transpose()
}

pub(crate) async fn execution_by_arn(
    client: Client,
    arn: String,
) -> Result<Option<ExecutionRow>, Error> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM {EXECUTION_TABLES} WHERE e.arn = $1");
    let rows = query(&client, &sql, &[&arn]).await?;
    rows.first().map(execution_row).transpose()
}

pub(crate) async fn list_executions(
    client: Client,
    wanted: ExecutionQuery,
) -> Result<Vec<ExecutionRow>, Error> {
    let (filter, mut values) = execution_filter(&wanted);
    values.push(Box::new(i64::try_from(wanted.limit).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM {EXECUTION_TABLES} WHERE {filter} ORDER BY e.start_millis DESC, e.id DESC LIMIT ${}",
        values.len()
    );
    let rows = query(&client, &sql, &parameters(&values)).await?;
    rows.iter().map(execution_row).collect()
}

pub(crate) async fn count_executions(
    client: Client,
    wanted: ExecutionQuery,
) -> Result<usize, Error> {
    let (filter, mut values) = execution_filter(&wanted);
    values.push(Box::new(i64::try_from(wanted.limit).unwrap_or(i64::MAX)));
    // The executions table alone: a count never reads inputs or outputs.
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM executions e WHERE {filter} LIMIT ${}) AS counted",
        values.len()
    );
    let rows = query(&client, &sql, &parameters(&values)).await?;
    let count: i64 = match rows.first() {
        Some(row) => column(row, 0)?,
        None => 0,
    };
    Ok(usize::try_from(count).unwrap_or(0))
}

type Parameter = Box<dyn ToSql + Sync + Send>;

fn parameters(values: &[Parameter]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|value| &**value as &(dyn ToSql + Sync))
        .collect()
}

/// The `WHERE` condition (on `executions e`) of an [`ExecutionQuery`], and its parameters.
fn execution_filter(wanted: &ExecutionQuery) -> (String, Vec<Parameter>) {
    let mut sql = "e.state_machine_arn = $1".to_string();
    let mut values: Vec<Parameter> = vec![Box::new(wanted.state_machine_arn.clone())];
    if let Some(version) = &wanted.version_arn {
        values.push(Box::new(version.clone()));
        sql.push_str(&format!(" AND e.version_arn = ${}", values.len()));
    }
    if let Some(alias) = &wanted.alias_arn {
        values.push(Box::new(alias.clone()));
        sql.push_str(&format!(" AND e.alias_arn = ${}", values.len()));
    }
    if let Some(status) = wanted.status {
        values.push(Box::new(status.as_str()));
        sql.push_str(&format!(" AND e.status = ${}", values.len()));
    }
    match wanted.redriven {
        Some(true) => sql.push_str(" AND e.redrive_count > 0"),
        Some(false) => sql.push_str(" AND e.redrive_count = 0"),
        None => {}
    }
    if let Some((start, id)) = wanted.after {
        values.push(Box::new(start));
        values.push(Box::new(id as i64));
        let n = values.len();
        sql.push_str(&format!(
            " AND (e.start_millis < ${} OR (e.start_millis = ${} AND e.id < ${n}))",
            n - 1,
            n - 1
        ));
    }
    (sql, values)
}

pub(crate) async fn history(
    client: Client,
    id: u64,
    after: u64,
    reverse: bool,
    limit: usize,
) -> Result<Vec<StoredEvent>, Error> {
    let (sql, bound) = if reverse {
        (
            "SELECT id, body FROM events WHERE execution_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            if after == 0 { i64::MAX } else { after as i64 },
        )
    } else {
        (
            "SELECT id, body FROM events WHERE execution_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            after as i64,
        )
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = query(&client, sql, &[&(id as i64), &bound, &limit]).await?;
    rows.iter()
        .map(|row| {
            Ok(StoredEvent {
                id: u64_column(row, 0)?,
                json: column(row, 1)?,
            })
        })
        .collect()
}

pub(crate) async fn history_len(client: Client, id: u64) -> Result<u64, Error> {
    let rows = query(
        &client,
        "SELECT COUNT(*) FROM events WHERE execution_id = $1",
        &[&(id as i64)],
    )
    .await?;
    match rows.first() {
        Some(row) => u64_column(row, 0),
        None => Err(Error::Decode("COUNT answered no row".into())),
    }
}

pub(crate) async fn inputs(client: Client, id: u64) -> Result<Vec<LoggedInput>, Error> {
    let rows = query(
        &client,
        "SELECT seq, now_millis, body, history_hash FROM inputs WHERE execution_id = $1
         ORDER BY seq",
        &[&(id as i64)],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let body: &str = column(row, 2)?;
            Ok(LoggedInput {
                seq: u64_column(row, 0)?,
                now_millis: column(row, 1)?,
                input: serde_json::from_str(body)?,
                history_hash: column::<Option<i64>>(row, 3)?.map(|hash| hash as u64),
            })
        })
        .collect()
}

/// The running executions node `node` owns.
pub(crate) async fn running_executions(
    client: Client,
    node: u64,
) -> Result<Vec<RunningExecution>, Error> {
    let rows = query(
        &client,
        "SELECT id, pending, EXISTS (SELECT 1 FROM tasks WHERE execution_id = e.id)
         FROM executions e WHERE status = 'RUNNING' AND owner = $1 ORDER BY id",
        &[&(node as i64)],
    )
    .await?;
    rows.iter().map(crate::cluster::running_execution).collect()
}

/// The timers of the executions node `node` owns.
pub(crate) async fn timers(client: Client, node: u64) -> Result<Vec<Timer>, Error> {
    let rows = query(
        &client,
        "SELECT t.execution_id, t.timer_id, t.fire_at_millis FROM timers t
         JOIN executions e ON e.id = t.execution_id WHERE e.owner = $1",
        &[&(node as i64)],
    )
    .await?;
    rows.iter().map(timer).collect()
}

/// A row of `execution_id, timer_id, fire_at_millis`.
pub(crate) fn timer(row: &Row) -> Result<Timer, Error> {
    Ok(Timer {
        execution_id: u64_column(row, 0)?,
        timer_id: u64_column(row, 1)?,
        fire_at_millis: column(row, 2)?,
    })
}

pub(crate) async fn tasks(client: Client, id: u64) -> Result<Vec<TaskRecord>, Error> {
    let rows = query(
        &client,
        "SELECT body FROM tasks WHERE execution_id = $1 ORDER BY task_id",
        &[&(id as i64)],
    )
    .await?;
    rows.iter()
        .map(|row| Ok(serde_json::from_str(column::<&str>(row, 0)?)?))
        .collect()
}

/// The waiting activity tasks, counted through the partial index `tasks_waiting` (the rows
/// of waiting activity tasks alone): the `limit` deepest activities and the total.
pub(crate) async fn waiting_activity_tasks(
    client: Client,
    limit: usize,
) -> Result<WaitingActivityTasks, Error> {
    let rows = query(
        &client,
        "SELECT activity_arn, count(*), sum(count(*)) OVER ()::BIGINT FROM tasks
         WHERE activity_arn IS NOT NULL GROUP BY activity_arn
         ORDER BY count(*) DESC, activity_arn LIMIT $1",
        &[&(limit.min(i64::MAX as usize) as i64)],
    )
    .await?;
    let mut waiting = WaitingActivityTasks::default();
    for row in &rows {
        waiting.deepest.push((column(row, 0)?, u64_column(row, 1)?));
        waiting.total = u64_column(row, 2)?;
    }
    Ok(waiting)
}

/// Open tasks with a token, of executions under an ARN prefix (or of one execution), oldest
/// scheduled first: read through the partial index on `token`, joined with their executions.
pub(crate) async fn open_tasks(
    client: Client,
    prefix: String,
    execution_arn: Option<String>,
    limit: usize,
) -> Result<Vec<OpenTaskRow>, Error> {
    let rows = query(
        &client,
        "SELECT t.execution_id, e.arn, t.body FROM tasks AS t
         JOIN executions AS e ON e.id = t.execution_id
         WHERE t.token IS NOT NULL AND starts_with(e.arn, $1) AND ($2::TEXT IS NULL OR e.arn = $2)
         ORDER BY (t.body::jsonb ->> 'scheduled_millis')::BIGINT, t.execution_id, t.task_id
         LIMIT $3",
        &[
            &prefix,
            &execution_arn,
            &(limit.min(i64::MAX as usize) as i64),
        ],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(OpenTaskRow {
                execution_id: u64_column(row, 0)?,
                execution_arn: column(row, 1)?,
                record: serde_json::from_str(column::<&str>(row, 2)?)?,
            })
        })
        .collect()
}

pub(crate) async fn redrive_tokens(client: Client, id: u64) -> Result<Vec<RedriveToken>, Error> {
    let rows = query(
        &client,
        "SELECT client_token, redrive_millis FROM redrive_tokens WHERE execution_id = $1
         ORDER BY redrive_millis DESC",
        &[&(id as i64)],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(RedriveToken {
                client_token: column(row, 0)?,
                redrive_millis: column(row, 1)?,
            })
        })
        .collect()
}
