//! What an operator's tooling and a browser meet first: `GET /health`, `GET /ready` and `GET /`.

mod common;

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `GET path` and returns the status line's code and the whole answer.
async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).to_string();
    (answer[9..12].parse().unwrap(), answer)
}

#[tokio::test]
async fn health_ready_and_the_console_redirect() {
    let server = common::memory_server().await;
    let address = server.local_addr();
    let (status, answer) = get(address, "/health").await;
    assert_eq!(status, 200);
    assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");
    let (status, answer) = get(address, "/ready").await;
    assert_eq!(status, 200);
    assert!(answer.ends_with(r#"{"status":"ready"}"#), "{answer}");
    let (status, answer) = get(address, "/").await;
    assert_eq!(status, 302);
    assert!(
        answer.to_ascii_lowercase().contains("location: /console/"),
        "{answer}"
    );
    server.shutdown().await;
}
