//! `--credentials`: real SDK clients signing with a listed key are served; a wrong secret, an
//! unknown key and an unsigned request get AWS's errors, and change nothing.

mod common;

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use common::ROLE;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FILE: &str =
    "[default]\naws_access_key_id = AKIDSTEPPE\naws_secret_access_key = correct-horse\n";

fn signed_client(address: SocketAddr, key: &str, secret: &str) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(format!("http://{address}"))
        .interceptor(common::StripSyncPrefix)
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

async fn create(client: &aws_sdk_sfn::Client, name: &str) -> Result<String, (String, String)> {
    client
        .create_state_machine()
        .name(name)
        .definition(r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#)
        .role_arn(ROLE)
        .send()
        .await
        .map(|created| created.state_machine_arn)
        .map_err(|error| {
            let error = error.into_service_error();
            (
                error.code().unwrap_or_default().to_string(),
                error.message().unwrap_or_default().to_string(),
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_requests_signed_by_a_listed_key_are_served() {
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        credentials: Some(steppe_server::auth::Credentials::parse(FILE).unwrap()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let address = server.local_addr();

    let right = signed_client(address, "AKIDSTEPPE", "correct-horse");
    let machine = create(&right, "signed")
        .await
        .expect("a listed key is served");
    let execution = right
        .start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("a signed start is served");
    assert!(!execution.execution_arn.is_empty());

    let wrong_secret = signed_client(address, "AKIDSTEPPE", "battery-staple");
    let (code, message) = create(&wrong_secret, "forged").await.unwrap_err();
    assert_eq!(code, "InvalidSignatureException");
    assert!(
        message.starts_with("The request signature we calculated does not match"),
        "{message}"
    );

    let unknown = signed_client(address, "AKIDOTHER", "correct-horse");
    let (code, message) = create(&unknown, "stranger").await.unwrap_err();
    assert_eq!(code, "UnrecognizedClientException");
    assert_eq!(
        message,
        "The security token included in the request is invalid."
    );

    // No signature at all.
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let body = r#"{"name": "anonymous", "definition": "{}", "roleArn": "x"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: AWSStepFunctions.CreateStateMachine\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        answer.contains("MissingAuthenticationTokenException"),
        "{answer}"
    );

    // Only the signed machine exists.
    let listed = right.list_state_machines().send().await.unwrap();
    let names: Vec<&str> = listed.state_machines().iter().map(|m| m.name()).collect();
    assert_eq!(names, ["signed"]);
    server.shutdown().await;
}

const TWO_KEYS: &str = "[operator]\naws_access_key_id = AKIDOPERATOR\naws_secret_access_key = op\nsteppe_reveal_secrets = true\n\n[developer]\naws_access_key_id = AKIDDEVELOPER\naws_secret_access_key = dev\n";

/// With `--credentials`: TestState's `revealSecrets` only for a key whose profile allows it (AWS
/// asks for `states:RevealSecrets`), and no HTTP Task into loopback or private ranges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reveal_secrets_needs_a_permitted_key_and_loopback_is_out_of_reach() {
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        credentials: Some(steppe_server::auth::Credentials::parse(TWO_KEYS).unwrap()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let address = server.local_addr();
    let pass = r#"{"Type": "Pass", "End": true}"#;
    let test_state = |client: aws_sdk_sfn::Client, definition: &'static str| async move {
        client
            .test_state()
            .definition(definition)
            .role_arn(ROLE)
            .input("{}")
            .reveal_secrets(true)
            .send()
            .await
    };
    let developer = signed_client(address, "AKIDDEVELOPER", "dev");
    let refused = test_state(developer, pass)
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(refused.code(), Some("AccessDeniedException"));
    assert!(refused
        .message()
        .unwrap_or_default()
        .contains("states:RevealSecrets"));
    let operator = signed_client(address, "AKIDOPERATOR", "op");
    let tested = test_state(operator.clone(), pass)
        .await
        .expect("the operator may");
    assert_eq!(
        tested.status,
        Some(aws_sdk_sfn::types::TestExecutionStatus::Succeeded)
    );

    // An HTTP Task at the server's own loopback address, which has no business being called.
    let http = r#"{"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": {"ApiEndpoint": "http://127.0.0.1:9/x", "Method": "GET"}, "End": true}"#;
    let tested = operator
        .test_state()
        .definition(http)
        .role_arn(ROLE)
        .input("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(tested.error.as_deref(), Some("States.Http.Socket"));
    let cause = tested.cause.unwrap_or_default();
    assert!(
        cause.contains("steppe refuses to connect to 127.0.0.1"),
        "{cause}"
    );
    server.shutdown().await;
}
