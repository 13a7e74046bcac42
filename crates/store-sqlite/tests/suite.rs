//! The SQLite store passes the store's shared suite, keeps what it committed across
//! reopening, and commits concurrent submissions in groups.

use std::cell::Cell;
use std::path::Path;
use steppe_store::suite;
use steppe_store::*;
use steppe_store_sqlite::{SqliteOptions, SqliteStore};

fn options(data_dir: &Path) -> SqliteOptions {
    SqliteOptions {
        data_dir: data_dir.to_path_buf(),
        fsync: false,
    }
}

#[test]
fn sqlite_store_passes_the_suite() {
    // One data directory per case, inside one that outlives them all.
    let dir = tempfile::tempdir().unwrap();
    let opened = Cell::new(0);
    suite::run_all(&|| {
        opened.set(opened.get() + 1);
        let data_dir = dir.path().join(opened.get().to_string());
        Box::new(SqliteStore::open(&options(&data_dir)).unwrap())
    });
}

#[test]
fn sqlite_store_keeps_the_suite_data_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(&options(dir.path())).unwrap();
        suite::executions_and_their_log(&store);
    }
    let reopened = SqliteStore::open(&options(dir.path())).unwrap();
    // Ids go on from the largest in the database.
    assert_eq!(reopened.allocate_execution_id().unwrap(), 6);
    assert_eq!(
        reopened.execution(1).unwrap().unwrap().status,
        ExecutionStatus::Succeeded
    );
    assert_eq!(reopened.history_len(1).unwrap(), 5);
    assert_eq!(
        reopened.redrive_tokens(1).unwrap().len(),
        REDRIVE_TOKENS_KEPT
    );
}

#[test]
fn sqlite_store_commits_concurrent_submissions_in_groups_with_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&SqliteOptions {
        data_dir: dir.path().to_path_buf(),
        fsync: true,
    })
    .unwrap();
    suite::concurrent_submissions(&store);
}
