//! With `--credentials`, the console signs its requests in the browser (assets/sigv4.js): run
//! here in Node, as a browser would run it, against the real server. Its endpoints answer
//! unsigned requests with AWS's MissingAuthenticationTokenException; the page itself loads.

mod common;

use std::process::Command;

const FILE: &str = "[default]\naws_access_key_id = AKIDCONSOLE\naws_secret_access_key = sesame\n";

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consoles_signer_is_accepted_and_unsigned_console_requests_are_refused() {
    if !node_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have node for this test"
        );
        eprintln!("skipped: node is not installed");
        return;
    }
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        credentials: Some(steppe_server::auth::Credentials::parse(FILE).unwrap()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let base = format!("http://{}", server.local_addr());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../console/e2e/sigv4-check.mjs"
    );
    let run = |secret: &'static str| {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let output = Command::new("node")
                .args([script, &base, "AKIDCONSOLE", secret])
                .output()
                .expect("node runs");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
                .map(|answer| {
                    (
                        answer["name"].as_str().unwrap().to_string(),
                        answer["status"].as_u64().unwrap(),
                        answer["body"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    let signed = run("sesame").await.unwrap();
    assert_eq!(signed.len(), 3);
    for (name, status, body) in &signed {
        assert_eq!(*status, 200, "{name}: {body}");
    }
    let forged = run("guess").await.unwrap();
    for (name, status, body) in &forged {
        assert_eq!(*status, 400, "{name}: {body}");
        assert!(body.contains("InvalidSignatureException"), "{name}: {body}");
    }
    for path in [
        "/console/api/tasks",
        "/console/api/stderr?executionArn=arn%3Aaws%3Astates%3Aus-east-1%3A123456789012%3Aexecution%3Am%3Ae",
        "/console/api/history?executionArn=arn%3Aaws%3Astates%3Aus-east-1%3A123456789012%3Aexecution%3Am%3Ae",
    ] {
        let (status, answer) = raw_get(server.local_addr(), path).await;
        assert_eq!(status, 403, "{path}: {answer}");
        assert!(answer.contains("MissingAuthenticationTokenException"), "{path}: {answer}");
    }
    let (status, page) = raw_get(server.local_addr(), "/console/").await;
    assert_eq!(status, 200);
    assert!(page.contains("sigv4.js"));
    server.shutdown().await;
}

async fn raw_get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    common::http(
        address,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost"),
        "",
    )
    .await
}
