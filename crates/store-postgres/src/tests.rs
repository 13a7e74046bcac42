//! Tests of the PostgreSQL store's internals: one batch with a failing group.

use crate::testing::fresh_schema;
use crate::{connection_config, pool, write, PostgresStore};
use steppe_store::suite::{row, transition};
use steppe_store::{Done, Error, Store, Write};

#[test]
fn postgres_store_rolls_back_a_failing_group_alone() {
    let Some(options) = fresh_schema("postgres_store_rolls_back_a_failing_group_alone") else {
        return;
    };
    let store = PostgresStore::open(&options).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let writer = runtime
        .block_on(async { pool(&connection_config(&options).unwrap(), 1, None) })
        .unwrap();
    let group = |writes: Vec<Write>| -> (Vec<Write>, Done) { (writes, Box::new(|_| {})) };
    let insert = |id: u64| Write::InsertExecution(Box::new(row(id, &format!("x{id}"), 1)));
    let step = |id: u64, seq: u64| Write::Transition(Box::new(transition(id, seq, seq * 2 + 1, 2)));
    let first = runtime.block_on(write::commit_groups(&writer, &[group(vec![insert(1)])], 0));
    assert!(first[0].is_ok());
    // Together these would fail: the second group re-inserts execution 1 after inserting 7,
    // the fourth skips a transition of execution 2.
    let results = runtime.block_on(write::commit_groups(
        &writer,
        &[
            group(vec![insert(2), step(2, 0)]),
            group(vec![insert(7), insert(1)]),
            group(vec![insert(3), step(1, 0)]),
            group(vec![step(2, 2)]),
            group(vec![step(2, 1)]),
        ],
        0,
    ));
    assert!(
        results[0].is_ok() && results[2].is_ok() && results[4].is_ok(),
        "{results:?}"
    );
    assert!(
        matches!(&results[1], Err(Error::Conflict(m)) if m == "execution arn:aws:states:us-east-1:1:execution:m:x1 exists"),
        "{results:?}"
    );
    assert!(
        matches!(&results[3], Err(Error::Conflict(m)) if m == "execution 2: input 2 does not follow the last committed one"),
        "{results:?}"
    );
    assert!(store.execution(7).unwrap().is_none());
    assert_eq!(store.inputs(2).unwrap().len(), 2);
    assert_eq!(store.inputs(1).unwrap().len(), 1);
    assert!(store.execution(3).unwrap().is_some());
}
