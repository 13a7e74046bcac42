//! One test suite for every store backend (cargo feature `suite`).
//!
//! Each backend's tests run it in one line, with a function that opens an empty store:
//!
//! ```
//! use steppe_store::{suite, MemoryStore};
//! suite::run_all(&|| Box::new(MemoryStore::new()));
//! ```
//!
//! Every case gets a store of its own from `open`, so a case may assume it starts empty. A
//! failing case panics with the assertion that failed; the case's name is printed first.

use crate::*;
use std::sync::mpsc;

/// One case of the suite.
pub type Case = fn(&dyn Store);

/// Every case, by name.
pub const CASES: &[(&str, Case)] = &[
    ("executions_and_their_log", executions_and_their_log),
    ("retention", retention),
    ("execution_ids", execution_ids),
    ("concurrent_submissions", concurrent_submissions),
    ("resources_by_key", resources_by_key),
    ("closed_task_tokens", closed_task_tokens),
    ("history_hashes", history_hashes),
    ("conditional_resource_writes", conditional_resource_writes),
    (
        "active_and_unaliased_conditions",
        active_and_unaliased_conditions,
    ),
];

/// Runs every case in [`CASES`], each on a fresh store from `open`.
pub fn run_all(open: &dyn Fn() -> Box<dyn Store>) {
    for (name, case) in CASES {
        eprintln!("store suite: {name}");
        let store = open();
        case(&*store);
    }
}

/// Submits `writes` and waits until they are durable or have failed.
pub fn submit(store: &dyn Store, writes: Vec<Write>) -> Result<(), Error> {
    let (sender, receiver) = mpsc::channel();
    store.submit(
        writes,
        Box::new(move |result| {
            let _ = sender.send(result);
        }),
    );
    receiver.recv().expect("done is called")
}

/// A running execution `name` of the suite's state machine (`m`), started at `start_millis`.
pub fn row(id: u64, name: &str, start_millis: i64) -> ExecutionRow {
    ExecutionRow {
        id,
        arn: format!("arn:aws:states:us-east-1:1:execution:m:{name}"),
        name: name.into(),
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
        version_arn: None,
        alias_arn: None,
        revision_id: "rev".into(),
        seed: 42,
        input: "{\"a\": 1}".into(),
        trace_header: None,
        status: ExecutionStatus::Running,
        start_millis,
        stop_millis: None,
        output: None,
        error: None,
        cause: None,
        redrive_count: 0,
        redrive_millis: None,
        test_case: (id == 1).then(|| "HappyPath".to_string()),
    }
}

/// The transition `seq` of an execution (`Start` first, then timers firing), with `n_events`
/// events from `first_event` on.
pub fn transition(
    execution_id: u64,
    seq: u64,
    first_event: u64,
    n_events: u64,
) -> TransitionRecord {
    TransitionRecord {
        execution_id,
        input: LoggedInput {
            seq,
            now_millis: 1000 + seq as i64,
            input: if seq == 0 {
                InputRecord::Start
            } else {
                InputRecord::TimerFired { timer_id: seq }
            },
            history_hash: None,
        },
        events: (first_event..first_event + n_events)
            .map(|id| StoredEvent {
                id,
                json: format!("{{\"id\":{id}}}"),
            })
            .collect(),
        end: None,
        timers_started: vec![],
        timers_cleared: vec![],
        tasks_started: vec![],
        tasks_cleared: vec![],
        pending: vec![],
    }
}

