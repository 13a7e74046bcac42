//! Issue 13: the API reads the store (which blocks) off the async workers, at most
//! `limits::STORE_READS_MAX` at once: reads that hang, as on a slow database, do not stop
//! the server answering other requests.

mod common;

use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use steppe_store::{HookedStore, MemoryStore, Store};

/// Holds every read of an execution by ARN while closed.
#[derive(Default)]
struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
    /// Reads waiting at the gate now.
    waiting: AtomicUsize,
}

impl Gate {
    fn set(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.opened.notify_all();
    }

    fn pass(&self) {
        let mut closed = self.closed.lock().unwrap();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        while *closed {
            closed = self.opened.wait(closed).unwrap();
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_that_hang_do_not_stop_other_requests() {
    const HANGING: usize = 4;
    let gate = Arc::new(Gate::default());
    let hooked = gate.clone();
    let store = HookedStore::new(
        MemoryStore::new(),
        Box::new(|inner: &MemoryStore, writes, done| inner.submit(writes, done)),
    )
    .with_read_hook(Box::new(move |read| {
        if read == "execution_by_arn" {
            hooked.pass();
        }
    }));
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Custom(Arc::new(store)),
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts");
    let client = client(server.local_addr());
    let machine = create(
        &client,
        "quick",
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
    )
    .await;
    let execution = start(&client, &machine, "{}").await;

    // More describes hang in the store than the server has async workers.
    gate.set(true);
    let describes: Vec<_> = (0..HANGING)
        .map(|_| {
            let (client, execution) = (client.clone(), execution.clone());
            tokio::spawn(async move {
                client
                    .describe_execution()
                    .execution_arn(execution)
                    .send()
                    .await
            })
        })
        .collect();
    // A watchdog opens the gate after 30 s whatever happens, so that a server whose
    // workers hang fails the assertion below instead of hanging the test.
    let watchdog = gate.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        watchdog.set(false);
    });
    let all_hang = gate.clone();
    tokio::task::spawn_blocking(move || {
        while all_hang.waiting.load(Ordering::SeqCst) < HANGING && *all_hang.closed.lock().unwrap()
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await
    .unwrap();
    let listed = client.list_state_machines().send().await.unwrap();
    assert_eq!(listed.state_machines.len(), 1);
    assert!(
        *gate.closed.lock().unwrap(),
        "answered only once the hanging reads were let go"
    );
    assert_eq!(gate.waiting.load(Ordering::SeqCst), HANGING);
    assert!(describes.iter().all(|describe| !describe.is_finished()));

    gate.set(false);
    for describe in describes {
        let described = describe.await.unwrap().expect("described");
        assert_eq!(described.execution_arn, execution);
    }
    server.shutdown().await;
}
