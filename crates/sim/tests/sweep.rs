//! The simulator's short sweep (issue 14): clean seeds find no violation, each deliberate
//! bug is caught, and a seed replays identically. Longer sweeps:
//! `cargo run --release -p steppe-sim -- --seeds 10000`.

use std::collections::BTreeSet;
use steppe_sim::{run, run_nodes, run_with, Bug, Workload};

/// Seeds the clean sweep runs: seeds 0 to 499, in [`SWEEP_PARTS`] tests that the test harness
/// runs side by side. In the test profile the whole file takes about 35 s of CPU: 110 s on
/// this 2-core machine while others built on it (load 12), under 20 s on two idle cores.
/// `--release` runs ~80 seeds per second of CPU.
const CLEAN_SEEDS: u64 = 500;
/// The clean sweep's tests.
const SWEEP_PARTS: u64 = 4;
/// Each bug must be caught within this many seeds (the issue asks for 300).
const BUG_SEEDS: u64 = 300;

/// Seeds that once violated, each for a cause since fixed (issue 14), run whatever the
/// sweep's length, with the workload they were found with.
const REGRESSION_SEEDS: [(u64, Workload, &str); 9] = [
    // A crash lost a `GetActivityTask` answer after the task's start was committed: the
    // task is the worker's though it never heard of it, and times out (as on AWS). The
    // reference run took it as answered.
    (24, Workload::FIRST, "a task token lost in a crash"),
    (9, Workload::FIRST, "a task token lost in a crash"),
    // The fault-free phase moved the clock to the next timer as known before the step's
    // commits armed new ones, past a Wait's timer to the execution's one-year timeout.
    (
        61,
        Workload::FIRST,
        "the clock moved past a timer armed meanwhile",
    ),
    (
        124,
        Workload::FIRST,
        "the clock moved past a timer armed meanwhile",
    ),
    // The commit that finishes a DeleteStateMachine (after the machine's last execution
    // ended, and again at the restart) failed and was never tried again: the machine
    // stayed DELETING until the next restart. The server's bug, fixed in deletion.rs.
    (557, Workload::SECOND, "a deletion's commit failed"),
    // Two RedriveExecution calls with one client token raced (the first not yet durable):
    // both answered, one redrive took, and the log holds a second Redrive input that the
    // engine ignored. The reference redrove twice. The simulator's bug: it now redrives the
    // reference as often as the row counts.
    (665, Workload::THIRD, "two redrives raced"),
    // A parent was stopped while the child of its `.sync:2` task was being started: the
    // parent's end found no child to stop, and the child ran on to its own end. The server's
    // bug, fixed in nested.rs (a task closed while its child starts stops the child).
    (71, Workload::FIFTH, "a child started as its parent stopped"),
    (
        227,
        Workload::FIFTH,
        "a child started as its parent stopped",
    ),
    (
        930,
        Workload::FIFTH,
        "a child started as its parent stopped",
    ),
];

fn assert_clean(seed: u64) -> steppe_sim::Report {
    assert_clean_with(seed, Workload::CURRENT)
}

fn assert_clean_with(seed: u64, workload: Workload) -> steppe_sim::Report {
    let report = run_with(seed, None, workload);
    assert!(
        report.violations.is_empty(),
        "seed {seed}: {:?}\n{}",
        report.violations,
        report.trace[report.trace.len().saturating_sub(40)..].join("\n")
    );
    assert!(report.executions > 0, "seed {seed} started executions");
    report
}

/// Runs the `part`th of [`SWEEP_PARTS`] parts of the clean sweep; answers how the worker
/// answered the callback tasks it took (`Succeed`, `HeartbeatLate`, ...).
fn sweep(part: u64) -> BTreeSet<String> {
    let part_seeds = CLEAN_SEEDS.div_ceil(SWEEP_PARTS);
    let seeds = part * part_seeds..((part + 1) * part_seeds).min(CLEAN_SEEDS);
    let mut answers = BTreeSet::new();
    for seed in seeds {
        let report = assert_clean(seed);
        answers.extend(report.trace.iter().filter_map(|line| {
            let taken = line.split_once(" took callback ")?.1;
            let answer = taken.rsplit_once("}: ")?.1;
            Some(answer.split('(').next()?.to_string())
        }));
    }
    answers
}

#[test]
fn clean_seeds_find_no_violation_0() {
    // The workload's callback tasks are answered in every way it has.
    let answers = sweep(0);
    let every: BTreeSet<String> = [
        "Fail",
        "HeartbeatLate",
        "Heartbeats",
        "Late",
        "Never",
        "Succeed",
        "Twice",
    ]
    .map(String::from)
    .into();
    assert_eq!(answers, every);
}

#[test]
fn clean_seeds_find_no_violation_1() {
    sweep(1);
}

#[test]
fn clean_seeds_find_no_violation_2() {
    sweep(2);
}

#[test]
fn clean_seeds_find_no_violation_3() {
    sweep(3);
}

