//! Schema versions: a data directory written by steppe before versions were recorded
//! upgrades in place, a new database starts at the current version, and a database from a
//! newer steppe is refused.

use rusqlite::Connection;
use std::path::Path;
use steppe_store::*;
use steppe_store_sqlite::{SqliteOptions, SqliteStore, DATABASE_FILE, SCHEMA_VERSION};

/// The schema as steppe wrote it before it recorded schema versions (commit f676963), the
/// "before" of the upgrade. Kept as it was: do not update it with the schema.
const UNVERSIONED_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS resources (key TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
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

/// Rows as steppe wrote them then: an Express state machine, an activity, and a succeeded
/// execution with its input log and history.
const UNVERSIONED_ROWS: &str = r#"
INSERT INTO resources (key, body) VALUES
    ('arn:aws:states:us-east-1:1:stateMachine:m', '{"kind":"StateMachine","arn":"arn:aws:states:us-east-1:1:stateMachine:m","name":"m","machine_type":"EXPRESS","revision_id":"rev","creation_millis":1,"logging_configuration":null,"tracing_configuration":null,"encryption_configuration":null,"tags":[["team","a"]],"next_version":1}'),
    ('arn:aws:states:us-east-1:1:activity:a', '{"kind":"Activity","arn":"arn:aws:states:us-east-1:1:activity:a","name":"a","creation_millis":2,"encryption_configuration":null,"tags":[]}');
INSERT INTO executions (id, arn, state_machine_arn, version_arn, alias_arn, status, start_millis,
    stop_millis, output, error, cause, redrive_count, redrive_millis, next_seq, pending)
VALUES (7, 'arn:aws:states:us-east-1:1:execution:m:e', 'arn:aws:states:us-east-1:1:stateMachine:m',
    NULL, NULL, 'SUCCEEDED', 10, 20, '{}', NULL, NULL, 0, NULL, 1, '');
INSERT INTO execution_bodies (id, body) VALUES
    (7, '{"name":"e","revision_id":"rev","seed":42,"input":"{}","trace_header":null}');
INSERT INTO inputs (execution_id, seq, now_millis, body) VALUES (7, 0, 10, '{"type":"Start"}');
INSERT INTO events (execution_id, id, body) VALUES (7, 1, '{"id":1}'), (7, 2, '{"id":2}');
"#;

/// What version 2 added to the unversioned schema (commit 111f2a8), the "before" of the
/// upgrade to version 3. Kept as it was: do not update it with the schema.
const VERSION_2_ADDED: &str = "
CREATE TABLE closed_tokens (token TEXT PRIMARY KEY, execution_id INTEGER NOT NULL);
CREATE INDEX closed_tokens_by_execution ON closed_tokens (execution_id);
";

fn options(dir: &Path) -> SqliteOptions {
    SqliteOptions {
        data_dir: dir.to_path_buf(),
        fsync: false,
    }
}

fn database(dir: &Path) -> Connection {
    Connection::open(dir.join(DATABASE_FILE)).unwrap()
}

fn user_version(dir: &Path) -> i64 {
    database(dir)
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn a_database_written_before_schema_versions_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    {
        let connection = database(dir.path());
        connection.execute_batch(UNVERSIONED_SCHEMA).unwrap();
        connection.execute_batch(UNVERSIONED_ROWS).unwrap();
    }
    assert_eq!(user_version(dir.path()), 0);
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    let execution = store
        .execution_by_arn("arn:aws:states:us-east-1:1:execution:m:e")
        .unwrap()
        .unwrap();
    assert_eq!(
        (execution.id, execution.status, execution.seed),
        (7, ExecutionStatus::Succeeded, 42)
    );
    assert_eq!(store.history_len(7).unwrap(), 2);
    assert_eq!(store.inputs(7).unwrap()[0].input, InputRecord::Start);
    let resources: Vec<Resource> = store
        .load_resources()
        .unwrap()
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let machine_types: Vec<StateMachineType> = resources
        .iter()
        .filter_map(|resource| match resource {
            Resource::StateMachine(machine) => Some(machine.machine_type),
            _ => None,
        })
        .collect();
    assert_eq!(resources.len(), 2);
    assert_eq!(machine_types, [StateMachineType::Express]);
    assert_eq!(store.allocate_execution_id().unwrap(), 8);
    store.close();
    assert_eq!(user_version(dir.path()), i64::from(SCHEMA_VERSION));
    // Opening again finds nothing to do.
    let reopened = SqliteStore::open(&options(dir.path())).unwrap();
    assert_eq!(reopened.history_len(7).unwrap(), 2);
}

#[test]
fn a_new_database_starts_at_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    SqliteStore::open(&options(dir.path())).unwrap().close();
    assert_eq!(user_version(dir.path()), i64::from(SCHEMA_VERSION));
}

#[test]
fn a_database_from_a_newer_steppe_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    SqliteStore::open(&options(dir.path())).unwrap().close();
    let newer = i64::from(SCHEMA_VERSION) + 1;
    database(dir.path())
        .pragma_update(None, "user_version", newer)
        .unwrap();
    let refused = match SqliteStore::open(&options(dir.path())) {
        Ok(_) => panic!("a database of schema version {newer} was opened"),
        Err(error) => error,
    };
    assert!(matches!(refused, Error::DataDir(_)), "{refused:?}");
    assert_eq!(
        refused.to_string(),
        format!(
            "{} has schema version {newer}, newer than this steppe knows ({SCHEMA_VERSION}): run the steppe that wrote it, or a newer one",
            dir.path().join(DATABASE_FILE).display()
        )
    );
    // Refused untouched, and the directory is free again.
    assert_eq!(user_version(dir.path()), newer);
    assert!(matches!(
        SqliteStore::open(&options(dir.path())),
        Err(Error::DataDir(_))
    ));
}

/// A version 2 database (inputs logged without a history hash) upgrades in place: its
/// inputs read back without a hash, and the next transition of its running execution
/// stores one.
#[test]
fn a_version_2_database_upgrades_in_place_and_hashes_from_the_next_transition_on() {
    let dir = tempfile::tempdir().unwrap();
    {
        let connection = database(dir.path());
        connection.execute_batch(UNVERSIONED_SCHEMA).unwrap();
        connection.execute_batch(VERSION_2_ADDED).unwrap();
        connection.execute_batch(UNVERSIONED_ROWS).unwrap();
        connection
            .execute_batch(
                "UPDATE executions SET status = 'RUNNING', stop_millis = NULL WHERE id = 7",
            )
            .unwrap();
        connection.pragma_update(None, "user_version", 2).unwrap();
    }
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    assert_eq!(user_version(dir.path()), i64::from(SCHEMA_VERSION));
    assert_eq!(steppe_store::suite::logged_hashes(&store, 7), [None]);
    let mut next = steppe_store::suite::transition(7, 1, 3, 1);
    next.input.history_hash = Some(u64::MAX - 1);
    steppe_store::suite::submit(&store, vec![Write::Transition(Box::new(next))]).unwrap();
    assert_eq!(
        steppe_store::suite::logged_hashes(&store, 7),
        [None, Some(u64::MAX - 1)]
    );
    assert_eq!(store.history_len(7).unwrap(), 3);
}
