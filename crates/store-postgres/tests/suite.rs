//! The PostgreSQL store passes the store's shared suite, keeps what it committed across
//! reopening, refuses a transition two stores on one
//! database both write, answers a dropped connection with a retryable error and recovers,
//! and refuses what it cannot use. Each test has a schema of its own (see
//! `steppe_store_postgres::testing`); without a test database they skip, under CI they fail.

use std::sync::Barrier;
use steppe_store::suite::{self, row, submit, transition};
use steppe_store::*;
use steppe_store_postgres::testing::{fresh_schema, Session};
use steppe_store_postgres::{PostgresOptions, PostgresStore};

/// The options with their schema's name as the connections' application name, to find
/// this store's connections among other tests'; and that name.
fn named_after_schema(options: PostgresOptions) -> (PostgresOptions, String) {
    let schema = options.schema.clone().expect("a test schema");
    let separator = if options.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}application_name={schema}", options.url);
    (PostgresOptions { url, ..options }, schema)
}

#[test]
fn postgres_store_passes_the_suite() {
    let Some(options) = fresh_schema("postgres_store_passes_the_suite") else {
        return;
    };
    suite::run_all(&|| {
        let fresh = PostgresOptions {
            schema: Some(steppe_store_postgres::testing::schema_name()),
            ..options.clone()
        };
        Box::new(PostgresStore::open(&fresh).unwrap())
    });
}

#[test]
fn postgres_store_keeps_the_suite_data_across_reopening() {
    let Some(options) = fresh_schema("postgres_store_keeps_the_suite_data_across_reopening") else {
        return;
    };
    let first_id = {
        let store = PostgresStore::open(&options).unwrap();
        suite::executions_and_their_log(&store);
        store.allocate_execution_id().unwrap()
    };
    let reopened = PostgresStore::open(&options).unwrap();
    // The sequence goes on where it was.
    assert!(reopened.allocate_execution_id().unwrap() > first_id);
    let ended = reopened.execution(1).unwrap().unwrap();
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    assert_eq!(ended, {
        let mut expected = row(1, "a", 10);
        expected.status = ExecutionStatus::Succeeded;
        expected.stop_millis = Some(2000);
        expected.output = Some("{}".into());
        expected
    });
    assert_eq!(reopened.history_len(1).unwrap(), 5);
    assert_eq!(
        reopened.redrive_tokens(1).unwrap().len(),
        REDRIVE_TOKENS_KEPT
    );
    assert_eq!(reopened.running_executions().unwrap().len(), 2);
}

#[test]
fn two_stores_on_one_database_cannot_both_commit_a_transition() {
    let Some(options) = fresh_schema("two_stores_on_one_database_cannot_both_commit_a_transition")
    else {
        return;
    };
    let first = PostgresStore::open(&options).unwrap();
    let second = PostgresStore::open(&options).unwrap();
    for id in 1..=20u64 {
        submit(
            &first,
            vec![Write::InsertExecution(Box::new(row(
                id,
                &format!("x{id}"),
                1,
            )))],
        )
        .unwrap();
        // Both submit transition 0 of the same execution at the same moment.
        let barrier = Barrier::new(2);
        let attempt = |store: &PostgresStore| {
            barrier.wait();
            submit(
                store,
                vec![Write::Transition(Box::new(transition(id, 0, 1, 2)))],
            )
        };
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| attempt(&first));
            let b = scope.spawn(|| attempt(&second));
            (a.join().unwrap(), b.join().unwrap())
        });
        let conflicts = [&a, &b]
            .iter()
            .filter(|result| matches!(result, Err(Error::Conflict(_))))
            .count();
        assert!(
            conflicts == 1 && (a.is_ok() || b.is_ok()),
            "execution {id}: {a:?} {b:?}"
        );
        assert_eq!(second.inputs(id).unwrap().len(), 1);
        assert_eq!(first.history_len(id).unwrap(), 2);
    }
    // Ids from either store never collide: one sequence.
    let mut ids: Vec<u64> = (0..50)
        .flat_map(|_| {
            [
                first.allocate_execution_id().unwrap(),
                second.allocate_execution_id().unwrap(),
            ]
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 100);
}