/// Executions, their input log, history, listing, redrive tokens and resources. Leaves
/// executions 1 (succeeded, five events, ten redrive tokens), 4 and 5 (running).
pub fn executions_and_their_log(store: &dyn Store) {
    // Executions and their log.
    submit(
        store,
        vec![
            Write::InsertExecution(Box::new(row(1, "a", 10))),
            Write::Transition(Box::new(TransitionRecord {
                timers_started: vec![Timer {
                    execution_id: 1,
                    timer_id: 1,
                    fire_at_millis: 5000,
                }],
                ..transition(1, 0, 1, 3)
            })),
        ],
    )
    .unwrap();
    let loaded = store.execution(1).unwrap().unwrap();
    assert_eq!(loaded, row(1, "a", 10));
    assert_eq!(store.execution_by_arn(&loaded.arn).unwrap().unwrap().id, 1);
    assert_eq!(store.timers().unwrap().len(), 1);
    let running = store.running_executions().unwrap();
    assert_eq!(running.len(), 1);
    assert!(running[0].pending.as_ref().unwrap().is_empty() && !running[0].has_tasks);

    // A duplicate ARN is a conflict and changes nothing.
    let duplicate = submit(
        store,
        vec![Write::InsertExecution(Box::new(row(2, "a", 11)))],
    );
    assert!(matches!(duplicate, Err(Error::Conflict(_))));
    assert!(store.execution(2).unwrap().is_none());

    // A gap in the log is refused; the whole group is rolled back.
    let gap = submit(
        store,
        vec![
            Write::InsertExecution(Box::new(row(3, "c", 12))),
            Write::Transition(Box::new(transition(1, 5, 4, 1))),
        ],
    );
    assert!(matches!(gap, Err(Error::Conflict(_))));
    assert!(store.execution(3).unwrap().is_none());
    assert_eq!(store.inputs(1).unwrap().len(), 1);

    // The next input in order ends the execution and clears its timers.
    let mut last = transition(1, 1, 4, 2);
    last.timers_cleared = vec![1];
    last.end = Some(ExecutionEnd {
        status: ExecutionStatus::Succeeded,
        stop_millis: 2000,
        output: Some("{}".into()),
        error: None,
        cause: None,
    });
    submit(store, vec![Write::Transition(Box::new(last))]).unwrap();
    let ended = store.execution(1).unwrap().unwrap();
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    assert_eq!(ended.output.as_deref(), Some("{}"));
    assert!(store.timers().unwrap().is_empty());
    assert!(store.running_executions().unwrap().is_empty());
    let inputs = store.inputs(1).unwrap();
    assert_eq!(
        inputs.iter().map(|i| i.input.clone()).collect::<Vec<_>>(),
        vec![InputRecord::Start, InputRecord::TimerFired { timer_id: 1 }]
    );

    // History paging in both directions.
    let ids = |events: Vec<StoredEvent>| events.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(store.history_len(1).unwrap(), 5);
    assert_eq!(ids(store.history(1, 0, false, 2).unwrap()), vec![1, 2]);
    assert_eq!(ids(store.history(1, 2, false, 10).unwrap()), vec![3, 4, 5]);
    assert_eq!(ids(store.history(1, 0, true, 2).unwrap()), vec![5, 4]);
    assert_eq!(ids(store.history(1, 4, true, 10).unwrap()), vec![3, 2, 1]);

    // Listing: newest first, filters, cursor.
    submit(
        store,
        vec![
            Write::InsertExecution(Box::new(row(4, "d", 30))),
            Write::InsertExecution(Box::new(row(5, "e", 20))),
        ],
    )
    .unwrap();
    let query = ExecutionQuery {
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
        limit: 2,
        ..ExecutionQuery::default()
    };
    let names = |rows: Vec<ExecutionRow>| rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(
        names(store.list_executions(&query).unwrap()),
        vec!["d", "e"]
    );
    let next = ExecutionQuery {
        after: Some((20, 5)),
        ..query.clone()
    };
    assert_eq!(names(store.list_executions(&next).unwrap()), vec!["a"]);
    let running_only = ExecutionQuery {
        status: Some(ExecutionStatus::Running),
        limit: 10,
        ..query.clone()
    };
    assert_eq!(
        names(store.list_executions(&running_only).unwrap()),
        vec!["d", "e"]
    );
    // Counting: the same filters and cursor, stopping at the limit.
    let everything = ExecutionQuery {
        limit: 100,
        ..query.clone()
    };
    assert_eq!(store.count_executions(&everything).unwrap(), 3);
    assert_eq!(store.count_executions(&query).unwrap(), 2, "capped at 2");
    assert_eq!(
        store
            .count_executions(&ExecutionQuery {
                limit: 100,
                ..next.clone()
            })
            .unwrap(),
        1
    );
    assert_eq!(store.count_executions(&running_only).unwrap(), 2);
    let other_machine = ExecutionQuery {
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:other".into(),
        ..everything.clone()
    };
    assert_eq!(store.count_executions(&other_machine).unwrap(), 0);

    // Redrive client tokens: the newest ten per execution, newest first.
    for n in 0..12i64 {
        let token = RedriveToken {
            client_token: format!("token-{n}"),
            redrive_millis: 5000 + n,
        };
        submit(
            store,
            vec![Write::RedriveToken {
                execution_id: 1,
                token,
            }],
        )
        .unwrap();
    }
    let kept: Vec<String> = store
        .redrive_tokens(1)
        .unwrap()
        .into_iter()
        .map(|token| token.client_token)
        .collect();
    assert_eq!(
        kept,
        (2..12)
            .rev()
            .map(|n| format!("token-{n}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(store.redrive_tokens(2).unwrap(), vec![]);

    // Resources.
    let revision = Resource::Revision(Revision {
        revision_id: "rev".into(),
        state_machine_arn: "sm".into(),
        definition: "{}".into(),
        role_arn: "role".into(),
        creation_millis: 1,
    });
    submit(store, vec![Write::PutResource(revision.clone())]).unwrap();
    assert_eq!(resources(store), vec![revision.clone()]);
    submit(store, vec![Write::DeleteResource(revision.key())]).unwrap();
    assert!(resources(store).is_empty());
}

fn resources(store: &dyn Store) -> Vec<Resource> {
    store
        .load_resources()
        .unwrap()
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// An execution that starts at `start_millis` and ends at `stop_millis`, with a timer, a
/// task and a redrive token left behind to be deleted with it.
fn ended(store: &dyn Store, id: u64, start_millis: i64, stop_millis: i64) {
    let task = TaskRecord {
        task_id: 1,
        state_name: "Work".into(),
        resource: "arn:aws:states:us-east-1:1:activity:a".into(),
        parameters: serde_json::json!({}),
        timeout_seconds: None,
        heartbeat_seconds: None,
        task_token: Some(format!("token-{id}")),
        scheduled_millis: start_millis,
        started: false,
        invocation: 0,
        test_case: None,
        submitted: false,
    };
    let mut first = transition(id, 0, 1, 2);
    first.tasks_started = vec![task];
    first.timers_started = vec![Timer {
        execution_id: id,
        timer_id: 1,
        fire_at_millis: stop_millis + 1,
    }];
    let mut last = transition(id, 1, 3, 1);
    last.end = Some(ExecutionEnd {
        status: ExecutionStatus::Failed,
        stop_millis,
        output: None,
        error: Some("E".into()),
        cause: None,
    });
    let token = RedriveToken {
        client_token: format!("t{id}"),
        redrive_millis: start_millis,
    };
    submit(
        store,
        vec![
            Write::InsertExecution(Box::new(row(id, &format!("x{id}"), start_millis))),
            Write::Transition(Box::new(first)),
            Write::RedriveToken {
                execution_id: id,
                token,
            },
            Write::Transition(Box::new(last)),
        ],
    )
    .unwrap();
}

/// Retention: closed executions go, oldest end first, with everything keyed by them;
/// running ones stay.
pub fn retention(store: &dyn Store) {
    ended(store, 11, 100, 3000);
    ended(store, 12, 200, 1000);
    ended(store, 13, 300, 2000);
    submit(
        store,
        vec![
            Write::InsertExecution(Box::new(row(14, "running", 50))),
            Write::Transition(Box::new(transition(14, 0, 1, 2))),
        ],
    )
    .unwrap();
    assert_eq!(
        store.delete_closed_before(1000, 10).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(store.delete_closed_before(2500, 1).unwrap(), vec![12]);
    assert_eq!(store.delete_closed_before(2500, 10).unwrap(), vec![13]);
    for id in [12, 13] {
        assert!(store.execution(id).unwrap().is_none());
        let arn = format!("arn:aws:states:us-east-1:1:execution:m:x{id}");
        assert!(store.execution_by_arn(&arn).unwrap().is_none());
        assert_eq!(store.history_len(id).unwrap(), 0);
        assert!(store.inputs(id).unwrap().is_empty());
        assert!(store.tasks(id).unwrap().is_empty());
        assert!(store.redrive_tokens(id).unwrap().is_empty());
    }
    let query = ExecutionQuery {
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
        limit: 100,
        ..ExecutionQuery::default()
    };
    let names: Vec<String> = store
        .list_executions(&query)
        .unwrap()
        .into_iter()
        .map(|row| row.name)
        .collect();
    assert_eq!(names, vec!["x11", "running"]);
    assert_eq!(store.history_len(11).unwrap(), 3);
    assert_eq!(store.redrive_tokens(11).unwrap().len(), 1);
    // Running executions are never deleted, however old.
    assert_eq!(store.delete_closed_before(i64::MAX, 10).unwrap(), vec![11]);
    let running: Vec<u64> = store
        .running_executions()
        .unwrap()
        .into_iter()
        .map(|running| running.id)
        .collect();
    assert_eq!(running, vec![14]);
    assert_eq!(store.timers().unwrap().len(), 0);
}

/// Execution ids: never 0, never handed out twice (from many threads at once either), not
/// again once their execution was deleted, and each one inserts.
pub fn execution_ids(store: &dyn Store) {
    let first = store.allocate_execution_id().unwrap();
    assert_ne!(first, 0);
    let mut last = transition(first, 0, 1, 1);
    last.end = Some(ExecutionEnd {
        status: ExecutionStatus::Succeeded,
        stop_millis: 100,
        output: Some("{}".into()),
        error: None,
        cause: None,
    });
    submit(
        store,
        vec![
            Write::InsertExecution(Box::new(row(first, "first", 10))),
            Write::Transition(Box::new(last)),
        ],
    )
    .unwrap();
    assert_eq!(
        store.delete_closed_before(i64::MAX, 10).unwrap(),
        vec![first]
    );
    let mut ids: Vec<u64> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    (0..100)
                        .map(|_| store.allocate_execution_id().unwrap())
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect()
    });
    assert!(!ids.contains(&0) && !ids.contains(&first), "{ids:?}");
    let inserted: Vec<Write> = ids[..3]
        .iter()
        .map(|&id| Write::InsertExecution(Box::new(row(id, &format!("id{id}"), 20))))
        .collect();
    submit(store, inserted).unwrap();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 400);
}

/// Groups submitted from 8 threads at once (50 each, an execution and its first
/// transition) all commit; a backend with group commit commits them in shared transactions.
pub fn concurrent_submissions(store: &dyn Store) {
    std::thread::scope(|scope| {
        for thread in 0..8u64 {
            scope.spawn(move || {
                for i in 0..50u64 {
                    let id = thread * 1000 + i + 1;
                    submit(
                        store,
                        vec![
                            Write::InsertExecution(Box::new(row(id, &format!("x{id}"), 1))),
                            Write::Transition(Box::new(transition(id, 0, 1, 2))),
                        ],
                    )
                    .unwrap();
                }
            });
        }
    });
    let query = ExecutionQuery {
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
        limit: 1000,
        ..ExecutionQuery::default()
    };
    assert_eq!(store.list_executions(&query).unwrap().len(), 400);
    assert_eq!(store.history_len(7050).unwrap(), 2);
}

/// Resources read one by one ([`Store::resource`]) are what was last committed, and every
/// committed resource write moves [`Store::resources_version`] on (an execution's does not).
pub fn resources_by_key(store: &dyn Store) {
    let machine_arn = "arn:aws:states:us-east-1:1:stateMachine:m";
    let machine = StateMachine {
        tags: vec![("k".into(), "v".into())],
        ..state_machine(machine_arn)
    };
    let revision = Revision {
        revision_id: "rev-1".into(),
        state_machine_arn: machine_arn.into(),
        definition: "{}".into(),
        role_arn: "role".into(),
        creation_millis: 1,
    };
    let activity = Activity {
        arn: "arn:aws:states:us-east-1:1:activity:a".into(),
        name: "a".into(),
        creation_millis: 2,
        encryption_configuration: None,
        tags: Vec::new(),
    };
    assert_eq!(store.resource(machine_arn).unwrap(), None);
    let empty = store.resources_version().unwrap();
    submit(
        store,
        vec![
            Write::PutResource(Resource::Revision(revision.clone())),
            Write::PutResource(Resource::StateMachine(machine.clone())),
            Write::PutResource(Resource::Activity(activity.clone())),
        ],
    )
    .unwrap();
    let created = store.resources_version().unwrap();
    assert!(created > empty, "{created} after {empty}");
    assert_eq!(
        store.resource(machine_arn).unwrap(),
        Some(Resource::StateMachine(machine.clone()))
    );
    assert_eq!(
        store.resource(&Revision::key_of("rev-1")).unwrap(),
        Some(Resource::Revision(revision))
    );
    assert_eq!(
        store.resource(&activity.arn).unwrap(),
        Some(Resource::Activity(activity.clone()))
    );
    // Executions are not resources: their writes leave the version alone.
    submit(
        store,
        vec![Write::InsertExecution(Box::new(row(1, "a", 10)))],
    )
    .unwrap();
    assert_eq!(store.resources_version().unwrap(), created);

    let deleting = StateMachine {
        deleting: true,
        ..machine
    };
    submit(
        store,
        vec![Write::PutResource(Resource::StateMachine(deleting.clone()))],
    )
    .unwrap();
    let updated = store.resources_version().unwrap();
    assert!(updated > created, "{updated} after {created}");
    assert_eq!(
        store.resource(machine_arn).unwrap(),
        Some(Resource::StateMachine(deleting))
    );
    submit(store, vec![Write::DeleteResource(activity.arn.clone())]).unwrap();
    let deleted = store.resources_version().unwrap();
    assert!(deleted > updated, "{deleted} after {updated}");
    assert_eq!(store.resource(&activity.arn).unwrap(), None);
    // A group that fails writes nothing, and counts nothing.
    let refused = submit(
        store,
        vec![
            Write::PutResource(Resource::Activity(activity.clone())),
            Write::InsertExecution(Box::new(row(1, "a", 10))),
        ],
    );
    assert!(refused.is_err());
    assert_eq!(store.resource(&activity.arn).unwrap(), None);
    assert_eq!(store.resources_version().unwrap(), deleted);
}

/// Two handles `a` and `b` on one shared store, fresh, each joining as a node: each owns
/// what it starts, a node that leaves has its running executions taken over and its
/// commits to them refused from then on (fencing), tasks are found by token from any node
/// (closed ones as closed), each waiting activity task is claimed by one poller, and a
/// queued activity task wakes the other node's watcher.
pub fn two_nodes(a: &dyn Store, b: &dyn Store) {
    use std::time::Duration;
    let lease = Duration::from_secs(30);
    assert!(a.shared() && b.shared());
    let node_a = a.join("127.0.0.1:1", lease).unwrap();
    let node_b = b.join("127.0.0.1:2", lease).unwrap();
    assert_ne!(node_a, node_b);
    let (woken_sender, woken) = std::sync::mpsc::channel::<String>();
    let woken_sender = std::sync::Mutex::new(woken_sender);
    b.watch_activity_tasks(std::sync::Arc::new(move |arn: &str| {
        let _ = woken_sender.lock().unwrap().send(arn.to_string());
    }));
    // B's watcher says once that it listens.
    assert_eq!(woken.recv_timeout(Duration::from_secs(10)).unwrap(), "");

    // A starts execution 1 with an activity task waiting for a worker.
    let activity = "arn:aws:states:us-east-1:1:activity:work";
    let mut first = transition(1, 0, 1, 2);
    first.tasks_started.push(TaskRecord {
        task_id: 7,
        state_name: "Work".into(),
        resource: activity.into(),
        parameters: serde_json::json!({"n": 1}),
        timeout_seconds: None,
        heartbeat_seconds: None,
        task_token: Some("token-1".into()),
        scheduled_millis: 1000,
        started: false,
        invocation: 0,
        test_case: None,
        submitted: false,
    });
    submit(
        a,
        vec![
            Write::InsertExecution(Box::new(row(1, "one", 1))),
            Write::Transition(Box::new(first)),
        ],
    )
    .unwrap();
    assert_eq!(
        woken.recv_timeout(Duration::from_secs(10)).unwrap(),
        activity
    );
    assert_eq!(a.owner(1).unwrap(), Owner::Local);
    assert_eq!(
        b.owner(1).unwrap(),
        Owner::Remote(Node {
            id: node_a,
            address: "127.0.0.1:1".into()
        })
    );
    assert_eq!(b.task_by_token("token-1").unwrap(), Some((1, true)));
    assert_eq!(b.task_by_token("token-2").unwrap(), None);
    // One claim each: the second poller finds nothing while the claim lasts.
    assert_eq!(
        b.claim_activity_task(activity, lease).unwrap(),
        Some((1, 7))
    );
    assert_eq!(a.claim_activity_task(activity, lease).unwrap(), None);
    // Only the owner commits.
    assert!(matches!(
        submit(b, vec![Write::Transition(Box::new(transition(1, 1, 3, 1)))]),
        Err(Error::Conflict(_))
    ));
    submit(a, vec![Write::Transition(Box::new(transition(1, 1, 3, 1)))]).unwrap();
    // Nothing to take over while A's lease holds; everything once A leaves.
    assert!(b.take_over(100).unwrap().is_empty());
    assert!(a.running_executions().unwrap().iter().any(|e| e.id == 1));
    a.leave().unwrap();
    assert_eq!(b.owner(1).unwrap(), Owner::Orphaned);
    let taken: Vec<u64> = b.take_over(100).unwrap().iter().map(|e| e.id).collect();
    assert_eq!(taken, vec![1]);
    assert_eq!(b.owner(1).unwrap(), Owner::Local);
    assert!(b.running_executions().unwrap().iter().any(|e| e.id == 1));
    assert!(a.running_executions().unwrap().is_empty());
    // A, paused past its lease, comes back: its commit is refused, its renewal says the
    // lease had lapsed, and B's commits go on.
    assert!(!a.renew(lease).unwrap());
    assert!(matches!(
        submit(a, vec![Write::Transition(Box::new(transition(1, 2, 4, 1)))]),
        Err(Error::Conflict(_))
    ));
    submit(b, vec![Write::Transition(Box::new(transition(1, 2, 4, 1)))]).unwrap();
    assert!(a.renew(lease).unwrap());
    assert_eq!(b.history_len(1).unwrap(), 4);
}

/// A task's token names its execution while the task is open, and as closed once a
/// transition cleared it or the execution ended (`Store::task_by_token`).
pub fn closed_task_tokens(store: &dyn Store) {
    let task = |task_id: u64, token: &str| TaskRecord {
        task_id,
        state_name: "Wait".into(),
        resource: "arn:aws:states:::lambda:invoke.waitForTaskToken".into(),
        parameters: serde_json::json!({}),
        timeout_seconds: None,
        heartbeat_seconds: None,
        task_token: Some(token.into()),
        scheduled_millis: 1000,
        started: true,
        invocation: 0,
        test_case: None,
        submitted: false,
    };
    let mut first = transition(1, 0, 1, 1);
    first.tasks_started = vec![task(1, "one"), task(2, "two")];
    submit(
        store,
        vec![
            Write::InsertExecution(Box::new(row(1, "tokens", 1))),
            Write::Transition(Box::new(first)),
        ],
    )
    .unwrap();
    assert_eq!(store.task_by_token("one").unwrap(), Some((1, true)));
    assert_eq!(store.task_by_token("three").unwrap(), None);
    let mut answered = transition(1, 1, 2, 1);
    answered.tasks_cleared = vec![1];
    submit(store, vec![Write::Transition(Box::new(answered))]).unwrap();
    assert_eq!(store.task_by_token("one").unwrap(), Some((1, false)));
    assert_eq!(store.task_by_token("two").unwrap(), Some((1, true)));
    let mut ending = transition(1, 2, 3, 1);
    ending.end = Some(ExecutionEnd {
        status: ExecutionStatus::Succeeded,
        stop_millis: 2000,
        output: Some("{}".into()),
        error: None,
        cause: None,
    });
    submit(store, vec![Write::Transition(Box::new(ending))]).unwrap();
    assert_eq!(store.task_by_token("two").unwrap(), Some((1, false)));
}

/// Each logged input keeps its running history hash, all 64 bits of it (SQL backends store
/// it in a signed column), or none (an input logged before hashes were stored).
pub fn history_hashes(store: &dyn Store) {
    let hashes = [
        Some(0),
        Some(u64::MAX),
        None,
        Some(1 << 63),
        Some(0x0123_4567_89ab_cdef),
    ];
    let mut writes = vec![Write::InsertExecution(Box::new(row(1, "a", 10)))];
    for (seq, hash) in hashes.iter().enumerate() {
        let mut record = transition(1, seq as u64, seq as u64 + 1, 1);
        record.input.history_hash = *hash;
        writes.push(Write::Transition(Box::new(record)));
    }
    submit(store, writes).unwrap();
    assert_eq!(logged_hashes(store, 1), hashes);
}

/// The history hash stored with each input of execution `id`'s log, in order.
pub fn logged_hashes(store: &dyn Store, id: u64) -> Vec<Option<u64>> {
    store
        .inputs(id)
        .unwrap()
        .iter()
        .map(|logged| logged.history_hash)
        .collect()
}

/// `Write::ExpectResource`: a group commits only while the resource is stored as expected
/// (absent included), and a failed condition fails the whole group, leaving nothing of it.
fn conditional_resource_writes(store: &dyn Store) {
    let activity = |name: &str, creation_millis: i64| Activity {
        arn: "arn:aws:states:us-east-1:1:activity:a".into(),
        name: name.into(),
        creation_millis,
        encryption_configuration: None,
        tags: Vec::new(),
    };
    let key = activity("a", 1).arn;
    let expect = |expected: Option<Activity>| Write::ExpectResource {
        key: key.clone(),
        expected: expected.map(Resource::Activity),
    };
    let put = |activity: Activity| Write::PutResource(Resource::Activity(activity));
    submit(store, vec![expect(None), put(activity("a", 1))]).unwrap();
    submit(
        store,
        vec![expect(Some(activity("a", 1))), put(activity("a", 2))],
    )
    .unwrap();
    // Written from a stale copy (1), or expecting nothing where there is something: refused,
    // and the execution inserted in the same group is not there either.
    for stale in [Some(activity("a", 1)), None] {
        let refused = submit(
            store,
            vec![
                Write::InsertExecution(Box::new(row(9, "refused", 1))),
                expect(stale),
                put(activity("a", 3)),
            ],
        );
        assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    }
    assert!(store.execution(9).unwrap().is_none());
    assert_eq!(
        store.resource(&key).unwrap(),
        Some(Resource::Activity(activity("a", 2)))
    );
    submit(
        store,
        vec![
            expect(Some(activity("a", 2))),
            Write::DeleteResource(key.clone()),
        ],
    )
    .unwrap();
    assert_eq!(store.resource(&key).unwrap(), None);
}

/// `Write::ExpectActive` and `Write::ExpectUnaliased`: a start commits only while its
/// machine exists and is not being deleted (and its version or alias exists), and a
/// version's deletion only while no alias routes to it; a failed condition fails the whole
/// group (the execution inserted with it is not there). Several starts' conditions in one
/// batch (groups submitted together) fail only the group whose condition failed.
fn active_and_unaliased_conditions(store: &dyn Store) {
    let machine_arn = "arn:aws:states:us-east-1:1:stateMachine:m";
    let version_arn = format!("{machine_arn}:1");
    let alias_arn = format!("{machine_arn}:live");
    let machine = StateMachine {
        next_version: 2,
        ..state_machine(machine_arn)
    };
    let version = Version {
        arn: version_arn.clone(),
        state_machine_arn: machine_arn.into(),
        version: 1,
        revision_id: "rev-1".into(),
        description: None,
        creation_millis: 1,
    };
    let alias = |routing: Vec<(String, u64)>| Alias {
        arn: alias_arn.clone(),
        name: "live".into(),
        state_machine_arn: machine_arn.into(),
        description: None,
        routing,
        creation_millis: 1,
        update_millis: None,
    };
    let active = |key: &str| Write::ExpectActive { key: key.into() };
    let insert = |id: u64| Write::InsertExecution(Box::new(row(id, &format!("e{id}"), 1)));
    let unaliased = || Write::ExpectUnaliased {
        version_arn: version_arn.clone(),
    };
    // Nothing stored yet: a start of it is refused.
    let refused = submit(store, vec![active(machine_arn), insert(1)]);
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    assert!(store.execution(1).unwrap().is_none());
    submit(
        store,
        vec![
            Write::PutResource(Resource::StateMachine(machine.clone())),
            Write::PutResource(Resource::Version(version.clone())),
        ],
    )
    .unwrap();
    submit(
        store,
        vec![active(machine_arn), active(&version_arn), insert(2)],
    )
    .unwrap();
    assert!(store.execution(2).unwrap().is_some());
    // An alias pointing at the version: it may not be deleted; the alias's own write
    // expects the version active.
    submit(
        store,
        vec![
            active(&version_arn),
            Write::PutResource(Resource::Alias(alias(vec![(version_arn.clone(), 100)]))),
        ],
    )
    .unwrap();
    let refused = submit(
        store,
        vec![unaliased(), Write::DeleteResource(version_arn.clone())],
    );
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    assert!(store.resource(&version_arn).unwrap().is_some());
    submit(store, vec![Write::DeleteResource(alias_arn.clone())]).unwrap();
    submit(
        store,
        vec![unaliased(), Write::DeleteResource(version_arn.clone())],
    )
    .unwrap();
    // The version is gone: an alias to it and a start of it are refused.
    let refused = submit(
        store,
        vec![
            active(&version_arn),
            Write::PutResource(Resource::Alias(alias(vec![(version_arn.clone(), 100)]))),
        ],
    );
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    assert_eq!(store.resource(&alias_arn).unwrap(), None);
    // The machine being deleted: starts of it are refused, in a batch with one that is not.
    submit(
        store,
        vec![Write::PutResource(Resource::StateMachine(StateMachine {
            deleting: true,
            ..machine
        }))],
    )
    .unwrap();
    let (sender, results) = mpsc::channel();
    for (idx, writes) in [
        vec![active(machine_arn), insert(3)],
        vec![insert(4)],
        vec![active(machine_arn), insert(5)],
    ]
    .into_iter()
    .enumerate()
    {
        let sender = sender.clone();
        store.submit(
            writes,
            Box::new(move |res| sender.send((idx, res.is_ok())).unwrap()),
        );
    }
    let mut results: Vec<(usize, bool)> = (0..3).map(|_| results.recv().unwrap()).collect();
    results.sort();
    assert_eq!(results, vec![(0, false), (1, true), (2, false)]);
    let stored: Vec<bool> = [3, 4, 5]
        .iter()
        .map(|id| store.execution(*id).unwrap().is_some())
        .collect();
    assert_eq!(stored, vec![false, true, false]);
}

/// A Standard state machine `m` of revision `rev-1`, not being deleted.
fn state_machine(arn: &str) -> StateMachine {
    StateMachine {
        arn: arn.into(),
        name: "m".into(),
        machine_type: StateMachineType::Standard,
        revision_id: "rev-1".into(),
        creation_millis: 1,
        logging_configuration: None,
        tracing_configuration: None,
        encryption_configuration: None,
        tags: Vec::new(),
        next_version: 1,
        deleting: false,
    }
}
