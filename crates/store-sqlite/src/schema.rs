//! The SQLite schema and its versions.
//!
//! The database's schema version is SQLite's `PRAGMA user_version` (0 in a new file). Each
//! entry of [`MIGRATIONS`] takes a database from one version to the next; at every open,
//! [`migrate`] applies those the database lacks, and records the new version, in one
//! transaction, so a failed upgrade leaves the database as it was. A database with a
//! version newer than this steppe knows is refused: its tables may mean what this code
//! cannot know.
//!
//! Version 1 is the schema of steppe before versions were recorded, written as
//! `CREATE ... IF NOT EXISTS`. Databases of that time carry version 0 whatever their
//! tables; they differ from version 1 only by tables and indexes added since (the redrive
//! tokens, the retention index), which migration 1 creates where missing. So a data
//! directory written by an older steppe upgrades in place, and a new one starts the same
//! way.
//!
//! Never edit a migration that has shipped: add the next one.

use crate::{damaged, Fault};
use rusqlite::Connection;
use std::path::Path;
use steppe_store::Error;

/// The schema version this steppe writes and understands: the number of migrations.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The migrations, in order: entry `n` takes a database from version `n` to `n + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[VERSION_1, VERSION_2, VERSION_3];

/// Version 1: the tables and indexes. Statuses are stored as
/// [`steppe_store::ExecutionStatus::as_str`] text; the SQL here and in queries spells
/// `'RUNNING'` as a literal so that the partial indexes apply.
/// Version 2: the tokens of tasks that closed, so that a late `SendTask*` answers
/// `TaskTimedOut` after a restart too, as AWS does; deleted with their execution.
pub(crate) const VERSION_2: &str = "
CREATE TABLE closed_tokens (token TEXT PRIMARY KEY, execution_id INTEGER NOT NULL);
CREATE INDEX closed_tokens_by_execution ON closed_tokens (execution_id);
";

/// Version 3: each logged input keeps the running hash of the history once it was applied
/// (`steppe_store::history_hash`, stored as its 64 bits in a signed INTEGER), which a replay
/// must reach; inputs logged before have none (NULL), and a replay checks the rest.
pub(crate) const VERSION_3: &str = "
ALTER TABLE inputs ADD COLUMN history_hash INTEGER;
";

pub(crate) const VERSION_1: &str = "
CREATE TABLE IF NOT EXISTS resources (key TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS executions (
    id INTEGER PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    state_machine_arn TEXT NOT NULL,
    version_arn TEXT,
    alias_arn TEXT,
    status TEXT NOT NULL,
    start_millis INTEGER NOT NULL,
    stop_millis INTEGER,
    output TEXT,
    error TEXT,
    cause TEXT,
    redrive_count INTEGER NOT NULL,
    redrive_millis INTEGER,
    next_seq INTEGER NOT NULL,
    pending TEXT NOT NULL
);
-- The fields that never change (input included), apart so that the per-transition update of
-- `executions` rewrites a small row.
CREATE TABLE IF NOT EXISTS execution_bodies (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (state_machine_arn, start_millis, id);
CREATE INDEX IF NOT EXISTS executions_running ON executions (id) WHERE status = 'RUNNING';
CREATE TABLE IF NOT EXISTS inputs (
    execution_id INTEGER NOT NULL, seq INTEGER NOT NULL, now_millis INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    execution_id INTEGER NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution_id, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timers (
    execution_id INTEGER NOT NULL, timer_id INTEGER NOT NULL, fire_at_millis INTEGER NOT NULL,
    PRIMARY KEY (execution_id, timer_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tasks (
    execution_id INTEGER NOT NULL, task_id INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution_id, task_id)) WITHOUT ROWID;
-- Added after the first release: databases made before it gain the table when opened.
CREATE TABLE IF NOT EXISTS redrive_tokens (
    execution_id INTEGER NOT NULL, client_token TEXT NOT NULL, redrive_millis INTEGER NOT NULL,
    PRIMARY KEY (execution_id, client_token)) WITHOUT ROWID;
-- Added for retention: closed executions by the time they ended (older databases gain it
-- when opened).
CREATE INDEX IF NOT EXISTS executions_closed ON executions (stop_millis, id) WHERE status != 'RUNNING';
";

/// Brings the database to [`SCHEMA_VERSION`], or refuses one that is newer.
pub(crate) fn migrate(connection: &mut Connection, path: &Path) -> Result<(), Error> {
    let version = user_version(connection).map_err(|fault| damaged(path, fault.0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::DataDir(format!(
            "{} has schema version {version}, newer than this steppe knows ({SCHEMA_VERSION}): run the steppe that wrote it, or a newer one",
            path.display()
        )));
    }
    apply_from(connection, version).map_err(|fault| damaged(path, fault.0))
}

/// The database's schema version.
pub(crate) fn user_version(connection: &Connection) -> Result<u32, Fault> {
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    // A negative or huge version was not written by steppe: newer than anything it knows.
    Ok(u32::try_from(version).unwrap_or(u32::MAX))
}

/// Applies the migrations after `version` and records the new version, in one transaction.
fn apply_from(connection: &mut Connection, version: u32) -> Result<(), Fault> {
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let transaction = connection.transaction()?;
    for migration in &MIGRATIONS[version as usize..] {
        transaction.execute_batch(migration)?;
    }
    transaction.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    transaction.commit()?;
    Ok(())
}
