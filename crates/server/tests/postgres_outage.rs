//! Issue 13: a node cut off from PostgreSQL answers 503 `ServiceUnavailable` (which SDKs
//! retry), loses nothing it acknowledged, and carries on by itself once the database is back.
//!
//! The server reaches PostgreSQL through a TCP proxy in this test; cutting the proxy closes
//! every connection through it and refuses new ones, as a failed network or a restarted
//! database would. (Skips without a test database, and fails so under CI: see
//! `steppe_store_postgres::testing`.)

mod common;

use aws_sdk_sfn::types::ExecutionStatus;
use common::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steppe_store_postgres::testing::fresh_schema;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A loopback TCP proxy to `upstream` that can be cut and restored.
struct Proxy {
    address: SocketAddr,
    cut: Arc<AtomicBool>,
    pipes: Arc<Mutex<Vec<AbortHandle>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Proxy {
    /// Runs on a runtime of its own: the server under test blocks its callers' threads on
    /// store reads, and a proxy sharing them could not move the bytes those reads wait for.
    fn start(upstream: SocketAddr) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let pipes: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (accept_cut, accept_pipes) = (cut.clone(), pipes.clone());
        runtime.spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if accept_cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                accept_pipes.lock().unwrap().push(pipe.abort_handle());
            }
        });
        Proxy {
            address,
            cut,
            pipes,
            _runtime: runtime,
        }
    }

    /// Closes every connection through the proxy and refuses new ones.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db` with `host:port` replaced by `address`.
fn through(url: &str, address: SocketAddr) -> (String, SocketAddr) {
    let after_scheme = url.find("://").expect("a URL") + 3;
    let host_start = url[after_scheme..]
        .find('@')
        .map_or(after_scheme, |at| after_scheme + at + 1);
    let host_end = url[host_start..]
        .find('/')
        .map_or(url.len(), |slash| host_start + slash);
    let upstream: SocketAddr = url[host_start..host_end]
        .parse()
        .expect("the test database's URL names an IP address and port");
    let proxied = format!("{}{address}{}", &url[..host_start], &url[host_end..]);
    (proxied, upstream)
}

const WAITS: &str = r#"{
  "StartAt": "Nap",
  "States": {
    "Nap": {"Type": "Wait", "Seconds": 2, "Next": "Done"},
    "Done": {"Type": "Pass", "Result": "rested", "End": true}
  }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_cut_off_from_postgres_answers_503_and_recovers_losing_nothing() {
    let Some(mut options) =
        fresh_schema("a_server_cut_off_from_postgres_answers_503_and_recovers_losing_nothing")
    else {
        return;
    };
    // Start the proxy on a placeholder upstream, then point it at the real one.
    let (_, upstream) = through(&options.url, "127.0.0.1:1".parse().unwrap());
    let proxy = std::thread::spawn(move || Proxy::start(upstream))
        .join()
        .unwrap();
    options.url = through(&options.url, proxy.address).0;
    // A node of a cluster (as `steppe server --postgres` runs), whose lease lapses during
    // the outage: back, it renews it and goes on with what it owned.
    options.exclusive = false;
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Postgres(options),
        lease: Duration::from_secs(1),
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts");
    let client = client(server.local_addr());
    let machine = create(&client, "outage", WAITS).await;

    // Acknowledged before the cut; their Waits fall due while the database is away.
    let mut acknowledged = Vec::new();
    for n in 0..5 {
        acknowledged.push(start_named(&client, &machine, &format!("before-{n}")).await);
    }

    proxy.cut();
    // Every call that needs the database fails alone with 503 ServiceUnavailable, which the
    // SDK's standard retry mode retries; this client does not retry, to see the answer.
    let no_retries = client_without_retries(server.local_addr());
    let refused = no_retries
        .start_execution()
        .state_machine_arn(&machine)
        .name("during")
        .input("{}")
        .send()
        .await
        .expect_err("no start is acknowledged while the database is away");
    let refused = refused.into_service_error();
    assert_eq!(
        refused.meta().code(),
        Some("ServiceUnavailable"),
        "{refused:?}"
    );
    // Past the Waits' due time, with the database still away.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let described = no_retries
        .describe_execution()
        .execution_arn(&acknowledged[0])
        .send()
        .await;
    if let Err(error) = described {
        let error = error.into_service_error();
        assert_eq!(error.meta().code(), Some("ServiceUnavailable"), "{error:?}");
    }

    proxy.restore();
    // The server reconnects by itself: new work is accepted again...
    let mut after = None;
    for _ in 0..100 {
        match no_retries
            .start_execution()
            .state_machine_arn(&machine)
            .name("after")
            .input("{}")
            .send()
            .await
        {
            Ok(started) => {
                after = Some(started.execution_arn);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    acknowledged.push(after.expect("StartExecution succeeds within 10 s of the database's return"));
    // ...and every acknowledged execution ends as it would have without the outage.
    for arn in &acknowledged {
        let described = wait_for_end_within(&client, arn, Duration::from_secs(30)).await;
        assert_eq!(described.status, ExecutionStatus::Succeeded, "{arn}");
        assert_eq!(described.output.as_deref(), Some("\"rested\""), "{arn}");
        let types = event_types(&history(&client, arn).await);
        assert_eq!(
            types,
            [
                "ExecutionStarted",
                "WaitStateEntered",
                "WaitStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ],
            "{arn}"
        );
    }
    // The execution refused during the outage does not exist.
    let listed = client
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.executions.len(), acknowledged.len());
    assert!(listed.executions.iter().all(|e| e.name != "during"));
    server.shutdown().await;
    // A runtime may not be dropped inside another.
    std::thread::spawn(move || drop(proxy)).join().unwrap();
}

async fn start_named(client: &aws_sdk_sfn::Client, machine: &str, name: &str) -> String {
    client
        .start_execution()
        .state_machine_arn(machine)
        .name(name)
        .input("{}")
        .send()
        .await
        .unwrap()
        .execution_arn
}

fn client_without_retries(address: SocketAddr) -> aws_sdk_sfn::Client {
    let config = client(address)
        .config()
        .to_builder()
        .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}
