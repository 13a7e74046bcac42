//! Several servers on one schema: node leases, execution ownership, and activity tasks any
//! node can find and claim (`steppe_store::Store`'s cluster methods; see schema version 2).
//!
//! Every time is the database's (`now()`), so clocks that differ between machines cannot
//! make two nodes believe they both hold a lease.

use crate::error::{column, u64_column};
use crate::read::query;
use deadpool_postgres::Client;
use std::time::Duration;
use steppe_store::*;
use tokio_postgres::Row;

/// A lease's length as PostgreSQL's `interval` input: whole milliseconds.
fn seconds(lease: Duration) -> f64 {
    lease.as_millis() as f64 / 1000.0
}

pub(crate) async fn join(client: Client, address: String, lease: Duration) -> Result<u64, Error> {
    let rows = query(
        &client,
        "INSERT INTO nodes (id, address, lease_until)
         VALUES (nextval('node_ids'), $1, now() + make_interval(secs => $2)) RETURNING id",
        &[&address, &seconds(lease)],
    )
    .await?;
    rows.first()
        .ok_or_else(|| Error::Decode("joining answered no node".into()))
        .and_then(|row| u64_column(row, 0))
}

pub(crate) async fn cluster_key(client: Client) -> Result<Option<String>, Error> {
    let rows = query(&client, "SELECT key FROM cluster_key", &[]).await?;
    rows.first().map(|row| column::<String>(row, 0)).transpose()
}

/// Extends node `node`'s lease; answers whether it was current. A node whose row is gone
/// (every execution it owned was taken over and the row removed) gets it back.
pub(crate) async fn renew(
    client: Client,
    node: u64,
    address: String,
    lease: Duration,
) -> Result<bool, Error> {
    let rows = query(
        &client,
        "WITH old AS (SELECT lease_until > now() AS current FROM nodes WHERE id = $1),
              renewed AS (
                INSERT INTO nodes (id, address, lease_until)
                VALUES ($1, $2, now() + make_interval(secs => $3))
                ON CONFLICT (id) DO UPDATE SET lease_until = EXCLUDED.lease_until
                RETURNING 1)
         SELECT coalesce((SELECT current FROM old), false) FROM renewed",
        &[&(node as i64), &address, &seconds(lease)],
    )
    .await?;
    match rows.first() {
        Some(row) => column(row, 0),
        None => Err(Error::Decode("renewing a lease answered nothing".into())),
    }
}

pub(crate) async fn leave(client: Client, node: u64) -> Result<(), Error> {
    query(
        &client,
        "UPDATE nodes SET lease_until = now() - interval '1 second' WHERE id = $1",
        &[&(node as i64)],
    )
    .await
    .map(|_| ())
}

/// Makes `node` the owner of up to `limit` running executions whose owner's lease expired
/// (or that were written before owners existed), skipping rows another node is taking
/// over at the same moment. Nodes that own nothing and whose lease expired are forgotten.
pub(crate) async fn take_over(
    client: Client,
    node: u64,
    limit: usize,
) -> Result<Vec<RunningExecution>, Error> {
    let rows = query(
        &client,
        "WITH orphans AS (
             SELECT e.id FROM executions e
             WHERE e.status = 'RUNNING' AND e.owner <> $1
               AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = e.owner AND n.lease_until > now())
             ORDER BY e.id LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE executions e SET owner = $1 FROM orphans WHERE e.id = orphans.id
         RETURNING e.id, e.pending, EXISTS (SELECT 1 FROM tasks WHERE execution_id = e.id)",
        &[&(node as i64), &(limit as i64)],
    )
    .await?;
    if rows.is_empty() {
        query(
            &client,
            "DELETE FROM nodes n WHERE n.lease_until < now() - interval '1 minute'
               AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.status = 'RUNNING' AND e.owner = n.id)",
            &[],
        )
        .await?;
    }
    rows.iter().map(running_execution).collect()
}

/// One row of `id, pending, has_tasks`.
pub(crate) fn running_execution(row: &Row) -> Result<RunningExecution, Error> {
    let id = u64_column(row, 0)?;
    let pending: &str = column(row, 1)?;
    Ok(RunningExecution {
        id,
        pending: if pending.is_empty() {
            Ok(Vec::new())
        } else {
            serde_json::from_str(pending)
                .map_err(|e| Error::Decode(format!("execution {id}: pending inputs: {e}")))
        },
        has_tasks: column(row, 2)?,
    })
}

pub(crate) async fn owner(client: Client, node: u64, id: u64) -> Result<Owner, Error> {
    let rows = query(
        &client,
        "SELECT e.owner, e.status = 'RUNNING', n.address, coalesce(n.lease_until > now(), false)
         FROM executions e LEFT JOIN nodes n ON n.id = e.owner WHERE e.id = $1",
        &[&(id as i64)],
    )
    .await?;
    let Some(row) = rows.first() else {
        return Ok(Owner::Local);
    };
    let owner = u64_column(row, 0)?;
    let running: bool = column(row, 1)?;
    let address: Option<String> = column(row, 2)?;
    let current: bool = column(row, 3)?;
    Ok(match (owner == node, current, address) {
        (true, _, _) => Owner::Local,
        (false, true, Some(address)) => Owner::Remote(Node { id: owner, address }),
        // A closed execution whose node is gone: whoever redrives it owns it.
        _ if !running => Owner::Local,
        _ => Owner::Orphaned,
    })
}

