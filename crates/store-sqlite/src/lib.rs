//! The SQLite store: steppe's embedded default, one database file in WAL mode, one writer
//! thread with group commit. It implements [`steppe_store::Store`] and passes the store's
//! shared suite (`tests/suite.rs`).
//!
//! Every submitted group of writes goes to the writer thread through the store crate's
//! `writer` queue (at most [`SUBMIT_QUEUE_MAX`] groups; past it, `submit` waits for room). The writer
//! takes whatever is queued (up to [`GROUP_MAX`] groups), applies them in one transaction
//! (redone with a savepoint per group if one fails, so it is rolled back alone), commits once, and only then calls
//! every group's `done`. With `synchronous = FULL` the commit fsyncs the WAL, so one fsync
//! covers every execution that submitted in the meantime. Reads use their own connections,
//! which WAL lets run beside the writer. Retention's deletions go through the same channel
//! and commit in transactions of their own, between groups.
//!
//! The data directory: `steppe.lock` is locked (`flock`, exclusive) for as long as the
//! store is open, so a second server on the directory is refused at once instead of
//! handing out the same execution ids. Once the database has its schema, the lock file
//! gets a line of text: a directory whose lock file has text is one whose database was
//! made, and there a missing or empty (0-byte) `steppe.db` is refused rather than silently
//! started afresh. (A crash before that line leaves a database with no data worth keeping,
//! and directories made before the lock file existed are recognised by their non-empty
//! database.) Every open runs `PRAGMA quick_check` and refuses a damaged database, then
//! brings the schema to this version (`schema.rs`: versioned migrations, an upgrade in
//! place; a database from a newer steppe is refused).
//!
//! Deleted rows' pages go to SQLite's freelist and new rows reuse them, so under steady
//! load with retention the file stops growing (`auto_vacuum` stays off: it would add
//! pointer-map upkeep to every commit, and a file that shrinks only to grow again gains
//! nothing). After a burst the file keeps its size; `VACUUM` with the server stopped
//! shrinks it.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use steppe_store::writer::{self, Group};
use steppe_store::*;

pub use schema::SCHEMA_VERSION;
pub use steppe_store::writer::SUBMIT_QUEUE_MAX;

/// The most groups one transaction commits.
const GROUP_MAX: usize = 4096;
/// How many read connections to keep.
const READERS: usize = 2;
/// The database file in the data directory.
pub const DATABASE_FILE: &str = "steppe.db";
/// The lock file in the data directory (see the module documentation).
pub const LOCK_FILE: &str = "steppe.lock";
/// What the lock file says once the database has been made.
const LOCK_FILE_TEXT: &str =
    "steppe data directory: steppe.db holds its data; a running server keeps this file locked\n";
/// How many lines of a failed integrity check the error quotes.
const INTEGRITY_LINES_MAX: usize = 3;

/// A store error inside this crate.
///
/// `steppe_store::Error` and `rusqlite::Error` both belong to other crates, so the orphan
/// rule forbids `From<rusqlite::Error> for steppe_store::Error` here; `?` converts rusqlite's
/// errors (by [`sql_error`]), serde_json's and the store's own into a `Fault`, and the
/// [`Store`] methods turn it back.
#[derive(Debug)]
pub(crate) struct Fault(pub(crate) Error);

impl From<rusqlite::Error> for Fault {
    fn from(error: rusqlite::Error) -> Fault {
        Fault(sql_error(error))
    }
}

impl From<serde_json::Error> for Fault {
    fn from(error: serde_json::Error) -> Fault {
        Fault(Error::from(error))
    }
}

impl From<Error> for Fault {
    fn from(error: Error) -> Fault {
        Fault(error)
    }
}

impl From<Fault> for Error {
    fn from(fault: Fault) -> Error {
        fault.0
    }
}

/// What an SQLite error means to the server: a damaged database, a damaged row, or a
/// failing database.
pub(crate) fn sql_error(error: rusqlite::Error) -> Error {
    match (&error, error.sqlite_error_code()) {
        (_, Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)) => {
            Error::Corrupt(error.to_string())
        }
        // A column that is not what the schema wrote (text that is not UTF-8, say) is a
        // damaged row, not a failing database.
        (
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::Utf8Error(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..),
            _,
        ) => Error::Decode(error.to_string()),
        _ => Error::Database(error.to_string()),
    }
}

/// How to open a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The directory holding the database (created if missing).
    pub data_dir: PathBuf,
    /// Whether commits fsync (`synchronous = FULL`); off only for benchmarks of the rest.
    pub fsync: bool,
}

