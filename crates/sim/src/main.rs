//! `steppe-sim --seeds N [--seed S] [--nodes N] [--inject-bug NAME]`: runs N seeds (from S
//! on, or the one seed S), on one server or a cluster of `--nodes`, prints each violating seed with the end of its trace, and ends with
//! `N seeds, …, K violations`; exits 0 exactly when K is 0.

use clap::Parser;
use std::process::ExitCode;
use steppe_sim::Bug;

#[derive(Parser)]
#[command(about = "Deterministic simulation of the steppe server core")]
struct Args {
    /// How many seeds to run.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// The first seed (alone, without --seeds, replays that seed).
    #[arg(long)]
    seed: Option<u64>,
    /// How many servers: 1, a server alone (the default), or more, the nodes of a cluster
    /// over one shared store, with node pauses, partitions and crashes among the faults.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=steppe_sim::cluster::NODES_MAX as u64))]
    nodes: u64,
    /// A deliberate bug to switch on: commit-after-effects, lose-timer, double-apply,
    /// corrupt-event or (with --nodes 2 or more) skip-fencing.
    #[arg(long)]
    inject_bug: Option<String>,
    /// The workload: `current` (now `fourth`: with callback tasks and heartbeats), `first`
    /// (session 8's), `second` (with redrives and deletions), `third` (with JSONata states),
    /// which older regression seeds replay with, or `fifth` (with nested executions; its
    /// sweeps still find violations not yet explained).
    #[arg(long, default_value = "current")]
    workload: String,
    /// Print each seed's whole trace, and the stored history of each violating execution.
    #[arg(long)]
    verbose: bool,
}

/// The trace lines printed for a violating seed.
const TRACE_SHOWN: usize = 40;

fn main() -> ExitCode {
    let args = Args::parse();
    let bug = match args.inject_bug.as_deref() {
        None => None,
        Some(name) => match Bug::ALL.iter().find(|(known, _)| *known == name) {
            Some((_, bug)) => Some(*bug),
            None => {
                let names: Vec<&str> = Bug::ALL.iter().map(|(name, _)| *name).collect();
                eprintln!("unknown bug {name}; known: {}", names.join(", "));
                return ExitCode::from(2);
            }
        },
    };
    let workload = match args.workload.as_str() {
        "current" => steppe_sim::Workload::CURRENT,
        "first" => steppe_sim::Workload::FIRST,
        "second" => steppe_sim::Workload::SECOND,
        "third" => steppe_sim::Workload::THIRD,
        "fourth" => steppe_sim::Workload::FOURTH,
        "fifth" => steppe_sim::Workload::FIFTH,
        other => {
            eprintln!(
                "unknown workload {other}; known: current, first, second, third, fourth, fifth"
            );
            return ExitCode::from(2);
        }
    };
    let first = args.seed.unwrap_or(0);
    let started = std::time::Instant::now();
    let (mut violations, mut violating, mut executions) = (0u64, 0u64, 0u64);
    let mut faults = steppe_sim::Faults::default();
    for seed in first..first.saturating_add(args.seeds) {
        let report = steppe_sim::run_nodes(seed, bug, workload, args.nodes as usize);
        executions += report.executions as u64;
        faults.failed_commits += report.faults.failed_commits;
        faults.crashes_before += report.faults.crashes_before;
        faults.crashes_after += report.faults.crashes_after;
        faults.tokens_lost += report.faults.tokens_lost;
        faults.pauses += report.faults.pauses;
        faults.partitions += report.faults.partitions;
        faults.nodes_down += report.faults.nodes_down;
        if args.verbose {
            for line in &report.trace {
                println!("  {line}");
            }
        }
        if !report.violations.is_empty() {
            violating += 1;
            violations += report.violations.len() as u64;
            println!(
                "seed {seed}: {} violations (replay: --seed {seed})",
                report.violations.len()
            );
            let skip = report.trace.len().saturating_sub(TRACE_SHOWN);
            for line in &report.trace[skip..] {
                println!("  {line}");
            }
            if args.verbose {
                for event in &report.histories {
                    println!("  history {event}");
                }
            }
            for violation in &report.violations {
                println!("  VIOLATION {violation}");
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cluster = if args.nodes > 1 {
        format!(
            "{} nodes, {} pauses, {} partitions, {} nodes down, ",
            args.nodes, faults.pauses, faults.partitions, faults.nodes_down
        )
    } else {
        String::new()
    };
    println!(
        "{} seeds, {cluster}{executions} executions, {} failed commits, {} crashes before and \
         {} after the durable point, {} task tokens lost, {:.1} seeds/s, {violating} violating \
         seeds, {violations} violations",
        args.seeds,
        faults.failed_commits,
        faults.crashes_before,
        faults.crashes_after,
        faults.tokens_lost,
        args.seeds as f64 / seconds.max(1e-9),
    );
    if violations == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
