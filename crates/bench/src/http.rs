//! A plain HTTP/1.1 keep-alive client speaking the AWS JSON 1.0 protocol, unsigned, shared
//! by the bench binaries (the client's cost stays small and visible in the figures).

use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One keep-alive connection speaking the AWS JSON 1.0 protocol.
pub struct Connection {
    stream: BufReader<TcpStream>,
    address: SocketAddr,
}

impl Connection {
    /// Connects to `address`.
    pub async fn open(address: SocketAddr) -> Connection {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Connection {
            stream: BufReader::new(stream),
            address,
        }
    }

    /// Calls `operation` with the JSON `body`; answers the status and the body.
    pub async fn call(&mut self, operation: &str, body: &str) -> (u16, Vec<u8>) {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.{operation}\r\nContent-Length: {}\r\n\r\n{body}",
            self.address,
            body.len()
        );
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("write");
        let mut status = 0;
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("read");
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some(code) = trimmed.strip_prefix("HTTP/1.1 ") {
                status = code[..3].parse().unwrap_or(0);
            } else if let Some((name, value)) = trimmed.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.expect("body");
        (status, body)
    }
}
