//! `steppe-sim --seeds N [--seed S] [--inject-bug NAME]`: runs N seeds (from S on, or the
//! one seed S), prints each violating seed with the end of its trace, and ends with
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
    /// A deliberate bug to switch on: commit-after-effects, lose-timer, double-apply or
    /// corrupt-event.
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
        let report = steppe_sim::run_with(seed, bug, workload);
        executions += report.executions as u64;
        faults.failed_commits += report.faults.failed_commits;
        faults.crashes_before += report.faults.crashes_before;
        faults.crashes_after += report.faults.crashes_after;
        faults.tokens_lost += report.faults.tokens_lost;
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
    println!(
        "{} seeds, {executions} executions, {} failed commits, {} crashes before and {} after \
         the durable point, {} task tokens lost, {:.1} seeds/s, {violating} violating seeds, \
         {violations} violations",
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