#[test]
fn a_dropped_connection_is_a_retryable_error_and_the_store_recovers() {
    let Some(options) =
        fresh_schema("a_dropped_connection_is_a_retryable_error_and_the_store_recovers")
    else {
        return;
    };
    let (options, schema) = named_after_schema(options);
    let store = PostgresStore::open(&options).unwrap();
    submit(
        &store,
        vec![Write::InsertExecution(Box::new(row(1, "a", 1)))],
    )
    .unwrap();
    // Hold the executions table so that the writer's next transaction waits, then end the
    // writer's connection under it.
    let blocker = Session::open(&options);
    blocker.execute("BEGIN; LOCK TABLE executions IN ACCESS EXCLUSIVE MODE");
    let (sender, done) = std::sync::mpsc::channel();
    store.submit(
        vec![Write::Transition(Box::new(transition(1, 0, 1, 2)))],
        Box::new(move |result| sender.send(result).unwrap()),
    );
    let killer = Session::open(&options);
    let waiting = format!(
        "SELECT pid::BIGINT FROM pg_locks WHERE relation = '{schema}.executions'::regclass AND NOT granted"
    );
    let started = std::time::Instant::now();
    let pid = loop {
        if let Some(&pid) = killer.column_i64(&waiting).first() {
            break pid;
        }
        assert!(started.elapsed().as_secs() < 30, "the writer never waited");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    killer.execute(&format!("SELECT pg_terminate_backend({pid})"));
    let failed = done.recv().unwrap();
    assert!(matches!(failed, Err(Error::Database(_))), "{failed:?}");
    blocker.execute("ROLLBACK");
    // Nothing of the failed group was committed, and the same group now commits.
    assert!(store.inputs(1).unwrap().is_empty());
    submit(
        &store,
        vec![Write::Transition(Box::new(transition(1, 0, 1, 2)))],
    )
    .unwrap();
    assert_eq!(store.history_len(1).unwrap(), 2);

    // Every connection of the store's readers gone at once: reads fail retryably, if at
    // all, and then answer.
    drop(blocker);
    let ended = killer.column_i64(&format!(
        "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE application_name = '{schema}' AND pid <> pg_backend_pid()"
    ));
    assert!(ended[0] >= 2, "{ended:?}");
    for _ in 0..3 {
        match store.history_len(1) {
            Ok(n) => assert_eq!(n, 2),
            Err(error) => assert!(matches!(error, Error::Database(_)), "{error:?}"),
        }
    }
    assert_eq!(store.history_len(1).unwrap(), 2);
}

#[test]
fn an_unreachable_database_is_a_retryable_error() {
    let options = PostgresOptions {
        url: "postgres://postgres@127.0.0.1:1/steppe".into(),
        schema: None,
        exclusive: true,
    };
    match PostgresStore::open(&options) {
        Err(Error::Database(message)) => assert!(
            message.starts_with(
                "cannot connect to the PostgreSQL database postgres@127.0.0.1:1/steppe: "
            ) && message.contains("refused"),
            "the message names the database and why: {message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unusable_urls_and_schema_names_are_refused() {
    let refused = |url: &str, schema: &str| {
        let options = PostgresOptions {
            url: url.into(),
            schema: Some(schema.into()),
            exclusive: false,
        };
        match PostgresStore::open(&options) {
            Err(Error::DataDir(message)) => message,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        refused("postgres://u@h/d", "Bad-Name"),
        "the PostgreSQL schema name \"Bad-Name\" cannot be used: give lowercase letters, digits and _ (at most 63, not starting with a digit)"
    );
    assert!(refused("postgres://u:secret@h:99999/d", "s")
        .starts_with("the PostgreSQL URL (a URL that does not parse) cannot be used: "));
}

#[test]
fn an_exclusive_store_refuses_a_second_until_closed() {
    let Some(options) = fresh_schema("an_exclusive_store_refuses_a_second_until_closed") else {
        return;
    };
    let options = PostgresOptions {
        exclusive: true,
        ..options
    };
    let first = PostgresStore::open(&options).unwrap();
    match PostgresStore::open(&options) {
        Err(Error::DataDir(message)) => assert_eq!(
            message,
            format!(
                "the PostgreSQL database {} is in use by another steppe server (its connection holds steppe's advisory lock there; pg_locks shows which)",
                first.place()
            )
        ),
        other => panic!("{other:?}"),
    }
    // A store that is not exclusive (a tool reading the data) is let in.
    let reader = PostgresStore::open(&PostgresOptions {
        exclusive: false,
        ..options.clone()
    })
    .unwrap();
    drop(reader);
    first.close();
    PostgresStore::open(&options).unwrap();
}

#[test]
fn a_newer_schema_is_refused_and_a_damaged_row_is_a_decode_error() {
    let Some(options) =
        fresh_schema("a_newer_schema_is_refused_and_a_damaged_row_is_a_decode_error")
    else {
        return;
    };
    let store = PostgresStore::open(&options).unwrap();
    submit(
        &store,
        vec![Write::InsertExecution(Box::new(row(1, "a", 1)))],
    )
    .unwrap();
    let session = Session::open(&options);
    session.execute("UPDATE executions SET status = 'NAPPING' WHERE id = 1");
    match store.execution(1) {
        Err(Error::Decode(message)) => assert_eq!(
            message,
            "execution arn:aws:states:us-east-1:1:execution:m:a: unknown execution status \"NAPPING\""
        ),
        other => panic!("{other:?}"),
    }
    session.execute("UPDATE executions SET error = '\\xff'::BYTEA WHERE id = 1");
    assert!(matches!(
        store.execution_by_arn("arn:aws:states:us-east-1:1:execution:m:a"),
        Err(Error::Decode(_))
    ));
    session.execute("UPDATE schema_version SET version = 99");
    drop(store);
    match PostgresStore::open(&options) {
        Err(Error::DataDir(message)) => assert!(
            message.ends_with(
                &format!("has schema version 99, newer than this steppe knows ({}): run the steppe that wrote it, or a newer one", steppe_store_postgres::SCHEMA_VERSION)
            ),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_exclusive_store_that_lost_its_lock_writes_nothing_until_it_takes_it_back() {
    let Some(options) =
        fresh_schema("an_exclusive_store_that_lost_its_lock_writes_nothing_until_it_takes_it_back")
    else {
        return;
    };
    let (options, schema) = named_after_schema(options);
    let options = PostgresOptions {
        exclusive: true,
        ..options
    };
    let first = PostgresStore::open(&options).unwrap();
    submit(
        &first,
        vec![Write::InsertExecution(Box::new(row(1, "a", 1)))],
    )
    .unwrap();
    // The lock's connection ends (a PostgreSQL restart, a network cut), and another server
    // takes the database.
    let session = Session::open(&PostgresOptions {
        exclusive: false,
        ..options.clone()
    });
    let ended = session.column_i64(&format!(
        "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_locks
         WHERE locktype = 'advisory' AND pid IN
         (SELECT pid FROM pg_stat_activity WHERE application_name = '{schema}')"
    ));
    assert_eq!(ended, [1]);
    let started = std::time::Instant::now();
    let second = loop {
        match PostgresStore::open(&options) {
            Ok(second) => break second,
            Err(Error::DataDir(_)) if started.elapsed().as_secs() < 30 => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(error) => panic!("{error:?}"),
        }
    };
    // The first writes nothing while the second holds the database: every attempt is a
    // retryable error, and once its connection is replaced, one that says why.
    let held = format!(
        "the PostgreSQL database {} is in use by another steppe server (its connection holds steppe's advisory lock there; pg_locks shows which)",
        first.place()
    );
    let mut reasons = Vec::new();
    for _ in 0..3 {
        match submit(
            &first,
            vec![Write::InsertExecution(Box::new(row(2, "b", 1)))],
        ) {
            Err(Error::Database(reason)) => reasons.push(reason),
            other => panic!("{other:?}"),
        }
    }
    assert!(reasons.contains(&held), "{reasons:?}");
    assert!(second.execution(2).unwrap().is_none());
    second.close();
    submit(
        &first,
        vec![Write::InsertExecution(Box::new(row(2, "b", 1)))],
    )
    .unwrap();
}

#[test]
fn tasks_and_timers_are_replaced_and_cleared_one_by_one() {
    let Some(options) = fresh_schema("tasks_and_timers_are_replaced_and_cleared_one_by_one") else {
        return;
    };
    let store = PostgresStore::open(&options).unwrap();
    let task = |task_id: u64, state_name: &str| TaskRecord {
        task_id,
        state_name: state_name.into(),
        resource: "arn:aws:states:us-east-1:1:activity:a".into(),
        parameters: serde_json::json!({"n": task_id}),
        timeout_seconds: None,
        heartbeat_seconds: Some(5),
        task_token: Some(format!("token-{task_id}")),
        scheduled_millis: 7,
        started: false,
        invocation: 0,
        test_case: None,
        submitted: false,
    };
    let timer = |timer_id: u64, fire_at_millis: i64| Timer {
        execution_id: 1,
        timer_id,
        fire_at_millis,
    };
    let mut first = transition(1, 0, 1, 2);
    first.tasks_started = vec![task(1, "A"), task(2, "B"), task(1, "A again")];
    first.timers_started = vec![timer(1, 100), timer(2, 200), timer(1, 150)];
    let mut second = transition(1, 1, 3, 1);
    second.tasks_cleared = vec![2, 9];
    second.timers_cleared = vec![1];
    second.pending = vec![InputRecord::Continue];
    submit(
        &store,
        vec![
            Write::InsertExecution(Box::new(row(1, "a", 1))),
            Write::Transition(Box::new(first)),
            Write::Transition(Box::new(second)),
        ],
    )
    .unwrap();
    assert_eq!(store.tasks(1).unwrap(), vec![task(1, "A again")]);
    assert_eq!(store.timers().unwrap(), vec![timer(2, 200)]);
    let running = store.running_executions().unwrap();
    assert_eq!(
        running[0].pending.as_ref().unwrap(),
        &vec![InputRecord::Continue]
    );
    assert!(running[0].has_tasks);
}

/// Two nodes on one schema pass the suite's cluster case.
#[test]
fn nodes_own_take_over_fence_and_share_activity_tasks() {
    let Some(options) = fresh_schema("nodes_own_take_over_fence_and_share_activity_tasks") else {
        return;
    };
    let a = PostgresStore::open(&options).unwrap();
    let b = PostgresStore::open(&options).unwrap();
    suite::two_nodes(&a, &b);
}

/// A resource written through one store is announced to another on the same schema, with
/// the version it made, in commit order; listening begins with "look at everything".
#[test]
fn postgres_store_announces_resource_writes_to_other_stores() {
    let Some(options) = fresh_schema("postgres_store_announces_resource_writes_to_other_stores")
    else {
        return;
    };
    let writer = PostgresStore::open(&options).unwrap();
    let watcher = PostgresStore::open(&options).unwrap();
    let (sender, received) = std::sync::mpsc::channel();
    watcher.watch_resources(std::sync::Arc::new(move |version, key: &str| {
        let _ = sender.send((version, key.to_string()));
    }));
    // A bound against a hang, not a timing assertion.
    let next = || {
        received
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap()
    };
    assert_eq!(next(), (0, String::new()));
    let activity = Activity {
        arn: "arn:aws:states:us-east-1:1:activity:a".into(),
        name: "a".into(),
        creation_millis: 2,
        encryption_configuration: None,
        tags: Vec::new(),
    };
    submit(
        &writer,
        vec![Write::PutResource(Resource::Activity(activity.clone()))],
    )
    .unwrap();
    let created = writer.resources_version().unwrap();
    assert_eq!(next(), (created, activity.arn.clone()));
    assert_eq!(
        watcher.resource(&activity.arn).unwrap(),
        Some(Resource::Activity(activity.clone()))
    );
    submit(&writer, vec![Write::DeleteResource(activity.arn.clone())]).unwrap();
    assert_eq!(next(), (created + 1, activity.arn.clone()));
    assert_eq!(watcher.resources_version().unwrap(), created + 1);
    assert_eq!(watcher.resource(&activity.arn).unwrap(), None);
}

/// A schema written by version 1 (one server, no owners) upgrades in place: its running
/// execution is taken over by the first node, and its waiting activity task is found by
/// token and claimed, from columns the migration filled from the task's body.
#[test]
fn a_version_1_schema_upgrades_in_place_and_a_node_takes_its_executions_over() {
    let Some(options) =
        fresh_schema("a_version_1_schema_upgrades_in_place_and_a_node_takes_its_executions_over")
    else {
        return;
    };
    let schema = options.schema.clone().unwrap();
    let session = Session::open(&options);
    session.execute(&format!("CREATE SCHEMA {schema}"));
    session.execute(steppe_store_postgres::testing::SCHEMA_VERSION_1);
    session.execute(
        "CREATE TABLE schema_version (version BIGINT NOT NULL); INSERT INTO schema_version VALUES (1)",
    );
    let activity = "arn:aws:states:us-east-1:1:activity:work";
    let task = TaskRecord {
        task_id: 7,
        state_name: "Work".into(),
        resource: activity.into(),
        parameters: serde_json::json!({}),
        timeout_seconds: None,
        heartbeat_seconds: None,
        task_token: Some("old-token".into()),
        scheduled_millis: 1000,
        started: false,
        invocation: 0,
        test_case: None,
        submitted: false,
    };
    let body = serde_json::to_string(&task).unwrap().replace('\'', "''");
    session.execute(&format!(
        "INSERT INTO executions (id, arn, state_machine_arn, status, start_millis, redrive_count, next_seq, pending)
         VALUES (1, 'arn:aws:states:us-east-1:1:execution:m:old', 'arn:aws:states:us-east-1:1:stateMachine:m', 'RUNNING', 1, 0, 0, '');
         INSERT INTO execution_bodies (id, name, revision_id, seed, input) VALUES (1, 'old', 'r', 1, '{{}}');
         SELECT steppe_transition(1, 0, '', 1000, '{{\"type\":\"Start\"}}', ARRAY[1]::BIGINT[], ARRAY['{{\"id\":1}}'],
             false, NULL, NULL, NULL, NULL, NULL, ARRAY[]::BIGINT[], ARRAY[]::BIGINT[], ARRAY[]::BIGINT[],
             ARRAY[7]::BIGINT[], ARRAY['{body}'], ARRAY[]::BIGINT[])"
    ));
    drop(session);

    let store = PostgresStore::open(&options).unwrap();
    assert_eq!(
        Session::open(&options).column_i64("SELECT version FROM schema_version"),
        vec![steppe_store_postgres::SCHEMA_VERSION]
    );
    store
        .join("127.0.0.1:1", std::time::Duration::from_secs(30))
        .unwrap();
    assert_eq!(store.task_by_token("old-token").unwrap(), Some((1, true)));
    let taken: Vec<u64> = store.take_over(10).unwrap().iter().map(|e| e.id).collect();
    assert_eq!(taken, vec![1]);
    assert_eq!(store.owner(1).unwrap(), Owner::Local);
    assert_eq!(
        store
            .claim_activity_task(activity, std::time::Duration::from_secs(30))
            .unwrap(),
        Some((1, 7))
    );
    assert_eq!(store.tasks(1).unwrap(), vec![task]);
    submit(
        &store,
        vec![Write::Transition(Box::new(transition(1, 1, 2, 1)))],
    )
    .unwrap();
}

/// A schema written by version 3 (inputs logged without a history hash) upgrades in place:
/// its inputs read back without a hash, and the next transition stores one.
#[test]
fn a_version_3_schema_upgrades_in_place_and_hashes_from_the_next_transition_on() {
    let Some(options) =
        fresh_schema("a_version_3_schema_upgrades_in_place_and_hashes_from_the_next_transition_on")
    else {
        return;
    };
    let schema = options.schema.clone().unwrap();
    let session = Session::open(&options);
    session.execute(&format!("CREATE SCHEMA {schema}"));
    for migration in &steppe_store_postgres::testing::MIGRATIONS[..3] {
        session.execute(migration);
    }
    session.execute(
        "CREATE TABLE schema_version (version BIGINT NOT NULL); INSERT INTO schema_version VALUES (3)",
    );
    // A running execution with its start logged by version 3's `steppe_transition`.
    session.execute(
        "INSERT INTO executions (id, arn, state_machine_arn, status, start_millis, redrive_count, next_seq, pending)
         VALUES (1, 'arn:aws:states:us-east-1:1:execution:m:old', 'arn:aws:states:us-east-1:1:stateMachine:m', 'RUNNING', 1, 0, 0, '');
         INSERT INTO execution_bodies (id, name, revision_id, seed, input) VALUES (1, 'old', 'r', 1, '{}');
         SELECT steppe_transition(0, 1, 0, '', 1000, '{\"type\":\"Start\"}', ARRAY[1]::BIGINT[], ARRAY['{\"id\":1}'],
             false, NULL, NULL, NULL, NULL, NULL, ARRAY[]::BIGINT[], ARRAY[]::BIGINT[], ARRAY[]::BIGINT[],
             ARRAY[]::BIGINT[], ARRAY[]::TEXT[], ARRAY[]::TEXT[], ARRAY[]::TEXT[], ARRAY[]::BIGINT[])",
    );
    drop(session);

    let store = PostgresStore::open(&options).unwrap();
    assert_eq!(
        Session::open(&options).column_i64("SELECT version FROM schema_version"),
        vec![steppe_store_postgres::SCHEMA_VERSION]
    );
    store
        .join("127.0.0.1:1", std::time::Duration::from_secs(30))
        .unwrap();
    assert_eq!(store.take_over(10).unwrap().len(), 1);
    let mut next = transition(1, 1, 2, 1);
    next.input.history_hash = Some(u64::MAX - 1);
    submit(&store, vec![Write::Transition(Box::new(next))]).unwrap();
    assert_eq!(suite::logged_hashes(&store, 1), [None, Some(u64::MAX - 1)]);
    assert_eq!(store.history_len(1).unwrap(), 2);
}
