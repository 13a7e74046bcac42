//! Times drawing a large nested machine: `cargo run --release -p steppe-graph --bin steppe-graph-bench`.
//!
//! The figure is reported, never asserted (timed tests flake on shared machines). The default
//! definition is `tests/fixtures/large-nested.json` (121 states: six Parallels, each with a
//! Task/Choice branch, a Map, and a Map of Parallels); pass another file as the argument.

use std::time::Instant;

const LARGE: &str = include_str!("../../tests/fixtures/large-nested.json");

fn main() {
    let text = match std::env::args().nth(1) {
        Some(path) => std::fs::read_to_string(&path).unwrap_or_else(|error| {
            eprintln!("cannot read {path}: {error}");
            std::process::exit(2)
        }),
        None => LARGE.to_string(),
    };
    let definition = match steppe_asl::compile(&text) {
        Ok(definition) => definition,
        Err(diagnostics) => {
            for diagnostic in diagnostics {
                eprintln!("{diagnostic}");
            }
            std::process::exit(2)
        }
    };
    let runs = 50;
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let graph = steppe_graph::Graph::from_definition(&definition);
        let svg = steppe_graph::render(&graph, steppe_graph::Format::Svg)
            .expect("the benchmark machines fit the layout budget");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        bytes = svg.len();
    }
    times.sort_by(f64::total_cmp);
    let graph = steppe_graph::Graph::from_definition(&definition);
    println!(
        "states={} edges={} blocks={} svg_bytes={bytes} runs={runs} median_ms={:.2} max_ms={:.2}",
        graph.state_count(),
        graph.edges.len(),
        graph.blocks.len(),
        times[runs / 2],
        times[runs - 1]
    );
}