#[test]
fn regression_seeds_find_no_violation() {
    for (seed, workload, cause) in REGRESSION_SEEDS {
        let report = assert_clean_with(seed, workload);
        if cause.starts_with("a deletion") {
            // The seed still deletes the machine while its executions run.
            assert!(
                report
                    .trace
                    .iter()
                    .any(|line| line.ends_with("deleted sim-machine-0: ok")),
                "seed {seed} deletes no machine"
            );
        }
        if cause.starts_with("a child started") {
            // The seed still stops a parent of a child.
            assert!(
                report.trace.iter().any(|line| line.contains(" child e")),
                "seed {seed} starts no child"
            );
        }
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
fn corrupt_event_is_caught_by_the_history_hash() {
    let caught = (0..BUG_SEEDS)
        .map(|seed| run(seed, Some(Bug::CorruptEvent)))
        .find(|report| !report.violations.is_empty());
    let report = caught.expect("a seed within 300 violates");
    // Caught by the running hash at the step the event became durable, not only by the
    // replay at the end.
    assert!(
        report.violations[0].contains("are not those its stored history hash covers"),
        "seed {}: {:?}",
        report.seed,
        report.violations
    );
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

/// Seeds the multi-node sweep runs, in two tests, on a cluster of [`CLUSTER_NODES`] nodes
/// over one shared store, with node pauses, partitions and crashes among the faults. A
/// seed of a cluster costs about four of one server (three runtimes, and calls forwarded
/// between them); longer sweeps: `cargo run --release -p steppe-sim -- --nodes 3 --seeds 1000`.
const CLUSTER_SEEDS: u64 = 60;
/// The nodes of the multi-node sweep.
const CLUSTER_NODES: usize = 3;

/// Seeds that once violated on a cluster of [`CLUSTER_NODES`], each for a cause since fixed.
const CLUSTER_REGRESSION_SEEDS: [(u64, &str); 4] = [
    // A node restarted at the address of its last run got a request its last run was the
    // owner for (routed there by the execution's owner, still leased) and answered
    // `InvalidToken` for a task the store knew as open. The server's bug, fixed in
    // `ops/activities.rs` (`unknown_here`: 503).
    (0, "a restarted node at its old address"),
    // A node paused past its lease closed in memory the tasks of an execution another node
    // took over, then answered a request routed to it before with `TaskTimedOut`; the
    // worker dropped the task, which timed out. Fixed in `ops/activities.rs`
    // (`closed_here`: 503 when the store knows the task as open).
    (
        31,
        "a task closed in the memory of a node that lost its execution",
    ),
    // A poller claimed a task of another node's execution whose old incarnation still held
    // the lease, the forwarded poll found nothing there, and the task stayed claimed for a
    // while; with nothing else due, the fault-free phase moved the clock to the execution's
    // one-year timeout in one step, past the claim and every poll in between (a liveness
    // violation in ~1% of 1000 seeds). The simulator's bug: on a cluster time moves no more
    // than a claim lasts at once (`cluster.rs`, `fire_timers`).
    (314, "time jumped over a claimed activity task"),
    (95, "time jumped over a claimed activity task"),
];

fn assert_clean_cluster(seed: u64) -> steppe_sim::Report {
    let report = run_nodes(seed, None, Workload::CURRENT, CLUSTER_NODES);
    assert!(
        report.violations.is_empty(),
        "seed {seed} on {CLUSTER_NODES} nodes: {:?}\n{}",
        report.violations,
        report.trace[report.trace.len().saturating_sub(40)..].join("\n")
    );
    assert!(report.executions > 0, "seed {seed} started executions");
    report
}

/// Runs the `part`th half of the cluster sweep; answers the node faults it injected.
fn cluster_sweep(part: u64) -> steppe_sim::Faults {
    let mut faults = steppe_sim::Faults::default();
    let half = CLUSTER_SEEDS.div_ceil(2);
    for seed in part * half..((part + 1) * half).min(CLUSTER_SEEDS) {
        let report = assert_clean_cluster(seed);
        faults.pauses += report.faults.pauses;
        faults.partitions += report.faults.partitions;
        faults.nodes_down += report.faults.nodes_down;
    }
    // The sweep does inject every node fault.
    assert!(
        faults.pauses > 0 && faults.partitions > 0 && faults.nodes_down > 0,
        "{faults:?}"
    );
    faults
}

#[test]
fn clean_seeds_on_a_cluster_find_no_violation_0() {
    cluster_sweep(0);
}

#[test]
fn clean_seeds_on_a_cluster_find_no_violation_1() {
    cluster_sweep(1);
}

#[test]
fn cluster_regression_seeds_find_no_violation() {
    // Found with the third workload (before callbacks), which replays them as found.
    for (seed, cause) in CLUSTER_REGRESSION_SEEDS {
        let report = run_nodes(seed, None, Workload::THIRD, CLUSTER_NODES);
        assert!(
            report.violations.is_empty(),
            "seed {seed} ({cause}): {:?}",
            report.violations
        );
    }
}

#[test]
fn skip_fencing_is_caught_on_a_cluster() {
    let caught = (0..BUG_SEEDS)
        .map(|seed| {
            run_nodes(
                seed,
                Some(Bug::SkipFencing),
                Workload::CURRENT,
                CLUSTER_NODES,
            )
        })
        .find(|report| !report.violations.is_empty());
    let report = caught.expect("a seed within 300 violates");
    assert!(
        report.violations[0].contains("while node"),
        "seed {}: {:?}",
        report.seed,
        report.violations
    );
}

#[test]
fn a_cluster_seed_replays_identically() {
    let first = run_nodes(7, None, Workload::CURRENT, CLUSTER_NODES);
    let again = run_nodes(7, None, Workload::CURRENT, CLUSTER_NODES);
    assert_eq!(first.trace, again.trace);
    assert_ne!(first.digest(), run(7, None).digest());
}
