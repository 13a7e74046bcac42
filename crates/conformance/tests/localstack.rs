//! Runs every LocalStack-derived AWS-recorded execution against steppe (see `steppe_conformance::localstack`).

use steppe_conformance::known_failures::{self, CaseResult};
use steppe_conformance::{catch_panic, localstack, run_parallel, shared_dir};

/// The reason new JSONata-mode failures get when the list is rewritten.
const JSONATA_REASON: &str = "JSONata evaluation: issue 3";

#[test]
fn localstack_executions() {
    let dir = shared_dir()
        .join("conformance")
        .join("localstack")
        .join("executions");
    if !dir.is_dir() {
        known_failures::report(&[format!(
            "skipped: shared corpus not found at {}",
            dir.display()
        )]);
        return;
    }
    let cases = localstack::load_cases(&dir).unwrap_or_else(|error| panic!("{error}"));
    let results = run_parallel(&cases, |case| CaseResult {
        id: case.id(),
        feature: case.feature.clone(),
        failure: catch_panic(|| localstack::run(case))
            .and_then(|res| res)
            .err(),
        default_reason: if case.jsonata {
            JSONATA_REASON.to_string()
        } else {
            "engine: not yet diagnosed".to_string()
        },
    });
    known_failures::finish("localstack", &results);
}
