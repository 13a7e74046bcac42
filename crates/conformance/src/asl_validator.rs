//! The asl-validator corpus: definitions labelled valid or invalid by that linter.
//!
//! `valid-*.json` must compile and `invalid-*.json` must be rejected. The linter is not AWS:
//! where AWS's recorded behaviour disagrees with its label, the case is a known failure whose
//! reason says so.

use std::path::Path;

/// One labelled definition.
#[derive(Debug, Clone)]
pub struct Case {
    /// The file name without `.json`, e.g. `invalid-choice-state`.
    pub stem: String,
    /// Whether the linter accepts it.
    pub valid: bool,
    /// The definition text.
    pub text: String,
}

impl Case {
    /// `valid` or `invalid`: the folder-like group the score is counted in.
    pub fn feature(&self) -> &'static str {
        if self.valid {
            "valid"
        } else {
            "invalid"
        }
    }

    /// The case's name in reports and in the known-failures list.
    pub fn id(&self) -> String {
        format!("asl-validator/{}/{}", self.feature(), self.stem)
    }
}

/// Loads the labelled definitions in `dir`, sorted by name.
pub fn load_cases(dir: &Path) -> Result<Vec<Case>, String> {
    let entries = std::fs::read_dir(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let mut cases = Vec::new();
    for path in entries.filter_map(|entry| entry.ok().map(|entry| entry.path())) {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let valid = if stem.starts_with("valid-") {
            true
        } else if stem.starts_with("invalid-") {
            false
        } else {
            continue;
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        cases.push(Case {
            stem: stem.to_string(),
            valid,
            text,
        });
    }
    cases.sort_by(|a, b| a.stem.cmp(&b.stem));
    Ok(cases)
}

/// Compiles the case; the error says how steppe's answer differs from the label.
pub fn run(case: &Case) -> Result<(), String> {
    match (steppe_asl::compile(&case.text), case.valid) {
        (Ok(_), true) | (Err(_), false) => Ok(()),
        (Ok(_), false) => Err("accepted, but the linter rejects it".to_string()),
        (Err(diagnostics), true) => {
            let messages: Vec<String> = diagnostics
                .iter()
                .map(|diagnostic| diagnostic.to_string())
                .collect();
            Err(format!(
                "rejected: {}",
                crate::compare::shorten(&messages.join("; "))
            ))
        }
    }
}
