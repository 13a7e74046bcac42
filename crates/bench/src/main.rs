//! `cargo run --release -p steppe-bench [-- --peer]`: engine throughput figures on one core.
//!
//! With `--peer`, the same definitions also run on the `aws-local-stepfunctions` npm package
//! (`bench/peer`, installed with `npm ci` there) in the same run, and the ratios are printed.
//!
//! Each figure is the best of several timed rounds, printed with what it measures. Nothing
//! here asserts a speed: machines are shared and noisy, so figures are reported and compared
//! as ratios measured in the same run (see `bench/peer` for the Node peer).

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use steppe_asl::Definition;
use steppe_engine::{apply, Config, Execution, Input, Status};

fn main() {
    let definitions =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/definitions");
    let load = |name: &str| {
        steppe_asl::compile(&std::fs::read_to_string(definitions.join(name)).unwrap()).unwrap()
    };
    let chain = load("pass-chain-10.json");
    let express = load("express-5.json");
    let map = load("map-inline.json");
    let jsonata_chain = load("jsonata-pass-chain-10.json");

    let no_history = executions_per_second(&chain, json!({"n": 1}), Config::express());
    println!(
        "pass-chain-10 without history: {:.0} transitions/s ({:.0} executions/s)",
        no_history * 10.0,
        no_history
    );
    let with_history = executions_per_second(&chain, json!({"n": 1}), Config::standard());
    println!(
        "pass-chain-10 with history:    {:.0} transitions/s ({:.0} executions/s)",
        with_history * 10.0,
        with_history
    );
    let jsonata = executions_per_second(&jsonata_chain, json!({"n": 1}), Config::express());
    println!(
        "jsonata-pass-chain-10 (same output, JSONata) without history: {:.0} transitions/s ({:.0} executions/s)",
        jsonata * 10.0,
        jsonata
    );
    let express_rate = executions_per_second(&express, json!({"n": 1}), Config::express());
    println!("express-5:                     {express_rate:.0} executions/s");
    let items: Vec<Value> = (0..10_000).map(Value::from).collect();
    let map_millis = best_of(5, || {
        let started = Instant::now();
        let status = execute(&map, json!({ "items": items }), Config::express());
        assert_eq!(status, Status::Succeeded);
        started.elapsed()
    });
    println!(
        "map-inline over 10,000 items:  {:.1} ms",
        map_millis.as_secs_f64() * 1000.0
    );
    if std::env::args().any(|arg| arg == "--peer") {
        peer(&definitions, no_history, express_rate, map_millis);
    }
    let text = chain_definition(200);
    let parse = best_of(20, || {
        let started = Instant::now();
        steppe_asl::compile(&text).unwrap();
        started.elapsed()
    });
    println!(
        "parse+validate 200 states:     {:.3} ms",
        parse.as_secs_f64() * 1000.0
    );
}

/// Runs the peer on the same definitions and prints steppe's advantage for each figure.
fn peer(definitions: &std::path::Path, chain: f64, express: f64, map: Duration) {
    let script = definitions.join("../peer/run.mjs");
    let run = |args: &[&str]| -> Option<Value> {
        let output = std::process::Command::new("node")
            .arg(&script)
            .args(args)
            .output()
            .ok()?;
        if !output.status.success() {
            eprintln!("peer: {}", String::from_utf8_lossy(&output.stderr).trim());
            return None;
        }
        serde_json::from_slice(&output.stdout).ok()
    };
    let path = |name: &str| definitions.join(name).to_string_lossy().into_owned();
    let rate = |line: Option<Value>| line.and_then(|line| line["executions_per_second"].as_f64());
    match rate(run(&[&path("pass-chain-10.json"), r#"{"n":1}"#, "3", "10"])) {
        Some(peer) => println!(
            "peer pass-chain-10:            {peer:.0} executions/s; steppe is {:.0}x faster",
            chain / peer
        ),
        None => println!("peer pass-chain-10: not run (cd bench/peer && npm ci)"),
    }
    if let Some(peer) = rate(run(&[&path("express-5.json"), r#"{"n":1}"#, "3", "5"])) {
        println!(
            "peer express-5:                {peer:.0} executions/s; steppe is {:.0}x faster",
            express / peer
        );
    }
    let map_line = run(&["--map-items", "10000", &path("map-inline.json")]);
    if let Some(peer) = map_line.and_then(|line| line["milliseconds"].as_f64()) {
        println!(
            "peer map-inline 10,000 items:  {peer:.1} ms; steppe is {:.0}x faster",
            peer / (map.as_secs_f64() * 1000.0)
        );
    }
}

fn execute(definition: &Definition, input: Value, config: Config) -> Status {
    let info = steppe_runtime::local_execution_info("bench", "run", 0);
    let mut execution = Execution::new(info, input, config, 1);
    let mut transition = apply(definition, &mut execution, Input::Start, 0);
    while transition
        .commands
        .iter()
        .any(|command| matches!(command, steppe_engine::Command::Continue))
    {
        transition = apply(definition, &mut execution, Input::Continue, 0);
    }
    execution.status
}

fn executions_per_second(definition: &Definition, input: Value, config: Config) -> f64 {
    let rounds: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let mut count = 0u64;
            while started.elapsed() < Duration::from_millis(400) {
                for _ in 0..100 {
                    assert_eq!(
                        execute(definition, input.clone(), config.clone()),
                        Status::Succeeded
                    );
                }
                count += 100;
            }
            count as f64 / started.elapsed().as_secs_f64()
        })
        .collect();
    rounds.into_iter().fold(0.0, f64::max)
}

fn best_of(rounds: usize, mut run: impl FnMut() -> Duration) -> Duration {
    (0..rounds).map(|_| run()).min().unwrap_or_default()
}

/// A definition of `count` Pass states in a chain, for the parse benchmark.
fn chain_definition(count: usize) -> String {
    let mut states = serde_json::Map::new();
    for index in 0..count {
        let mut state = json!({"Type": "Pass", "Parameters": {"step": index, "value.$": "$.value"}, "ResultPath": "$.last"});
        if index + 1 == count {
            state["End"] = json!(true);
        } else {
            state["Next"] = json!(format!("S{}", index + 1));
        }
        states.insert(format!("S{index}"), state);
    }
    json!({"StartAt": "S0", "States": states}).to_string()
}
