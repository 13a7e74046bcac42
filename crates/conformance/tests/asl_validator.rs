//! Compiles asl-validator's labelled definitions: `valid-*` must compile, `invalid-*` must not.

use steppe_conformance::known_failures::{self, CaseResult};
use steppe_conformance::{asl_validator, catch_panic, run_parallel, shared_dir};

#[test]
fn asl_validator_definitions() {
    let dir = shared_dir().join("conformance").join("asl-validator");
    if !dir.is_dir() {
        known_failures::report(&[format!(
            "skipped: shared corpus not found at {}",
            dir.display()
        )]);
        return;
    }
    let cases = asl_validator::load_cases(&dir).unwrap_or_else(|error| panic!("{error}"));
    let results = run_parallel(&cases, |case| CaseResult {
        id: case.id(),
        feature: case.feature().to_string(),
        failure: catch_panic(|| asl_validator::run(case))
            .and_then(|res| res)
            .err(),
        default_reason: "not yet diagnosed".to_string(),
    });
    known_failures::finish("asl-validator", &results);
}
