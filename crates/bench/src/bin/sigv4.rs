//! `cargo run --release -p steppe-bench --bin sigv4`: what verifying one request's SigV4
//! signature costs `steppe server --credentials` (issue 15: "report the SigV4 verification
//! cost per request").
//!
//! A request is signed once, as the AWS SDK for Rust signs a Step Functions call (the same
//! headers: `content-type`, `host`, `x-amz-date`, `x-amz-target`, `x-amz-user-agent`,
//! `amz-sdk-invocation-id`, `amz-sdk-request`, `content-length`), then verified again and
//! again with `steppe_server::auth::Credentials::verify`, the function the server calls for
//! every API request: parse the `Authorization` header, find the key, check the clock skew,
//! re-sign with `aws-sigv4` (canonical request, SHA-256 of the body, four HMAC-SHA256 key
//! derivations and the signature) and compare in constant time. One thread, no contention;
//! the figure is per request, for a small body (a StartSyncExecution call) and a 256 KiB one
//! (the largest execution input, whose SHA-256 dominates). A wrong signature costs the same
//! (it is found only by re-signing). Nothing is asserted: the figures are printed.
//!
//! Environment: `STEPPE_BENCH_SECONDS` (default 2) of verifying per figure.

use std::time::{Duration, Instant, SystemTime};
use steppe_server::auth::{Credentials, Signed};

const KEY: &str = "AKIDBENCH";
const SECRET: &str = "bench-secret-access-key-0123456789abcdef";

fn main() {
    let seconds: u64 = std::env::var("STEPPE_BENCH_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2);
    let credentials = Credentials::parse(&format!(
        "[bench]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\naws_account_id = 111122223333\n"
    ))
    .expect("credentials");
    let small = r#"{"stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:express","input":"{\"n\": 1}"}"#.to_string();
    let large = format!(
        r#"{{"stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:express","input":"{}"}}"#,
        "x".repeat(256 * 1024 - 100)
    );
    println!("SigV4 verification (steppe_server::auth::Credentials::verify), one thread");
    for (label, body) in [("small body", &small), ("256 KiB body", &large)] {
        let (nanos, count) = verify_nanos(&credentials, body, seconds);
        println!(
            "  {label:>12} ({:>6} bytes): {nanos:.0} ns per request ({count} verifications)",
            body.len()
        );
    }
}

/// Signs one request with `body` and verifies it for `seconds`; answers the mean
/// nanoseconds per verification and how many ran.
fn verify_nanos(credentials: &Credentials, body: &str, seconds: u64) -> (f64, u64) {
    let now = SystemTime::now();
    let amz_date = amz_date(now);
    let length = body.len().to_string();
    let unsigned = [
        ("content-type", "application/x-amz-json-1.0"),
        ("host", "127.0.0.1:8083"),
        ("x-amz-date", amz_date.as_str()),
        ("x-amz-target", "AWSStepFunctions.StartSyncExecution"),
        (
            "x-amz-user-agent",
            "aws-sdk-rust/1.3.0 ua/2.1 api/sfn/1.0.0 os/linux lang/rust/1.83.0",
        ),
        (
            "amz-sdk-invocation-id",
            "7b2f1c4e-2b1a-4c7d-9a1e-0c6f2d8e4b5a",
        ),
        ("amz-sdk-request", "attempt=1; max=3"),
        ("content-length", length.as_str()),
    ];
    let authorization = sign(&unsigned, body, now);
    let mut headers: Vec<(&str, &str)> = unsigned.to_vec();
    headers.push(("authorization", authorization.as_str()));
    headers.push(("user-agent", "aws-sdk-rust/1.3.0 os/linux lang/rust/1.83.0"));
    let request = Signed {
        method: "POST",
        path_and_query: "/",
        headers,
        body: body.as_bytes(),
    };
    credentials
        .verify(&request, now)
        .expect("the bench's own signature verifies");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut count = 0u64;
    while Instant::now() < deadline {
        for _ in 0..64 {
            std::hint::black_box(credentials.verify(std::hint::black_box(&request), now))
                .expect("verifies");
        }
        count += 64;
    }
    (started.elapsed().as_nanos() as f64 / count as f64, count)
}

/// The `Authorization` header the SDK would send for these headers and body.
fn sign(headers: &[(&str, &str)], body: &str, now: SystemTime) -> String {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
    let identity = aws_credential_types::Credentials::new(KEY, SECRET, None, None, "bench").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("states")
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .expect("signing parameters")
        .into();
    let signable = SignableRequest::new(
        "POST",
        "http://127.0.0.1:8083/",
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .expect("signable");
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .expect("signed")
        .into_parts();
    let authorization = instructions
        .headers()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.to_string())
        .expect("an Authorization header");
    authorization
}

/// `now` as `YYYYMMDDTHHMMSSZ` (as `auth.rs` writes it).
fn amz_date(now: SystemTime) -> String {
    let seconds = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    steppe_asl::timestamp::format_iso8601(seconds * 1000)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect()
}
