//! Two `steppe server` processes on one data directory (issue 12): the second is refused at
//! once with one line naming the directory, and the first keeps serving. (Servers on one
//! PostgreSQL database are nodes of one cluster instead: `tests/cluster.rs`.)

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start or to refuse (a hang guard, not a measurement).
const GUARD: Duration = Duration::from_secs(30);

fn free_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn server(address: SocketAddr, data_dir: &Path) -> Command {
    let mut command = steppe_server(address);
    command.arg("--data-dir").arg(data_dir);
    command
}

fn steppe_server(address: SocketAddr) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_steppe"));
    command
        .args(["server", "--listen", &address.to_string()])
        .env_remove("STEPPE_POSTGRES_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn wait_until_ready(address: SocketAddr, first: &mut Child) {
    let started = Instant::now();
    while std::net::TcpStream::connect(address).is_err() {
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first server ended"
        );
        assert!(started.elapsed() < GUARD, "the first server is not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a second server to its end (it must end by itself).
fn refused(address: SocketAddr, data_dir: &Path) -> Output {
    run_to_end(server(address, data_dir))
}

fn run_to_end(mut command: Command) -> Output {
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > GUARD {
            let _ = child.kill();
            panic!("the second server did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first_address = free_address();
    let mut first = server(first_address, dir.path()).spawn().unwrap();
    wait_until_ready(first_address, &mut first);

    let second = refused(free_address(), dir.path());
    assert_eq!(second.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&second.stderr),
        format!(
            "steppe: the data directory {} is in use by another steppe server (it holds the lock on {})\n",
            dir.path().display(),
            dir.path().join("steppe.lock").display()
        )
    );
    // The first still answers.
    assert!(std::net::TcpStream::connect(first_address).is_ok());
    assert!(first.try_wait().unwrap().is_none());
    first.kill().unwrap();
    first.wait().unwrap();

    // Once it is gone (even by kill -9), the directory is free: the lock dies with it.
    let third_address = free_address();
    let mut third = server(third_address, dir.path()).spawn().unwrap();
    wait_until_ready(third_address, &mut third);
    third.kill().unwrap();
    third.wait().unwrap();
}
