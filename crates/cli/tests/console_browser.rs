//! The web console driven in a real headless Chromium (issue 6, point 6; issue 17): runs
//! `crates/console/e2e` (history unit tests, then `run.js`) against this build of
//! `steppe server`, never a stand-in, at 1440x900 and 390x844.
//!
//! Needs Debian's chromium, Node and `npm ci` in `crates/console/e2e`
//! (`scripts/install-browser-test-deps.sh`). Without them the test says so and passes, so
//! that plain `cargo test` needs no network; `STEPPE_BROWSER_TESTS=1` makes their absence a
//! failure (CI sets it after installing them), `STEPPE_BROWSER_TESTS=0` skips.
//! Screenshots of each page go to `target/console-screenshots/` (under `CARGO_TARGET_DIR`
//! when it is set), where CI keeps test output.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn the_console_works_in_a_real_browser() {
    let wanted = std::env::var("STEPPE_BROWSER_TESTS").unwrap_or_default();
    if wanted == "0" {
        eprintln!("console browser test skipped: STEPPE_BROWSER_TESTS=0");
        return;
    }
    let e2e = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../console/e2e");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    let mut missing = Vec::new();
    if !Path::new(&chromium).exists() {
        missing.push(format!("chromium ({chromium})"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node".to_string());
    }
    if !e2e.join("node_modules/playwright-core").exists() {
        missing.push("playwright-core (npm ci in crates/console/e2e)".to_string());
    }
    if !missing.is_empty() {
        let message = format!(
            "console browser test needs {}: run scripts/install-browser-test-deps.sh",
            missing.join(", ")
        );
        assert!(wanted != "1", "{message}");
        eprintln!("skipped: {message}");
        return;
    }
    for script in [vec!["--test", "history.test.js"], vec!["run.js"]] {
        let output = Command::new("node")
            .args(&script)
            .current_dir(&e2e)
            .env("STEPPE_BIN", env!("CARGO_BIN_EXE_steppe"))
            .env("CHROMIUM", &chromium)
            .output()
            .expect("node runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("{text}");
        assert!(
            output.status.success(),
            "node {} failed:\n{text}",
            script.join(" ")
        );
    }
}
