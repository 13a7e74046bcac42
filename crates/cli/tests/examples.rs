//! The examples in `examples/` run as the README says, with the outputs they promise.

use serde_json::Value;
use std::process::Command;

fn run(definition: &str, input: Option<&str>) -> Value {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/");
    let mut command = Command::new(env!("CARGO_BIN_EXE_steppe"));
    command
        .arg("run")
        .arg(format!("{root}{definition}"))
        .args(["--json", "--fast-clock"]);
    if let Some(input) = input {
        command.arg("--input-file").arg(format!("{root}{input}"));
    }
    let output = command.output().expect("steppe runs");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{definition}: {error}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn output(described: &Value) -> Value {
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    serde_json::from_str(described["output"].as_str().expect("output text")).expect("JSON output")
}

#[test]
fn order_fulfilment_succeeds() {
    let described = run("order-fulfilment.json", Some("order-input.json"));
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
}

#[test]
fn data_processing_succeeds() {
    let described = run("data-processing.json", Some("data-input.json"));
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
}

#[test]
fn retries_back_off_1_2_4_seconds_then_fall_back() {
    let described = run("retries.json", None);
    let waited = described["stopDate"].as_f64().unwrap() - described["startDate"].as_f64().unwrap();
    assert!((waited - 7.0).abs() < 1e-6, "{described}");
    let output = output(&described);
    assert_eq!(output["value"], "cached");
    assert_eq!(output["reason"], "ServiceUnavailable");
}

#[test]
fn jsonata_pricing_totals_the_lines_and_flags_a_review() {
    let output = output(&run(
        "jsonata-pricing.json",
        Some("jsonata-pricing-input.json"),
    ));
    assert_eq!(output["customer"], "Ada");
    assert_eq!(output["total"], 110.99);
    assert_eq!(output["review"], true);
    assert_eq!(output["summary"], "A-1, B-2");
    assert_eq!(output["order"].as_str().map(str::len), Some(36));
}
