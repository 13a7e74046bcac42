//! The SQLite store's data directory: one store at a time, a database that went missing,
//! empty or damaged is refused, one bad row costs only itself, and retention keeps the file
//! from growing without bound.

use std::path::Path;
use steppe_store::suite::{row, submit};
use steppe_store::*;
use steppe_store_sqlite::{SqliteOptions, SqliteStore, DATABASE_FILE, LOCK_FILE};

/// How many executions the filled databases hold.
const EXECUTIONS: u64 = 400;

fn options(dir: &Path) -> SqliteOptions {
    SqliteOptions {
        data_dir: dir.to_path_buf(),
        fsync: false,
    }
}

fn open_error(dir: &Path) -> Error {
    match SqliteStore::open(&options(dir)) {
        Ok(_) => panic!("{} was opened", dir.display()),
        Err(error) => error,
    }
}

/// Starts and ends execution `id` with ten history events of about 1 KB each.
fn run_execution(store: &dyn Store, id: u64, stop_millis: i64) {
    let events = (1..=10)
        .map(|event_id| StoredEvent {
            id: event_id,
            json: format!("{{\"id\":{event_id},\"pad\":\"{}\"}}", "x".repeat(1000)),
        })
        .collect();
    let transition = TransitionRecord {
        execution_id: id,
        input: LoggedInput {
            seq: 0,
            now_millis: stop_millis,
            input: InputRecord::Start,
            history_hash: None,
        },
        events,
        end: Some(ExecutionEnd {
            status: ExecutionStatus::Succeeded,
            stop_millis,
            output: Some("{}".into()),
            error: None,
            cause: None,
        }),
        timers_started: vec![],
        timers_cleared: vec![],
        tasks_started: vec![],
        tasks_cleared: vec![],
        pending: vec![],
    };
    submit(
        store,
        vec![
            Write::InsertExecution(Box::new(row(id, &format!("x{id}"), stop_millis))),
            Write::Transition(Box::new(transition)),
        ],
    )
    .unwrap();
}

fn filled(dir: &Path) {
    let store = SqliteStore::open(&options(dir)).unwrap();
    for id in 1..=EXECUTIONS {
        run_execution(&store, id, id as i64);
    }
    store.close();
}

/// Overwrites one page in the middle of the database with bytes no page has.
fn damage_middle_page(dir: &Path) {
    use std::io::{Seek, SeekFrom, Write as _};
    let path = dir.join(DATABASE_FILE);
    let length = std::fs::metadata(&path).unwrap().len();
    let page_bytes = 4096;
    let middle = (length / 2) / page_bytes * page_bytes;
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(middle)).unwrap();
    file.write_all(&vec![0xA5; page_bytes as usize]).unwrap();
    file.sync_all().unwrap();
}

#[test]
fn a_second_store_on_the_directory_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open(&options(dir.path())).unwrap();
    let refused = open_error(dir.path());
    assert!(matches!(refused, Error::DataDir(_)), "{refused:?}");
    assert_eq!(
        refused.to_string(),
        format!(
            "the data directory {} is in use by another steppe server (it holds the lock on {})",
            dir.path().display(),
            dir.path().join(LOCK_FILE).display()
        )
    );
    first.close();
    SqliteStore::open(&options(dir.path())).unwrap();
}

#[test]
fn a_new_or_empty_directory_starts_afresh() {
    let parent = tempfile::tempdir().unwrap();
    let new = parent.path().join("new");
    SqliteStore::open(&options(&new)).unwrap();
    // A directory made beforehand (as by `mkdir`), with something else in it.
    let empty = parent.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("README"), "mine").unwrap();
    let store = SqliteStore::open(&options(&empty)).unwrap();
    assert_eq!(store.allocate_execution_id().unwrap(), 1);
}

#[test]
fn a_database_gone_missing_or_empty_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path());
    let database = dir.path().join(DATABASE_FILE);
    std::fs::File::create(&database).unwrap();
    let empty = open_error(dir.path());
    assert_eq!(
        empty.to_string(),
        format!(
            "the data directory {} held a database, but {} is empty (0 bytes): restore it from a backup, or remove the directory to start afresh",
            dir.path().display(),
            database.display()
        )
    );
    std::fs::remove_file(&database).unwrap();
    let missing = open_error(dir.path());
    assert!(matches!(missing, Error::DataDir(_)), "{missing:?}");
    assert!(missing.to_string().contains("is missing"), "{missing}");
    // Nothing was created meanwhile.
    assert!(!database.exists());
}

