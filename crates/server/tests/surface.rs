//! What the server refuses to answer, whoever can reach its port: requests for host names it
//! was not told it has (DNS rebinding), and console POSTs another site's page could send.

mod common;

use common::http as send;
use std::net::SocketAddr;

/// ListStateMachines as an SDK sends it, with `host` in the Host header.
async fn list_machines(address: SocketAddr, host: &str) -> (u16, String) {
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: AWSStepFunctions.ListStateMachines"
    );
    send(address, &head, "{}").await
}

async fn server_allowing(allowed_hosts: &[&str]) -> steppe_server::Server {
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        allowed_hosts: allowed_hosts.iter().map(|name| name.to_string()).collect(),
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts")
}

#[tokio::test]
async fn a_rebound_host_name_is_refused_and_the_servers_own_names_are_answered() {
    let server = server_allowing(&["steppe.internal"]).await;
    let address = server.local_addr();
    let port = address.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("sync-localhost:{port}"),
        "steppe.internal".to_string(),
    ] {
        let (status, answer) = list_machines(address, &host).await;
        assert_eq!(status, 200, "{host}: {answer}");
    }
    // An attacker's name pointed at 127.0.0.1: the browser sends it as Host.
    let (status, answer) = list_machines(address, &format!("attacker.example:{port}")).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("AccessDeniedException"), "{answer}");
    assert!(answer.contains("--allowed-host"), "{answer}");
    // The console and the probes are behind the same check.
    let (status, _) = send(
        address,
        "GET /console/api/tasks HTTP/1.1\r\nHost: attacker.example",
        "",
    )
    .await;
    assert_eq!(status, 403);
    server.shutdown().await;
}

#[tokio::test]
async fn a_cross_site_console_post_is_refused_and_the_consoles_own_is_answered() {
    let server = common::memory_server().await;
    let address = server.local_addr();
    let definition = r#"{"definition": "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true}}}"}"#;
    // What a form or a text/plain fetch on another site can send without asking.
    let simple =
        format!("POST /console/api/graph HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/plain");
    let (status, answer) = send(address, &simple, definition).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("X-Steppe-Console") || answer.contains("x-steppe-console"));
    let console = format!(
        "POST /console/api/graph HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         X-Steppe-Console: 1"
    );
    let (status, answer) = send(address, &console, definition).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"svg\""), "{answer}");
    server.shutdown().await;
}
