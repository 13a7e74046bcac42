//! Tests of the PostgreSQL store's internals: one batch with a failing group, and one batch
//! of many executions' transitions (the set-based statements of `batch.rs`).

use crate::testing::fresh_schema;
use crate::{connection_config, pool, write, PostgresStore};
use steppe_store::suite::{row, submit, transition};
use steppe_store::{
    Done, Error, ExecutionEnd, ExecutionStatus, MemoryStore, Store, TaskRecord, Timer, Write,
};

/// A store on a fresh schema, a runtime, and a pool of one connection to commit batches
/// through directly (`write::commit_groups`); `None` when there is no database to test on.
fn open(
    test: &str,
) -> Option<(
    PostgresStore,
    tokio::runtime::Runtime,
    deadpool_postgres::Pool,
)> {
    let options = fresh_schema(test)?;
    let store = PostgresStore::open(&options).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let writer = runtime
        .block_on(async { pool(&connection_config(&options).unwrap(), 1, None) })
        .unwrap();
    Some((store, runtime, writer))
}

#[test]
fn postgres_store_rolls_back_a_failing_group_alone() {
    let Some((store, runtime, writer)) = open("postgres_store_rolls_back_a_failing_group_alone")
    else {
        return;
    };
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

/// Groups committed in one batch leave what each would alone, read against the memory store
/// given the same groups one at a time: several rounds (many transitions of one execution in
/// one batch), timers and tasks started, replaced and cleared, an execution ending with open
/// tasks (their tokens closed).
#[test]
fn a_batch_of_many_executions_commits_what_each_group_would_alone() {
    let Some((store, runtime, writer)) =
        open("a_batch_of_many_executions_commits_what_each_group_would_alone")
    else {
        return;
    };
    let task = |task_id: u64, execution_id: u64, activity: bool| TaskRecord {
        task_id,
        state_name: format!("S{task_id}"),
        resource: if activity {
            "arn:aws:states:us-east-1:1:activity:a".into()
        } else {
            "arn:aws:states:::lambda:invoke".into()
        },
        parameters: serde_json::json!({"n": task_id}),
        timeout_seconds: Some(60),
        heartbeat_seconds: None,
        task_token: Some(format!("token-{execution_id}-{task_id}")),
        scheduled_millis: 7,
        started: false,
        invocation: 0,
        test_case: None,
        submitted: false,
    };
    let timer = |execution_id: u64, timer_id: u64, fire_at_millis: i64| Timer {
        execution_id,
        timer_id,
        fire_at_millis,
    };
    let groups: Vec<Vec<Write>> = (1..=3)
        .map(|id| {
            let mut start = transition(id, 0, 1, 3);
            start.timers_started = vec![timer(id, 1, 100 + id as i64), timer(id, 2, 200)];
            start.tasks_started = vec![task(1, id, id == 2), task(2, id, false)];
            vec![
                Write::InsertExecution(Box::new(row(id, &format!("x{id}"), id as i64))),
                Write::Transition(Box::new(start)),
            ]
        })
        .chain([
            // Execution 1 in three rounds: a timer fires and is replaced, a task closes, it
            // ends with a task still open.
            {
                let mut fired = transition(1, 1, 4, 2);
                fired.timers_cleared = vec![1];
                fired.timers_started = vec![timer(1, 2, 250), timer(1, 3, 300)];
                fired.tasks_cleared = vec![1];
                let mut again = transition(1, 2, 6, 1);
                again.timers_cleared = vec![2];
                vec![
                    Write::Transition(Box::new(fired)),
                    Write::Transition(Box::new(again)),
                ]
            },
            {
                let mut ended = transition(1, 3, 7, 2);
                ended.end = Some(ExecutionEnd {
                    status: ExecutionStatus::Failed,
                    stop_millis: 2000,
                    output: None,
                    error: Some("E".into()),
                    cause: Some("with \0 NUL".into()),
                });
                vec![Write::Transition(Box::new(ended))]
            },
            // Execution 2 succeeds; execution 3 clears a task and a timer, and keeps going.
            {
                let mut ended = transition(2, 1, 4, 1);
                ended.end = Some(ExecutionEnd {
                    status: ExecutionStatus::Succeeded,
                    stop_millis: 2001,
                    output: Some("{\"done\": true}".into()),
                    error: None,
                    cause: None,
                });
                let mut going = transition(3, 1, 4, 1);
                going.tasks_cleared = vec![2];
                going.timers_cleared = vec![2];
                going.pending = vec![steppe_store::InputRecord::Continue];
                vec![
                    Write::Transition(Box::new(ended)),
                    Write::Transition(Box::new(going)),
                ]
            },
        ])
        .collect();
    let reference = MemoryStore::new();
    for writes in &groups {
        submit(&reference, writes.clone()).unwrap();
    }
    let batch: Vec<(Vec<Write>, Done)> = groups
        .into_iter()
        .map(|writes| (writes, Box::new(|_| {}) as Done))
        .collect();
    let results = runtime.block_on(write::commit_groups(&writer, &batch, 0));
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut timers = store.timers().unwrap();
    timers.sort_by_key(|timer| (timer.execution_id, timer.timer_id));
    let mut expected_timers = reference.timers().unwrap();
    expected_timers.sort_by_key(|timer| (timer.execution_id, timer.timer_id));
    assert_eq!(timers, expected_timers);
    assert_eq!(timers.len(), 1, "execution 3's first timer: {timers:?}");
    for id in 1..=3 {
        assert_eq!(
            store.execution(id).unwrap(),
            reference.execution(id).unwrap()
        );
        assert_eq!(store.inputs(id).unwrap(), reference.inputs(id).unwrap());
        assert_eq!(
            store.history(id, 0, false, 100).unwrap(),
            reference.history(id, 0, false, 100).unwrap()
        );
        assert_eq!(store.tasks(id).unwrap(), reference.tasks(id).unwrap());
        for task_id in 1..=2 {
            let token = format!("token-{id}-{task_id}");
            assert_eq!(
                store.task_by_token(&token).unwrap(),
                reference.task_by_token(&token).unwrap(),
                "{token}"
            );
        }
    }
    let running = store.running_executions().unwrap();
    let expected = reference.running_executions().unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(
        running[0].pending.as_ref().ok(),
        expected[0].pending.as_ref().ok()
    );
    assert_eq!(running[0].id, 3);
    assert_eq!(store.history_len(1).unwrap(), 8);
}
