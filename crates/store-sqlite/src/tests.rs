//! Tests of the SQLite store's internals: the schema's history and group commit.

use crate::schema::VERSION_1;
use crate::{commit_groups, open_connection, SqliteOptions, SqliteStore};
use steppe_store::suite::{row, submit};
use steppe_store::{Done, RedriveToken, Store, Write};

#[test]
fn sqlite_store_opens_a_database_made_before_redrive_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        data_dir: dir.path().to_path_buf(),
        fsync: false,
    };
    let (older_schema, _) = VERSION_1
        .split_once("-- Added after the first release")
        .expect("the schema marks what was added");
    {
        let connection = open_connection(&dir.path().join("steppe.db"), false).unwrap();
        connection.execute_batch(older_schema).unwrap();
    }
    let store = SqliteStore::open(&options).unwrap();
    submit(
        &store,
        vec![Write::InsertExecution(Box::new(row(1, "a", 10)))],
    )
    .unwrap();
    let token = RedriveToken {
        client_token: "t".into(),
        redrive_millis: 20,
    };
    submit(
        &store,
        vec![Write::RedriveToken {
            execution_id: 1,
            token: token.clone(),
        }],
    )
    .unwrap();
    assert_eq!(store.redrive_tokens(1).unwrap(), vec![token]);
}

#[test]
fn sqlite_store_rolls_back_a_failing_group_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut connection = open_connection(&dir.path().join("db"), false).unwrap();
    connection.execute_batch(VERSION_1).unwrap();
    let group = |writes: Vec<Write>| -> (Vec<Write>, Done) { (writes, Box::new(|_| {})) };
    let insert = |id: u64| Write::InsertExecution(Box::new(row(id, &format!("x{id}"), 1)));
    let first = commit_groups(&mut connection, &[group(vec![insert(1)])]);
    assert!(first[0].is_ok());
    // Together these would fail: the middle group re-inserts execution 1 after inserting 7.
    let results = commit_groups(
        &mut connection,
        &[
            group(vec![insert(2)]),
            group(vec![insert(7), insert(1)]),
            group(vec![insert(3)]),
        ],
    );
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(results[1].is_err());
    let ids: Vec<i64> = connection
        .prepare("SELECT id FROM executions ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, [1, 2, 3]);
}