pub(crate) async fn execution_timers(client: Client, id: u64) -> Result<Vec<Timer>, Error> {
    let rows = query(
        &client,
        "SELECT execution_id, timer_id, fire_at_millis FROM timers WHERE execution_id = $1",
        &[&(id as i64)],
    )
    .await?;
    rows.iter().map(crate::read::timer).collect()
}

pub(crate) async fn task_by_token(
    client: Client,
    token: String,
) -> Result<Option<(u64, bool)>, Error> {
    let rows = query(
        &client,
        "(SELECT execution_id, true FROM tasks WHERE token = $1 LIMIT 1)
         UNION ALL (SELECT execution_id, false FROM closed_tokens WHERE token = $1)
         LIMIT 1",
        &[&token],
    )
    .await?;
    rows.first()
        .map(|row| Ok((u64_column(row, 0)?, column(row, 1)?)))
        .transpose()
}

pub(crate) async fn claim_activity_task(
    client: Client,
    activity_arn: String,
    claim: Duration,
) -> Result<Option<(u64, u64)>, Error> {
    let rows = query(
        &client,
        "UPDATE tasks t SET claimed_until = now() + make_interval(secs => $2)
         FROM (SELECT execution_id, task_id FROM tasks
               WHERE activity_arn = $1 AND (claimed_until IS NULL OR claimed_until < now())
               ORDER BY execution_id, task_id LIMIT 1 FOR UPDATE SKIP LOCKED) waiting
         WHERE t.execution_id = waiting.execution_id AND t.task_id = waiting.task_id
         RETURNING t.execution_id, t.task_id",
        &[&activity_arn, &seconds(claim)],
    )
    .await?;
    rows.first()
        .map(|row| Ok((u64_column(row, 0)?, u64_column(row, 1)?)))
        .transpose()
}

/// Listens on the channel `<prefix><schema>` on a connection of its own (a pooled one would
/// not hand over notifications) and calls `wake` with each notification's payload, and with
/// `""` (look at everything) once listening, since notifications sent while no connection
/// listened are lost. Answers why it stopped. Channels: [`TASKS_CHANNEL`] (payload: an
/// activity ARN whose task waits for a worker) and [`RESOURCES_CHANNEL`] (`VERSION KEY`).
pub(crate) async fn listen(
    config: &tokio_postgres::Config,
    prefix: &str,
    wake: &(dyn Fn(&str) + Send + Sync),
) -> Error {
    match listening(config, prefix, wake).await {
        Ok(()) => Error::Database("the listening connection closed".into()),
        Err(error) => error,
    }
}

/// How many notifications may wait between the connection and `wake`; past it they are
/// dropped (pollers look again now and then anyway).
const NOTIFICATIONS_QUEUED_MAX: usize = 1024;

/// The prefix of the channel announcing activity tasks (`steppe_transition`, version 2).
pub(crate) const TASKS_CHANNEL: &str = "steppe_tasks_";

/// The prefix of the channel announcing resource writes (`steppe_resource_changed`, version
/// 3). PostgreSQL cuts a channel's name to 63 bytes, on both sides.
pub(crate) const RESOURCES_CHANNEL: &str = "steppe_resources_";

async fn listening(
    config: &tokio_postgres::Config,
    prefix: &str,
    wake: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), Error> {
    let (client, mut connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| crate::error::statement_error(&e))?;
    let (sender, mut notifications) =
        tokio::sync::mpsc::channel::<String>(NOTIFICATIONS_QUEUED_MAX);
    let driving = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|context| connection.poll_message(context)).await {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(notification))) => {
                    let _ = sender.try_send(notification.payload().to_string());
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    });
    let schema: String = client
        .query_one("SELECT current_schema()", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| crate::error::statement_error(&e))?;
    client
        .batch_execute(&format!("LISTEN \"{prefix}{schema}\""))
        .await
        .map_err(|e| crate::error::statement_error(&e))?;
    wake("");
    while let Some(activity_arn) = notifications.recv().await {
        wake(&activity_arn);
    }
    driving.abort();
    Ok(())
}

pub(crate) async fn resource(client: Client, key: String) -> Result<Option<Resource>, Error> {
    let rows = query(
        &client,
        "SELECT body FROM resources WHERE key = $1",
        &[&key],
    )
    .await?;
    rows.first()
        .map(|row| {
            let body: &str = column(row, 0)?;
            serde_json::from_str(body).map_err(|e| Error::Decode(format!("resource {key}: {e}")))
        })
        .transpose()
}

pub(crate) async fn resources_version(client: Client) -> Result<u64, Error> {
    let rows = query(&client, "SELECT version FROM resources_version", &[]).await?;
    match rows.as_slice() {
        [row] => u64_column(row, 0),
        _ => Err(Error::Decode(format!(
            "resources_version holds {} rows, not one",
            rows.len()
        ))),
    }
}

/// A notification of [`RESOURCES_CHANNEL`]: `VERSION KEY`, or `""` (look at everything)
/// as `(0, "")`; `None` for anything else.
pub(crate) fn resource_change(payload: &str) -> Option<(u64, &str)> {
    if payload.is_empty() {
        return Some((0, ""));
    }
    let (version, key) = payload.split_once(' ')?;
    Some((version.parse().ok()?, key))
}

#[cfg(test)]
mod tests {
    use super::resource_change;

    #[test]
    fn resource_notifications_parse() {
        assert_eq!(resource_change(""), Some((0, "")));
        assert_eq!(
            resource_change("12 arn:aws:states:us-east-1:1:stateMachine:a b"),
            Some((12, "arn:aws:states:us-east-1:1:stateMachine:a b"))
        );
        assert_eq!(resource_change("twelve arn"), None);
        assert_eq!(resource_change("12"), None);
    }
}
