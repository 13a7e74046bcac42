//! The checked-in list of cases steppe knowingly fails, and the verdict of a suite run.
//!
//! `tests/known-failures.txt` has one line per case, `<suite>/<feature>/<file-stem>  # reason`;
//! blank lines and lines starting with `#` are ignored. A run fails when a case fails that is
//! not listed, when a listed case passes (remove its line: the list only shrinks), and when a
//! listed case does not exist. With `UPDATE_KNOWN_FAILURES=1` the runner rewrites the suite's
//! lines instead, keeping the reasons already written and giving new failures a default one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// Listed cases and why each fails.
#[derive(Debug, Clone, Default)]
pub struct KnownFailures {
    /// Case name to reason.
    pub entries: BTreeMap<String, String>,
}

/// What one case did.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// `<suite>/<feature>/<file-stem>`.
    pub id: String,
    /// The feature folder the score is counted in.
    pub feature: String,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
    /// The reason a new known-failure line gets when the list is rewritten.
    pub default_reason: String,
}

/// The outcome of checking a suite's results against the list.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Scores per feature.
    pub summary: Vec<String>,
    /// Everything that makes the run fail; empty when it passes.
    pub problems: Vec<String>,
    /// How many cases passed.
    pub n_passed: usize,
    /// How many cases failed.
    pub n_failed: usize,
    /// How many of the failed cases are listed.
    pub n_known: usize,
}

impl Verdict {
    /// The score line: `<label>: P passed, F failed (known)`.
    pub fn score(&self, label: &str) -> String {
        let known = if self.n_known == self.n_failed {
            "known".to_string()
        } else {
            format!("{} known", self.n_known)
        };
        format!(
            "{label}: {} passed, {} failed ({known})",
            self.n_passed, self.n_failed
        )
    }
}

const HEADER: &str = "\
# Conformance cases steppe knowingly fails: `<suite>/<feature>/<file-stem>  # reason`.
# The conformance tests (crates/conformance) fail when an unlisted case fails, when a listed
# case passes (delete its line) and when a listed case does not exist.
# `UPDATE_KNOWN_FAILURES=1 cargo test -p steppe-conformance` rewrites the list from a run.
";

impl KnownFailures {
    /// Reads the list; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<KnownFailures, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(format!("{}: {error}", path.display())),
        };
        Ok(KnownFailures::parse(&text))
    }

    /// Parses the list's text.
    pub fn parse(text: &str) -> KnownFailures {
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| match line.split_once('#') {
                Some((id, reason)) => (id.trim().to_string(), reason.trim().to_string()),
                None => (line.to_string(), String::new()),
            })
            .collect();
        KnownFailures { entries }
    }

    /// Writes the list, sorted.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let mut text = HEADER.to_string();
        for (id, reason) in &self.entries {
            let _ = writeln!(text, "{id}  # {reason}");
        }
        std::fs::write(path, text).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// The list with `suite`'s lines replaced by the failures in `results`.
    pub fn updated(&self, suite: &str, results: &[CaseResult]) -> KnownFailures {
        let prefix = format!("{suite}/");
        let mut entries: BTreeMap<String, String> = self
            .entries
            .iter()
            .filter(|(id, _)| !id.starts_with(&prefix))
            .map(|(id, reason)| (id.clone(), reason.clone()))
            .collect();
        for res in results.iter().filter(|res| res.failure.is_some()) {
            let reason = self
                .entries
                .get(&res.id)
                .cloned()
                .unwrap_or_else(|| res.default_reason.clone());
            entries.insert(res.id.clone(), reason);
        }
        KnownFailures { entries }
    }

    /// Checks `suite`'s results against the list. With `verbose`, the summary also shows why
    /// each listed case fails.
    pub fn check(&self, suite: &str, results: &[CaseResult], verbose: bool) -> Verdict {
        let mut verdict = Verdict::default();
        let mut scores: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let mut n_known = 0;
        for res in results {
            let score = scores.entry(res.feature.as_str()).or_default();
            score.1 += 1;
            let listed = self.entries.contains_key(&res.id);
            if listed && res.failure.is_some() {
                n_known += 1;
            }
            match &res.failure {
                None => score.0 += 1,
                Some(failure) if !listed => verdict.problems.push(format!(
                    "FAILED (not in known-failures.txt): {}\n    {}",
                    res.id,
                    indent(failure)
                )),
                Some(failure) if verbose => verdict.summary.push(format!(
                    "known failure: {}\n    {}",
                    res.id,
                    indent(failure)
                )),
                Some(_) => {}
            }
            if listed && res.failure.is_none() {
                verdict.problems.push(format!(
                    "PASSED but listed in known-failures.txt (delete its line): {}",
                    res.id
                ));
            }
        }
        let prefix = format!("{suite}/");
        for id in self.entries.keys().filter(|id| id.starts_with(&prefix)) {
            if !results.iter().any(|res| &res.id == id) {
                verdict.problems.push(format!(
                    "listed in known-failures.txt but no such case: {id}"
                ));
            }
        }
        verdict.n_passed = scores.values().map(|score| score.0).sum();
        verdict.n_failed = results.len() - verdict.n_passed;
        verdict.n_known = n_known;
        for (feature, (feature_passed, total)) in scores {
            verdict
                .summary
                .push(format!("{feature}: {feature_passed}/{total}"));
        }
        verdict
    }
}

