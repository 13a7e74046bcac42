//! The simulator's short sweep (issue 14): clean seeds find no violation, each deliberate
//! bug is caught, and a seed replays identically. Longer sweeps:
//! `cargo run --release -p steppe-sim -- --seeds 10000`.

use steppe_sim::{run, Bug};

/// Seeds the clean sweep runs (test profile; the release binary runs ~30 seeds/s).
const CLEAN_SEEDS: u64 = 24;
/// Each bug must be caught within this many seeds (the issue asks for 300).
const BUG_SEEDS: u64 = 300;

/// Seeds that once violated, each for a cause since fixed (issue 14), run whatever the
/// sweep's length.
const REGRESSION_SEEDS: [(u64, &str); 4] = [
    // A crash lost a `GetActivityTask` answer after the task's start was committed: the
    // task is the worker's though it never heard of it, and times out (as on AWS). The
    // reference run took it as answered.
    (24, "a task token lost in a crash"),
    (9, "a task token lost in a crash"),
    // The fault-free phase moved the clock to the next timer as known before the step's
    // commits armed new ones, past a Wait's timer to the execution's one-year timeout.
    (61, "the clock moved past a timer armed meanwhile"),
    (124, "the clock moved past a timer armed meanwhile"),
];

fn assert_clean(seed: u64) -> steppe_sim::Report {
    let report = run(seed, None);
    assert!(
        report.violations.is_empty(),
        "seed {seed}: {:?}\n{}",
        report.violations,
        report.trace[report.trace.len().saturating_sub(40)..].join("\n")
    );
    assert!(report.executions > 0, "seed {seed} started executions");
    report
}

#[test]
fn clean_seeds_find_no_violation() {
    for seed in 0..CLEAN_SEEDS {
        assert_clean(seed);
    }
}

#[test]
fn regression_seeds_find_no_violation() {
    for (seed, cause) in REGRESSION_SEEDS {
        let report = assert_clean(seed);
        if cause.starts_with("a task token lost") {
            // The seed still loses a token, so it still tests what it is kept for.
            assert!(report.faults.tokens_lost > 0, "seed {seed} loses no token");
        }
    }
}

fn caught_within(bug: Bug) -> Option<u64> {
    (0..BUG_SEEDS).find(|&seed| !run(seed, Some(bug)).violations.is_empty())
}

#[test]
fn commit_after_effects_is_caught() {
    assert!(caught_within(Bug::CommitAfterEffects).is_some());
}

#[test]
fn lose_timer_is_caught() {
    assert!(caught_within(Bug::LoseTimer).is_some());
}

#[test]
fn double_apply_is_caught() {
    assert!(caught_within(Bug::DoubleApply).is_some());
}

#[test]
fn a_seed_replays_identically() {
    for seed in [7, 1234] {
        let first = run(seed, None);
        let again = run(seed, None);
        assert_eq!(first.trace, again.trace, "seed {seed}");
        assert_eq!(first.digest(), again.digest());
    }
    assert_ne!(run(1, None).digest(), run(2, None).digest());
}