#[test]
fn a_directory_made_before_the_lock_file_opens_and_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path());
    std::fs::remove_file(dir.path().join(LOCK_FILE)).unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    assert_eq!(store.allocate_execution_id().unwrap(), EXECUTIONS + 1);
    store.close();
    let marked = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
    assert!(marked.starts_with("steppe data directory"), "{marked}");
}

#[test]
fn a_damaged_database_is_refused_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path());
    damage_middle_page(dir.path());
    let damaged = open_error(dir.path());
    assert!(matches!(damaged, Error::Corrupt(_)), "{damaged:?}");
    let message = damaged.to_string();
    assert!(
        message.starts_with(&format!(
            "the database is damaged: {}",
            dir.path().join(DATABASE_FILE).display()
        )) && message.ends_with("restore it from a backup"),
        "{message}"
    );
}

#[test]
fn damage_met_while_open_is_a_corrupt_error_for_that_read_alone() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path());
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    damage_middle_page(dir.path());
    let mut corrupt = 0;
    for id in 1..=EXECUTIONS {
        match store.history(id, 0, false, 100) {
            Ok(events) => assert_eq!(events.len(), 10),
            Err(Error::Corrupt(_) | Error::Decode(_)) => corrupt += 1,
            Err(other) => panic!("execution {id}: {other:?}"),
        }
    }
    assert!(
        corrupt > 0 && corrupt < EXECUTIONS,
        "{corrupt} reads failed"
    );
}

#[test]
fn a_resource_row_that_will_not_decode_costs_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    let activity = Resource::Activity(Activity {
        arn: "arn:aws:states:us-east-1:1:activity:a".into(),
        name: "a".into(),
        creation_millis: 1,
        encryption_configuration: None,
        tags: Vec::new(),
    });
    submit(&store, vec![Write::PutResource(activity.clone())]).unwrap();
    store.close();
    {
        let connection = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        connection
            .execute(
                "INSERT INTO resources (key, body) VALUES ('activity:broken', '{\"Activity\": 7}')",
                [],
            )
            .unwrap();
    }
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    let loaded = store.load_resources().unwrap();
    assert_eq!(loaded.len(), 2);
    let good: Vec<&Resource> = loaded.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(good, vec![&activity]);
    let broken = loaded.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(
        broken
            .to_string()
            .starts_with("stored data would not decode: resource activity:broken: "),
        "{broken}"
    );
}

/// Retention's measurement: the same work run repeatedly, with the closed executions of
/// each round deleted, leaves the file at the size the first round gave it, because
/// SQLite reuses the freed pages. Without deletion the file grows by a round each time.
#[test]
fn deleting_closed_executions_keeps_the_file_from_growing() {
    let kept = tempfile::tempdir().unwrap();
    let deleted = tempfile::tempdir().unwrap();
    let rounds = 5;
    let size = |dir: &Path| std::fs::metadata(dir.join(DATABASE_FILE)).unwrap().len();
    let mut sizes = Vec::new();
    for (dir, delete) in [(kept.path(), false), (deleted.path(), true)] {
        for round in 0..rounds {
            let store = SqliteStore::open(&options(dir)).unwrap();
            let first = round * EXECUTIONS + 1;
            for id in first..first + EXECUTIONS {
                run_execution(&store, id, id as i64);
            }
            if delete {
                let cutoff = (first + EXECUTIONS) as i64;
                let mut n_deleted = 0;
                loop {
                    let ids = store.delete_closed_before(cutoff, 64).unwrap();
                    if ids.is_empty() {
                        break;
                    }
                    n_deleted += ids.len();
                }
                assert_eq!(n_deleted as u64, EXECUTIONS);
            }
            store.close();
            sizes.push((delete, round, size(dir)));
        }
    }
    eprintln!("database bytes (deleted, round, bytes): {sizes:?}");
    let without: Vec<u64> = sizes.iter().filter(|s| !s.0).map(|s| s.2).collect();
    let with: Vec<u64> = sizes.iter().filter(|s| s.0).map(|s| s.2).collect();
    assert!(without[rounds as usize - 1] > 4 * without[0], "{without:?}");
    // Bounded: later rounds never need more than the first round's file plus a few pages.
    let bound = with[0] + with[0] / 10;
    assert!(with.iter().all(|bytes| *bytes <= bound), "{with:?}");
}