/// See the module documentation.
pub struct SqliteStore {
    /// Where submitted groups wait for the writer thread.
    queue: writer::Queue,
    /// `None` once closed.
    readers: Vec<Mutex<Option<Connection>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The locked lock file; dropping it releases the data directory.
    lock_file: Mutex<Option<File>>,
    /// The last execution id handed out. Seeded at open from the largest id in the
    /// database: the lock on the data directory makes this store the database's only user,
    /// so no one else allocates or inserts ids while it is open, and a counter in memory
    /// needs no write per allocation. (After a restart the ids of executions retention deleted
    /// may come again, when they were the largest; nothing keyed by them is left.)
    last_execution_id: AtomicU64,
    /// Counts the committed groups that wrote resources (`Store::resources_version`): kept in
    /// memory for the same reason, as nobody else writes the database while it is open.
    resources_version: Arc<AtomicU64>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

/// The fields of an execution that never change, kept as one JSON column.
#[derive(Serialize, Deserialize)]
struct Fixed {
    name: String,
    revision_id: String,
    seed: u64,
    input: String,
    trace_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    test_case: Option<String>,
}

impl SqliteStore {
    /// Opens (or creates) the database in `options.data_dir` and starts the writer thread.
    ///
    /// Refuses ([`Error::DataDir`]) a directory another store holds or whose database went
    /// missing or empty, and ([`Error::Corrupt`]) a database that fails its integrity check.
    pub fn open(options: &SqliteOptions) -> Result<SqliteStore, Error> {
        let data_dir = &options.data_dir;
        std::fs::create_dir_all(data_dir).map_err(|e| {
            Error::DataDir(format!(
                "cannot create the data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let mut lock_file = lock_data_dir(data_dir)?;
        let made = lock_file_says_made(&mut lock_file, data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        let existing = check_database_file(&path, data_dir, made)?;
        let mut writer =
            open_connection(&path, options.fsync).map_err(|fault| damaged(&path, fault.0))?;
        if existing {
            check_integrity(&writer, &path)?;
        }
        schema::migrate(&mut writer, &path)?;
        if !made {
            mark_made(&mut lock_file, data_dir)?;
        }
        let last_execution_id =
            max_execution_id(&writer).map_err(|fault| damaged(&path, fault.0))?;
        let readers = (0..READERS)
            .map(|_| open_connection(&path, options.fsync).map(|c| Mutex::new(Some(c))))
            .collect::<Result<Vec<_>, Fault>>()?;
        let (queue, receiver) = writer::queue("SQLite");
        let resources_version = Arc::new(AtomicU64::new(0));
        let handle = std::thread::Builder::new()
            .name("steppe-store-writer".into())
            .spawn({
                let resources_version = resources_version.clone();
                move || {
                    let mut backend = Writer {
                        connection: writer,
                        resources_version,
                    };
                    writer::run(receiver, GROUP_MAX, &mut backend)
                }
            })
            .map_err(|e| Error::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            queue,
            readers,
            writer: Mutex::new(Some(handle)),
            lock_file: Mutex::new(Some(lock_file)),
            last_execution_id: AtomicU64::new(last_execution_id),
            resources_version,
        })
    }

    /// Stops accepting writes, commits what is queued, waits for the writer to end, closes
    /// the database and releases the data directory.
    pub fn close(&self) {
        self.queue.close();
        if let Some(handle) = lock(&self.writer).take() {
            let _ = handle.join();
        }
        for reader in &self.readers {
            drop(lock(reader).take());
        }
        // Released last: the database is closed (its WAL checkpointed) by now.
        drop(lock(&self.lock_file).take());
    }

    /// Runs `read` on a free read connection (or waits for the first).
    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T, Fault>) -> Result<T, Error> {
        let guard = self
            .readers
            .iter()
            .find_map(|reader| reader.try_lock().ok())
            .unwrap_or_else(|| lock(&self.readers[0]));
        match guard.as_ref() {
            Some(connection) => read(connection).map_err(Error::from),
            None => Err(Error::Closed),
        }
    }
}

/// The largest execution id in the database, 0 for none.
fn max_execution_id(connection: &Connection) -> Result<u64, Fault> {
    let max: Option<i64> =
        connection.query_row("SELECT MAX(id) FROM executions", [], |row| row.get(0))?;
    Ok(max.unwrap_or(0) as u64)
}

/// Opens the lock file and takes its lock, or says which directory is in use.
fn lock_data_dir(data_dir: &Path) -> Result<File, Error> {
    let path = data_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::DataDir(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::DataDir(format!(
            "the data directory {} is in use by another steppe server (it holds the lock on {})",
            data_dir.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::DataDir(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

/// Whether the lock file says the directory's database was made.
fn lock_file_says_made(lock_file: &mut File, data_dir: &Path) -> Result<bool, Error> {
    let mut text = String::new();
    lock_file.read_to_string(&mut text).map_err(|e| {
        Error::DataDir(format!(
            "cannot read {}: {e}",
            data_dir.join(LOCK_FILE).display()
        ))
    })?;
    Ok(!text.is_empty())
}

/// Records in the lock file that the database was made (see the module documentation).
fn mark_made(lock_file: &mut File, data_dir: &Path) -> Result<(), Error> {
    lock_file
        .write_all(LOCK_FILE_TEXT.as_bytes())
        .and_then(|()| lock_file.sync_all())
        .map_err(|e| {
            Error::DataDir(format!(
                "cannot write {}: {e}",
                data_dir.join(LOCK_FILE).display()
            ))
        })
}

/// Refuses a missing or empty database where one was made; returns whether the database
/// holds anything (and so is worth an integrity check).
fn check_database_file(path: &Path, data_dir: &Path, made: bool) -> Result<bool, Error> {
    let bytes = match std::fs::metadata(path) {
        Ok(metadata) => Some(metadata.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::DataDir(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    let missing = match bytes {
        None => "is missing",
        Some(0) => "is empty (0 bytes)",
        Some(_) => return Ok(true),
    };
    if made {
        return Err(Error::DataDir(format!(
            "the data directory {} held a database, but {} {missing}: restore it from a backup, or remove the directory to start afresh",
            data_dir.display(),
            path.display()
        )));
    }
    Ok(false)
}

/// `PRAGMA quick_check`: every page and index entry is well formed (row contents are not
/// read, which would take as long as reading the whole file; a bad row is caught when read).
fn check_integrity(connection: &Connection, path: &Path) -> Result<(), Error> {
    let found = (|| -> Result<Vec<String>, rusqlite::Error> {
        let mut statement = connection.prepare("PRAGMA quick_check")?;
        let lines = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .take(INTEGRITY_LINES_MAX)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(lines)
    })();
    let lines = found.map_err(|e| damaged(path, sql_error(e)))?;
    if lines == ["ok"] {
        return Ok(());
    }
    Err(Error::Corrupt(format!(
        "{} failed its integrity check ({}): restore it from a backup",
        path.display(),
        lines.join("; ")
    )))
}

/// Names the database in an error that says it is damaged.
fn damaged(path: &Path, error: Error) -> Error {
    match error {
        Error::Corrupt(reason) => Error::Corrupt(format!(
            "{} cannot be read ({reason}): restore it from a backup",
            path.display()
        )),
        other => other,
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn open_connection(path: &Path, fsync: bool) -> Result<Connection, Fault> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", if fsync { "FULL" } else { "OFF" })?;
    connection.pragma_update(None, "cache_size", -64_000)?;
    // Checkpoint less often (every ~40 MB of WAL): each checkpoint rewrites pages in the
    // database file, and under load fewer, larger checkpoints cost less.
    connection.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    Ok(connection)
}

/// The writer thread's connection: what [`writer::run`] commits through.
struct Writer {
    connection: Connection,
    /// The store's `resources_version`, counted once a group that wrote resources commits.
    resources_version: Arc<AtomicU64>,
}

impl writer::Commit for Writer {
    fn commit(&mut self, groups: &[Group]) -> Vec<Result<(), Error>> {
        let results = commit_groups(&mut self.connection, groups);
        let resource_writes = groups
            .iter()
            .zip(&results)
            .filter(|(_, result)| result.is_ok())
            .flat_map(|((writes, _), _)| writes)
            .filter(|write| matches!(write, Write::PutResource(_) | Write::DeleteResource(_)))
            .count();
        if resource_writes > 0 {
            self.resources_version
                .fetch_add(resource_writes as u64, Ordering::Release);
        }
        results
    }

    fn delete_closed(&mut self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error> {
        delete_closed(&mut self.connection, cutoff_millis, limit).map_err(Error::from)
    }
}

/// The tables keyed by execution id, emptied for each deleted execution.
const EXECUTION_KEYED_TABLES: [&str; 7] = [
    "inputs",
    "closed_tokens",
    "events",
    "timers",
    "tasks",
    "redrive_tokens",
    "execution_bodies",
];

/// Deletes up to `limit` executions that ended before `cutoff_millis`, in one transaction.
fn delete_closed(
    connection: &mut Connection,
    cutoff_millis: i64,
    limit: usize,
) -> Result<Vec<u64>, Fault> {
    let transaction = connection.transaction()?;
    let ids = transaction
        .prepare_cached(
            "SELECT id FROM executions WHERE status != 'RUNNING' AND stop_millis < ?1
             ORDER BY stop_millis, id LIMIT ?2",
        )?
        .query_map(params![cutoff_millis, limit as i64], |row| {
            row.get::<_, i64>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for id in &ids {
        for table in EXECUTION_KEYED_TABLES {
            let key = if table == "execution_bodies" {
                "id"
            } else {
                "execution_id"
            };
            transaction
                .prepare_cached(&format!("DELETE FROM {table} WHERE {key} = ?1"))?
                .execute(params![id])?;
        }
        transaction
            .prepare_cached("DELETE FROM executions WHERE id = ?1")?
            .execute(params![id])?;
    }
    transaction.commit()?;
    Ok(ids.into_iter().map(|id| id as u64).collect())
}

/// Commits every group that applies cleanly in one transaction; returns each group's result.
///
/// Groups almost always apply cleanly, so they are first applied as one plain transaction:
/// savepoints would copy every page a group touches into a statement journal. Only when some
/// group fails is the transaction rolled back and redone with a savepoint per group, so the
/// failing group is rolled back alone.
pub(crate) fn commit_groups(
    connection: &mut Connection,
    groups: &[Group],
) -> Vec<Result<(), Error>> {
    let together = (|| -> Result<(), Fault> {
        let transaction = connection.transaction()?;
        for (writes, _) in groups {
            writes.iter().try_for_each(|w| apply(&transaction, w))?;
        }
        transaction.commit()?;
        Ok(())
    })();
    match together {
        Ok(()) => groups.iter().map(|_| Ok(())).collect(),
        Err(_) if groups.len() > 1 => commit_groups_apart(connection, groups),
        Err(fault) => vec![Err(fault.0)],
    }
}

/// Commits the groups that apply cleanly, each inside its own savepoint, in one transaction.
fn commit_groups_apart(connection: &mut Connection, groups: &[Group]) -> Vec<Result<(), Error>> {
    let outcome = (|| -> Result<Vec<Result<(), Error>>, Fault> {
        let mut transaction = connection.transaction()?;
        let mut results = Vec::with_capacity(groups.len());
        for (writes, _) in groups {
            let savepoint_result = (|| -> Result<(), Fault> {
                let mut savepoint = transaction.savepoint()?;
                let applied = writes.iter().try_for_each(|w| apply(&savepoint, w));
                match applied {
                    Ok(()) => {
                        savepoint.commit()?;
                        Ok(())
                    }
                    Err(error) => {
                        savepoint.rollback()?;
                        Err(error)
                    }
                }
            })();
            results.push(savepoint_result.map_err(Error::from));
        }
        transaction.commit()?;
        Ok(results)
    })();
    match outcome {
        Ok(results) => results,
        Err(fault) => groups.iter().map(|_| Err(fault.0.clone())).collect(),
    }
}

/// The resource stored under `key`, read inside the writer's transaction.
fn stored_resource(connection: &Connection, key: &str) -> Result<Option<Resource>, Fault> {
    let body = connection
        .prepare_cached("SELECT body FROM resources WHERE key = ?1")?
        .query_row(params![key], |row| row.get::<_, String>(0))
        .optional()?;
    let stored = body
        .map(|body| serde_json::from_str::<Resource>(&body))
        .transpose()
        .map_err(|e| Error::Decode(format!("resource {key}: {e}")))?;
    Ok(stored)
}

/// `Write::ExpectUnaliased`: the version's machine's aliases (keyed `<machine ARN>:<name>`,
/// as its versions are) are read and none may route to it.
fn expect_unaliased(connection: &Connection, version_arn: &str) -> Result<(), Fault> {
    let Some((machine_arn, _)) = version_arn.rsplit_once(':') else {
        return Ok(());
    };
    let prefix = format!("{machine_arn}:");
    let mut statement = connection
        .prepare_cached("SELECT key, body FROM resources WHERE substr(key, 1, length(?1)) = ?1")?;
    let mut rows = statement.query(params![prefix])?;
    while let Some(row) = rows.next()? {
        let (key, body): (String, String) = (row.get(0)?, row.get(1)?);
        let resource = serde_json::from_str::<Resource>(&body)
            .map_err(|e| Error::Decode(format!("resource {key}: {e}")))?;
        if resource.routes_to(version_arn) {
            return Err(Fault(Error::Conflict(format!(
                "alias {key} routes to {version_arn}"
            ))));
        }
    }
    Ok(())
}

fn apply(connection: &Connection, write: &Write) -> Result<(), Fault> {
    match write {
        Write::PutResource(resource) => {
            connection
                .prepare_cached("INSERT OR REPLACE INTO resources (key, body) VALUES (?1, ?2)")?
                .execute(params![resource.key(), serde_json::to_string(resource)?])?;
        }
        Write::DeleteResource(key) => {
            connection
                .prepare_cached("DELETE FROM resources WHERE key = ?1")?
                .execute(params![key])?;
        }
        Write::ExpectResource { key, expected } => {
            if stored_resource(connection, key)? != *expected {
                return Err(Fault(Error::Conflict(format!("resource {key} changed"))));
            }
        }
        Write::ExpectActive { key } => {
            if !stored_resource(connection, key)?.is_some_and(|r| r.is_active()) {
                return Err(Fault(Error::Conflict(format!(
                    "resource {key} is not active"
                ))));
            }
        }
        Write::ExpectUnaliased { version_arn } => expect_unaliased(connection, version_arn)?,
        Write::InsertExecution(row) => insert_execution(connection, row)?,
        Write::Transition(transition) => apply_transition(connection, transition)?,
        Write::Redrive {
            execution_id,
            redrive_count,
            redrive_millis,
        } => {
            connection
                .prepare_cached(
                    "UPDATE executions SET status = 'RUNNING', stop_millis = NULL, output = NULL,
                     error = NULL, cause = NULL, redrive_count = ?2, redrive_millis = ?3 WHERE id = ?1",
                )?
                .execute(params![*execution_id as i64, redrive_count, redrive_millis])?;
        }
        Write::RedriveToken {
            execution_id,
            token,
        } => insert_redrive_token(connection, *execution_id, token)?,
    }
    Ok(())
}

/// Remembers a redrive's client token and forgets all but the newest
/// [`REDRIVE_TOKENS_KEPT`] of the execution's.
fn insert_redrive_token(
    connection: &Connection,
    execution_id: u64,
    token: &RedriveToken,
) -> Result<(), Fault> {
    let id = execution_id as i64;
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO redrive_tokens (execution_id, client_token, redrive_millis)
             VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, token.client_token, token.redrive_millis])?;
    connection
        .prepare_cached(
            "DELETE FROM redrive_tokens WHERE execution_id = ?1 AND client_token NOT IN
             (SELECT client_token FROM redrive_tokens WHERE execution_id = ?1
              ORDER BY redrive_millis DESC LIMIT ?2)",
        )?
        .execute(params![id, REDRIVE_TOKENS_KEPT as i64])?;
    Ok(())
}

fn insert_execution(connection: &Connection, row: &ExecutionRow) -> Result<(), Fault> {
    let fixed = Fixed {
        name: row.name.clone(),
        revision_id: row.revision_id.clone(),
        seed: row.seed,
        input: row.input.clone(),
        trace_header: row.trace_header.clone(),
        test_case: row.test_case.clone(),
    };
    let inserted = connection
        .prepare_cached(
            "INSERT INTO executions (id, arn, state_machine_arn, version_arn, alias_arn, status,
             start_millis, stop_millis, output, error, cause, redrive_count, redrive_millis,
             next_seq, pending)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, '')",
        )?
        .execute(params![
            row.id as i64,
            row.arn,
            row.state_machine_arn,
            row.version_arn,
            row.alias_arn,
            row.status.as_str(),
            row.start_millis,
            row.stop_millis,
            row.output,
            row.error,
            row.cause,
            row.redrive_count,
            row.redrive_millis,
        ]);
    match inserted {
        Ok(_) => {
            connection
                .prepare_cached("INSERT INTO execution_bodies (id, body) VALUES (?1, ?2)")?
                .execute(params![row.id as i64, serde_json::to_string(&fixed)?])?;
            Ok(())
        }
        Err(rusqlite::Error::SqliteFailure(error, _))
            if error.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(Error::Conflict(format!("execution {} exists", row.arn)).into())
        }
        Err(error) => Err(error.into()),
    }
}

fn apply_transition(connection: &Connection, transition: &TransitionRecord) -> Result<(), Fault> {
    let id = transition.execution_id as i64;
    let seq = transition.input.seq as i64;
    let changed = connection
        .prepare_cached(
            "UPDATE executions SET next_seq = next_seq + 1, pending = ?3
             WHERE id = ?1 AND next_seq = ?2",
        )?
        .execute(params![id, seq, pending_text(&transition.pending)?])?;
    if changed != 1 {
        return Err(Error::Conflict(format!(
            "execution {id}: input {seq} does not follow the last committed one"
        ))
        .into());
    }
    connection
        .prepare_cached(
            "INSERT INTO inputs (execution_id, seq, now_millis, body, history_hash)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            id,
            seq,
            transition.input.now_millis,
            serde_json::to_string(&transition.input.input)?,
            // SQLite's integers are signed: the hash is stored as its bits.
            transition.input.history_hash.map(|hash| hash as i64)
        ])?;
    {
        let mut insert_event = connection
            .prepare_cached("INSERT INTO events (execution_id, id, body) VALUES (?1, ?2, ?3)")?;
        for event in &transition.events {
            insert_event.execute(params![id, event.id as i64, event.json])?;
        }
    }
    if let Some(end) = &transition.end {
        connection
            .prepare_cached(
                "UPDATE executions SET status = ?2, stop_millis = ?3, output = ?4, error = ?5,
                 cause = ?6, pending = '' WHERE id = ?1",
            )?
            .execute(params![
                id,
                end.status.as_str(),
                end.stop_millis,
                end.output,
                end.error,
                end.cause
            ])?;
        connection
            .prepare_cached("DELETE FROM timers WHERE execution_id = ?1")?
            .execute(params![id])?;
        connection
            .prepare_cached(
                "INSERT OR IGNORE INTO closed_tokens (token, execution_id)
                 SELECT json_extract(body, '$.task_token'), execution_id FROM tasks
                 WHERE execution_id = ?1 AND json_extract(body, '$.task_token') IS NOT NULL",
            )?
            .execute(params![id])?;
        connection
            .prepare_cached("DELETE FROM tasks WHERE execution_id = ?1")?
            .execute(params![id])?;
        return Ok(());
    }
    for timer in &transition.timers_started {
        connection
            .prepare_cached(
                "INSERT OR REPLACE INTO timers (execution_id, timer_id, fire_at_millis) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, timer.timer_id as i64, timer.fire_at_millis])?;
    }
    for timer_id in &transition.timers_cleared {
        connection
            .prepare_cached("DELETE FROM timers WHERE execution_id = ?1 AND timer_id = ?2")?
            .execute(params![id, *timer_id as i64])?;
    }
    for task in &transition.tasks_started {
        connection
            .prepare_cached(
                "INSERT OR REPLACE INTO tasks (execution_id, task_id, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                id,
                task.task_id as i64,
                serde_json::to_string(task)?
            ])?;
    }
    for task_id in &transition.tasks_cleared {
        connection
            .prepare_cached(
                "INSERT OR IGNORE INTO closed_tokens (token, execution_id)
                 SELECT json_extract(body, '$.task_token'), execution_id FROM tasks
                 WHERE execution_id = ?1 AND task_id = ?2 AND json_extract(body, '$.task_token') IS NOT NULL",
            )?
            .execute(params![id, *task_id as i64])?;
        connection
            .prepare_cached("DELETE FROM tasks WHERE execution_id = ?1 AND task_id = ?2")?
            .execute(params![id, *task_id as i64])?;
    }
    Ok(())
}

fn pending_text(pending: &[InputRecord]) -> Result<String, Fault> {
    if pending.is_empty() {
        Ok(String::new())
    } else {
        Ok(serde_json::to_string(pending)?)
    }
}

const EXECUTION_COLUMNS: &str = "e.id, e.arn, e.state_machine_arn, e.version_arn, e.alias_arn,
    e.status, e.start_millis, e.stop_millis, e.output, e.error, e.cause, e.redrive_count,
    e.redrive_millis, b.body";

/// The tables execution rows are read from.
const EXECUTION_TABLES: &str = "executions e JOIN execution_bodies b ON b.id = e.id";

/// The `WHERE` condition (on `executions e`) of an [`ExecutionQuery`], and its parameters.
fn execution_filter(query: &ExecutionQuery) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = "e.state_machine_arn = ?1".to_string();
    let mut values: Vec<rusqlite::types::Value> = vec![query.state_machine_arn.clone().into()];
    if let Some(version) = &query.version_arn {
        values.push(version.clone().into());
        sql.push_str(&format!(" AND e.version_arn = ?{}", values.len()));
    }
    if let Some(alias) = &query.alias_arn {
        values.push(alias.clone().into());
        sql.push_str(&format!(" AND e.alias_arn = ?{}", values.len()));
    }
    if let Some(status) = &query.status {
        values.push(status.as_str().to_string().into());
        sql.push_str(&format!(" AND e.status = ?{}", values.len()));
    }
    match query.redriven {
        Some(true) => sql.push_str(" AND e.redrive_count > 0"),
        Some(false) => sql.push_str(" AND e.redrive_count = 0"),
        None => {}
    }
    if let Some((start, id)) = query.after {
        values.push(start.into());
        values.push((id as i64).into());
        let n = values.len();
        sql.push_str(&format!(
            " AND (e.start_millis < ?{} OR (e.start_millis = ?{} AND e.id < ?{n}))",
            n - 1,
            n - 1
        ));
    }
    (sql, values)
}

fn execution_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ExecutionRow, String)> {
    Ok((
        ExecutionRow {
            id: row.get::<_, i64>(0)? as u64,
            arn: row.get(1)?,
            state_machine_arn: row.get(2)?,
            version_arn: row.get(3)?,
            alias_arn: row.get(4)?,
            status: status_column(row, 5)?,
            start_millis: row.get(6)?,
            stop_millis: row.get(7)?,
            output: row.get(8)?,
            error: row.get(9)?,
            cause: row.get(10)?,
            redrive_count: row.get(11)?,
            redrive_millis: row.get(12)?,
            name: String::new(),
            revision_id: String::new(),
            seed: 0,
            input: String::new(),
            trace_header: None,
            test_case: None,
        },
        row.get(13)?,
    ))
}

/// A status column; text that is no status is a damaged row ([`Error::Decode`]).
fn status_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<ExecutionStatus> {
    let text: String = row.get(index)?;
    text.parse().map_err(|error: Error| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            Box::new(error),
        )
    })
}

fn with_fixed((mut row, body): (ExecutionRow, String)) -> Result<ExecutionRow, Fault> {
    let fixed: Fixed = serde_json::from_str(&body)
        .map_err(|e| Error::Decode(format!("execution {}: {e}", row.arn)))?;
    row.name = fixed.name;
    row.revision_id = fixed.revision_id;
    row.seed = fixed.seed;
    row.input = fixed.input;
    row.trace_header = fixed.trace_header;
    row.test_case = fixed.test_case;
    Ok(row)
}

impl Store for SqliteStore {
    fn submit(&self, writes: Vec<Write>, done: Done) {
        self.queue.submit(writes, done);
    }

    fn load_resources(&self) -> Result<Vec<Result<Resource, Error>>, Error> {
        let rows = self.read(|connection| {
            let mut statement = connection.prepare_cached("SELECT key, body FROM resources")?;
            let rows = statement
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        Ok(rows
            .into_iter()
            .map(|(key, body)| {
                serde_json::from_str(&body)
                    .map_err(|e| Error::Decode(format!("resource {key}: {e}")))
            })
            .collect())
    }

    fn resource(&self, key: &str) -> Result<Option<Resource>, Error> {
        let body = self.read(|connection| {
            let body = connection
                .prepare_cached("SELECT body FROM resources WHERE key = ?1")?
                .query_row(params![key], |row| row.get::<_, String>(0))
                .optional()?;
            Ok(body)
        })?;
        body.map(|body| {
            serde_json::from_str(&body).map_err(|e| Error::Decode(format!("resource {key}: {e}")))
        })
        .transpose()
    }

    fn resources_version(&self) -> Result<u64, Error> {
        Ok(self.resources_version.load(Ordering::Acquire))
    }

    fn allocate_execution_id(&self) -> Result<u64, Error> {
        Ok(self.last_execution_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn execution(&self, id: u64) -> Result<Option<ExecutionRow>, Error> {
        self.read(|connection| {
            let sql = format!("SELECT {EXECUTION_COLUMNS} FROM {EXECUTION_TABLES} WHERE e.id = ?1");
            let found = connection
                .prepare_cached(&sql)?
                .query_row(params![id as i64], execution_row)
                .optional()?;
            found.map(with_fixed).transpose()
        })
    }

    fn execution_by_arn(&self, arn: &str) -> Result<Option<ExecutionRow>, Error> {
        self.read(|connection| {
            let sql =
                format!("SELECT {EXECUTION_COLUMNS} FROM {EXECUTION_TABLES} WHERE e.arn = ?1");
            let found = connection
                .prepare_cached(&sql)?
                .query_row(params![arn], execution_row)
                .optional()?;
            found.map(with_fixed).transpose()
        })
    }

    fn list_executions(&self, query: &ExecutionQuery) -> Result<Vec<ExecutionRow>, Error> {
        self.read(|connection| {
            let (filter, values) = execution_filter(query);
            let sql = format!(
                "SELECT {EXECUTION_COLUMNS} FROM {EXECUTION_TABLES} WHERE {filter} ORDER BY e.start_millis DESC, e.id DESC LIMIT {}",
                query.limit
            );
            let mut statement = connection.prepare_cached(&sql)?;
            let rows = statement
                .query_map(rusqlite::params_from_iter(values), execution_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(with_fixed).collect()
        })
    }

    fn count_executions(&self, query: &ExecutionQuery) -> Result<usize, Error> {
        self.read(|connection| {
            let (filter, values) = execution_filter(query);
            // The executions table alone: a count never reads inputs or outputs.
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM executions e WHERE {filter} LIMIT {})",
                query.limit
            );
            let count: i64 = connection
                .prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(values), |row| row.get(0))?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }

    fn history(
        &self,
        id: u64,
        after: u64,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, Error> {
        self.read(|connection| {
        let (sql, bound) = if reverse {
            (
                "SELECT id, body FROM events WHERE execution_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
                if after == 0 { i64::MAX } else { after as i64 },
            )
        } else {
            (
                "SELECT id, body FROM events WHERE execution_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                after as i64,
            )
        };
        let mut statement = connection.prepare_cached(sql)?;
        let events = statement
            .query_map(params![id as i64, bound, limit as i64], |row| {
                Ok(StoredEvent {
                    id: row.get::<_, i64>(0)? as u64,
                    json: row.get(1)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(events)
        })
    }

    fn history_len(&self, id: u64) -> Result<u64, Error> {
        self.read(|connection| {
            let count: i64 = connection
                .prepare_cached("SELECT COUNT(*) FROM events WHERE execution_id = ?1")?
                .query_row(params![id as i64], |row| row.get(0))?;
            Ok(count as u64)
        })
    }

    fn inputs(&self, id: u64) -> Result<Vec<LoggedInput>, Error> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT seq, now_millis, body, history_hash FROM inputs WHERE execution_id = ?1
                 ORDER BY seq",
            )?;
            let rows = statement
                .query_map(params![id as i64], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, Option<i64>>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(seq, now_millis, body, history_hash)| {
                    Ok(LoggedInput {
                        seq: seq as u64,
                        now_millis,
                        input: serde_json::from_str(&body)?,
                        history_hash: history_hash.map(|hash| hash as u64),
                    })
                })
                .collect()
        })
    }

    fn running_executions(&self) -> Result<Vec<RunningExecution>, Error> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT id, pending, EXISTS (SELECT 1 FROM tasks WHERE execution_id = e.id)
             FROM executions e WHERE status = 'RUNNING' ORDER BY id",
            )?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)? as u64,
                        row.get::<_, String>(1)?,
                        row.get::<_, bool>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows
                .into_iter()
                .map(|(id, pending, has_tasks)| RunningExecution {
                    id,
                    pending: if pending.is_empty() {
                        Ok(Vec::new())
                    } else {
                        serde_json::from_str(&pending).map_err(|e| {
                            Error::Decode(format!("execution {id}: pending inputs: {e}"))
                        })
                    },
                    has_tasks,
                })
                .collect())
        })
    }

    fn timers(&self) -> Result<Vec<Timer>, Error> {
        self.read(|connection| {
            let mut statement = connection
                .prepare_cached("SELECT execution_id, timer_id, fire_at_millis FROM timers")?;
            let rows = statement
                .query_map([], |row| {
                    Ok(Timer {
                        execution_id: row.get::<_, i64>(0)? as u64,
                        timer_id: row.get::<_, i64>(1)? as u64,
                        fire_at_millis: row.get(2)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn tasks(&self, id: u64) -> Result<Vec<TaskRecord>, Error> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT body FROM tasks WHERE execution_id = ?1 ORDER BY task_id",
            )?;
            let bodies = statement
                .query_map(params![id as i64], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            bodies
                .iter()
                .map(|body| serde_json::from_str(body).map_err(Fault::from))
                .collect()
        })
    }

    fn redrive_tokens(&self, id: u64) -> Result<Vec<RedriveToken>, Error> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT client_token, redrive_millis FROM redrive_tokens WHERE execution_id = ?1
             ORDER BY redrive_millis DESC",
            )?;
            let tokens = statement
                .query_map(params![id as i64], |row| {
                    Ok(RedriveToken {
                        client_token: row.get(0)?,
                        redrive_millis: row.get(1)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(tokens)
        })
    }

    fn delete_closed_before(&self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error> {
        self.queue.delete_closed(cutoff_millis, limit)
    }

    fn task_by_token(&self, token: &str) -> Result<Option<(u64, bool)>, Error> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT execution_id, 1 FROM tasks WHERE json_extract(body, '$.task_token') = ?1
                 UNION ALL SELECT execution_id, 0 FROM closed_tokens WHERE token = ?1 LIMIT 1",
            )?;
            let mut rows = statement.query_map(params![token], |row| {
                Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? == 1))
            })?;
            Ok(rows.next().transpose()?)
        })
    }
}

mod schema;
#[cfg(test)]
mod tests;
