//! `steppe graph` as a user runs it: each format on an example, a file output, and an
//! invalid definition exiting 2 with its diagnostics on stderr.

use std::path::PathBuf;
use std::process::Command;

fn steppe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_steppe"))
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

#[test]
fn draws_an_example_in_every_format() {
    for (format, marker) in [
        ("svg", r#"data-state="ReserveStock""#),
        ("dot", "subgraph cluster_n"),
        ("mermaid", "flowchart TD"),
        ("json", r#""type": "Map""#),
    ] {
        let output = steppe()
            .args(["graph", "--format", format])
            .arg(example("order-fulfilment.json"))
            .output()
            .expect("steppe runs");
        assert!(output.status.success(), "{format}: {:?}", output);
        let stdout = String::from_utf8(output.stdout).expect("utf-8");
        assert!(stdout.contains(marker), "{format} lacks {marker}");
        assert!(stdout.contains("ValidateOrder"), "{format} lacks a state");
    }
}

#[test]
fn writes_to_the_output_file() {
    let path = std::env::temp_dir().join(format!("steppe-graph-{}.svg", std::process::id()));
    let status = steppe()
        .arg("graph")
        .arg(example("retries.json"))
        .arg("--output")
        .arg(&path)
        .status()
        .expect("steppe runs");
    assert!(status.success());
    let svg = std::fs::read_to_string(&path).expect("the file was written");
    let _ = std::fs::remove_file(&path);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("sg-edge-catch"));
}

#[test]
fn an_invalid_definition_exits_2_with_its_diagnostics_on_stderr() {
    let path = std::env::temp_dir().join(format!("steppe-graph-bad-{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}"#,
    )
    .expect("write");
    let output = steppe()
        .args(["graph", "--format", "dot"])
        .arg(&path)
        .output()
        .expect("steppe runs");
    let _ = std::fs::remove_file(&path);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert!(stderr.contains("MISSING_TRANSITION_TARGET"), "{stderr}");
}
