//! Every script of the console parses (`node --check`): a syntax error leaves the page at
//! "Loading…", which only the browser test would otherwise notice.

use std::process::Command;

#[test]
fn every_script_parses() {
    if Command::new("node").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have node for this test"
        );
        eprintln!("skipped: node is not installed");
        return;
    }
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut checked = 0;
    for entry in std::fs::read_dir(&assets).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|extension| extension == "js") {
            let output = Command::new("node")
                .arg("--check")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "only {checked} scripts found in {}",
        assets.display()
    );
}