fn indent(text: &str) -> String {
    text.replace('\n', "\n    ")
}

/// Checks a suite run and reports it on stderr (which the test harness does not capture, so
/// the scores show in CI logs); panics with every problem when the run fails.
pub fn finish(suite: &str, results: &[CaseResult]) {
    let path = crate::known_failures_path();
    let known = KnownFailures::load(&path).unwrap_or_else(|error| panic!("{error}"));
    if std::env::var_os("UPDATE_KNOWN_FAILURES").is_some() {
        known
            .updated(suite, results)
            .save(&path)
            .unwrap_or_else(|error| panic!("{error}"));
        report(&[format!("{suite}: rewrote {}", path.display())]);
        return;
    }
    conclude(&known, suite, suite, results);
}

/// Checks the results of running `suite`'s cases another way (`runner` says how, e.g.
/// `through the API`) against the same list, which it never rewrites: each case must fail
/// exactly when it is listed, as it must for the suite's own runner. Reports as [`finish`]
/// does, with the runner in the score line.
pub fn confirm(suite: &str, runner: &str, results: &[CaseResult]) {
    let known = KnownFailures::load(&crate::known_failures_path())
        .unwrap_or_else(|error| panic!("{error}"));
    conclude(&known, suite, &format!("{suite} {runner}"), results);
}

/// Checks a run against the list, reports it under `label` and panics with every problem.
fn conclude(known: &KnownFailures, suite: &str, label: &str, results: &[CaseResult]) {
    let verbose = std::env::var_os("CONFORMANCE_VERBOSE").is_some();
    let verdict = known.check(suite, results, verbose);
    let mut lines = vec![format!("{label} ({} cases)", results.len())];
    lines.extend(verdict.problems.iter().cloned());
    lines.extend(verdict.summary.iter().cloned());
    lines.push(verdict.score(label));
    report(&lines);
    assert!(
        verdict.problems.is_empty(),
        "{label}: {} conformance problem(s), listed above",
        verdict.problems.len()
    );
}

/// Writes lines to stderr directly, bypassing the test harness's capture.
pub fn report(lines: &[String]) {
    let mut stderr = std::io::stderr().lock();
    for line in lines {
        let _ = writeln!(stderr, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(id: &str, failure: Option<&str>) -> CaseResult {
        CaseResult {
            id: id.into(),
            feature: id.split('/').nth(1).unwrap_or("").into(),
            failure: failure.map(String::from),
            default_reason: "new".into(),
        }
    }

    #[test]
    fn the_list_only_shrinks() {
        let known = KnownFailures::parse("# comment\n\ns/f/listed  # why\ns/f/fixed  # old\ns/f/gone  # old\nother/f/x  # kept\n");
        let results = [
            res("s/f/listed", Some("boom")),
            res("s/f/fixed", None),
            res("s/f/new", Some("bang")),
            res("s/g/ok", None),
        ];
        let verdict = known.check("s", &results, false);
        assert_eq!(verdict.problems.len(), 3, "{:?}", verdict.problems);
        assert!(verdict.problems[0].contains("s/f/fixed"));
        assert!(verdict.problems[1].contains("s/f/new"));
        assert!(verdict.problems[2].contains("s/f/gone"));
        assert_eq!(verdict.summary, ["f: 1/3", "g: 1/1"]);
        assert_eq!(verdict.score("s"), "s: 2 passed, 2 failed (1 known)");
        let updated = known.updated("s", &results);
        let ids: Vec<&String> = updated.entries.keys().collect();
        assert_eq!(ids, ["other/f/x", "s/f/listed", "s/f/new"]);
        assert_eq!(updated.entries["s/f/listed"], "why");
        assert_eq!(updated.entries["s/f/new"], "new");
    }
}
