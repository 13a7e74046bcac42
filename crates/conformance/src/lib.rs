//! Conformance runner: replays AWS-recorded behaviour against steppe, as part of `cargo test`.
//!
//! Three corpora from the shared data folder (`${STEPPE_SHARED:-<workspace>/../shared}`) are run:
//!
//! - [`localstack`]: executions recorded against real AWS (from LocalStack's snapshot tests).
//!   Each case is compiled with `steppe_asl`, run to its end with `steppe_runtime::run_to_end`
//!   on a fast clock, and its status, output, error, cause and (where recorded) history are
//!   compared with what AWS returned.
//! - [`asl_validator`]: labelled definitions from the asl-validator linter; `valid-*` must
//!   compile and `invalid-*` must be rejected.
//! - [`jsonata`]: the official JSONata test suite, evaluated with `steppe_asl::jsonata` (the
//!   layer Step Functions' JSONata expressions run on) and checked as jsonata-js checks it.
//!
//! The recorder replaced volatile values (dates, ARNs, account ids) by placeholders, so
//! comparisons go through [`placeholder::Placeholders`], which turns each placeholder into a
//! wildcard of its kind. Cases we knowingly fail are listed, with a reason, in the checked-in
//! `tests/known-failures.txt` ([`known_failures`]); the suite fails on any unlisted failure and
//! on any listed case that now passes, so the list only shrinks.
//!
//! ```
//! use steppe_conformance::placeholder::Placeholders;
//! let placeholders = Placeholders::new(["<region>", "111111111111"]);
//! assert!(placeholders.text_matches(
//!     "arn:aws:states:<region>:111111111111:stateMachine:m",
//!     "arn:aws:states:us-east-1:123456789012:stateMachine:m",
//! ));
//! ```

#![forbid(unsafe_code)]

pub mod asl_validator;
pub mod compare;
pub mod history;
pub mod jsonata;
pub mod known_failures;
pub mod localstack;
pub mod placeholder;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The shared data folder: `$STEPPE_SHARED`, or `shared` next to the workspace.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("STEPPE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_dir().parent().map_or_else(
            || PathBuf::from("../shared"),
            |parent| parent.join("shared"),
        ),
    }
}

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest_dir.join("../.."), Path::to_path_buf)
}

/// The checked-in list of cases we knowingly fail.
pub fn known_failures_path() -> PathBuf {
    workspace_dir().join("tests").join("known-failures.txt")
}

/// Runs `run` on every item on all cores, and returns the results in the items' order.
pub fn run_parallel<T: Sync, R: Send>(items: &[T], run: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let item_idx = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(item_idx) else {
                    break;
                };
                let res = run(item);
                results
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push((item_idx, res));
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    results.sort_by_key(|(item_idx, _)| *item_idx);
    results.into_iter().map(|(_, res)| res).collect()
}

/// Runs `f`, turning a panic into an `Err` with the panic's message.
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string());
        format!("panicked: {message}")
    })
}
