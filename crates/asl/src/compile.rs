//! Compiles a definition's JSON into a [`Definition`], reporting every problem at once.
//!
//! Compilation runs in two passes. The first walks every `States` block (the machine's own,
//! each Parallel branch, each Map item processor) and gives each state its [`StateId`], so
//! that the second pass, which compiles the states' fields, can resolve `Next`, `Default`
//! and `Catch` targets to ids. Graph checks (unreachable states, a block with no end) run
//! last, per block. Diagnostics use AWS's codes, wording and JSON-pointer locations.

mod fields;
mod map;
mod state;

use map::refuse;

use crate::definition::{
    Block, BlockId, Definition, Kind, QueryLanguage, State, StateId, Transition,
};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::limits;
use fields::Obj;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// Compiles a definition from its JSON text.
pub fn compile(text: &str) -> Result<Definition, Vec<Diagnostic>> {
    let mut diagnostics = Diagnostics::default();
    if text.len() > limits::DEFINITION_BYTES_MAX {
        diagnostics.unlocated(
            Code::SchemaValidationFailed,
            "Definition exceeds the maximum size of 1048576 bytes",
        );
        return Err(diagnostics.items);
    }
    match fields::parse_json(text) {
        Ok(parsed) => {
            for duplicate in parsed.duplicates {
                diagnostics.schema(
                    duplicate.location,
                    format!("Duplicate field '{}'", duplicate.key),
                );
            }
            compile_value_into(&parsed.value, diagnostics)
        }
        Err(message) => {
            diagnostics.unlocated(Code::InvalidJsonDescription, message);
            Err(diagnostics.items)
        }
    }
}

/// Compiles an already parsed definition (duplicate keys can no longer be detected).
pub fn compile_value(value: &Value) -> Result<Definition, Vec<Diagnostic>> {
    compile_value_into(value, Diagnostics::default())
}

fn compile_value_into(
    value: &Value,
    mut diagnostics: Diagnostics,
) -> Result<Definition, Vec<Diagnostic>> {
    let Some(map) = value.as_object() else {
        diagnostics.schema("/", "Definition must be a JSON object");
        return Err(diagnostics.items);
    };
    let mut compiler = Compiler {
        diagnostics,
        states: Vec::new(),
        blocks: Vec::new(),
        names: HashSet::new(),
    };
    let definition = compiler.machine(map);
    if compiler.diagnostics.has_errors() {
        return Err(compiler.diagnostics.items);
    }
    Ok(definition)
}

/// Shared state of one compilation.
struct Compiler {
    diagnostics: Diagnostics,
    states: Vec<Option<State>>,
    blocks: Vec<Block>,
    /// Every state name of the machine: names are unique across nested blocks too.
    names: HashSet<String>,
}

/// What a `States` block's second pass needs to know.
struct BlockScope<'a> {
    id: BlockId,
    /// JSON pointer of the object that holds `StartAt` and `States` ("" for the machine).
    location: String,
    ids: HashMap<&'a str, StateId>,
}

impl Compiler {
    fn machine(&mut self, map: &Map<String, Value>) -> Definition {
        let obj = Obj::new(map, "/".to_string());
        obj.allow_only(
            &mut self.diagnostics,
            &[
                "StartAt",
                "States",
                "Comment",
                "Version",
                "TimeoutSeconds",
                "QueryLanguage",
            ],
        );
        let query_language =
            fields::query_language(&obj, &mut self.diagnostics, None).unwrap_or_default();
        if let Some(version) = obj.get("Version") {
            if version != "1.0" {
                self.diagnostics
                    .schema("/Version", "The value of the field 'Version' must be '1.0'");
            }
        }
        let timeout_seconds = obj.integer(
            &mut self.diagnostics,
            "TimeoutSeconds",
            1,
            limits::SECONDS_MAX,
        );
        let comment = obj
            .string(&mut self.diagnostics, "Comment")
            .map(str::to_string);
        self.block(map, String::new(), None, query_language, query_language);
        let states = std::mem::take(&mut self.states);
        Definition {
            comment,
            timeout_seconds,
            query_language,
            states: states
                .into_iter()
                .map(|state| state.expect("every allocated state is compiled"))
                .collect(),
            blocks: std::mem::take(&mut self.blocks),
        }
    }

    /// Compiles one `States` block and everything nested in it; returns its id.
    fn block(
        &mut self,
        map: &Map<String, Value>,
        location: String,
        owner: Option<StateId>,
        language: QueryLanguage,
        machine_language: QueryLanguage,
    ) -> BlockId {
        let root_location = if location.is_empty() {
            "/".to_string()
        } else {
            location.clone()
        };
        let obj = Obj::new(map, root_location.clone());
        obj.require(&mut self.diagnostics, &["StartAt", "States"]);
        let id = BlockId(self.blocks.len() as u32);
        self.blocks.push(Block {
            start_at: StateId(u32::MAX),
            owner,
            query_language: language,
        });
        let empty = Map::new();
        let states = match map.get("States") {
            Some(Value::Object(states)) => states,
            Some(_) => {
                self.diagnostics.schema(
                    format!("{location}/States"),
                    "The field 'States' must be an object",
                );
                &empty
            }
            None => &empty,
        };
        let mut scope = BlockScope {
            id,
            location,
            ids: HashMap::new(),
        };
        for name in states.keys() {
            self.allocate(&mut scope, name);
        }
        for (name, value) in states {
            let state_id = scope.ids[name.as_str()];
            let state = self.state(&scope, name, value, machine_language);
            self.states[state_id.0 as usize] = Some(state);
        }
        let start_at = match obj.string(&mut self.diagnostics, "StartAt") {
            Some(name) => scope.ids.get(name).copied().or_else(|| {
                self.diagnostics.error(
                    Code::MissingTransitionTarget,
                    format!("{}/StartAt", scope.location),
                    format!("Missing 'Next' target: {name}"),
                );
                None
            }),
            None => None,
        };
        if let Some(start_at) = start_at {
            self.blocks[id.0 as usize].start_at = start_at;
            self.check_graph(&scope, states, start_at);
        } else if let Some(&first) = scope.ids.values().next() {
            self.blocks[id.0 as usize].start_at = first;
        }
        id
    }

    fn allocate<'a>(&mut self, scope: &mut BlockScope<'a>, name: &'a str) {
        let location = format!(
            "{}/States/{}",
            scope.location,
            crate::template::escape_pointer(name)
        );
        if name.is_empty() || name.chars().count() > limits::STATE_NAME_CHARS_MAX {
            self.diagnostics.schema(
                &location,
                "State names must be between 1 and 80 characters long",
            );
        }
        if !self.names.insert(name.to_string()) {
            self.diagnostics.error(
                Code::DuplicateStateName,
                &location,
                format!("Duplicate State name: {name}"),
            );
        }
        let id = StateId(self.states.len() as u32);
        self.states.push(None);
        scope.ids.insert(name, id);
    }

    /// Reachability from `StartAt` and the presence of an end, as AWS checks them.
    fn check_graph(
        &mut self,
        scope: &BlockScope<'_>,
        states: &Map<String, Value>,
        start_at: StateId,
    ) {
        let ids: Vec<StateId> = states.keys().map(|name| scope.ids[name.as_str()]).collect();
        let has_end = ids.iter().any(|&id| {
            self.state_ref(id)
                .is_some_and(|state| state.transition == Transition::End)
        });
        if !has_end {
            self.diagnostics
                .unlocated(Code::MissingEndState, "Workflow has no terminal state");
            return;
        }
        let mut reached = HashSet::from([start_at]);
        let mut pending = vec![start_at];
        while let Some(id) = pending.pop() {
            let Some(state) = self.state_ref(id) else {
                continue;
            };
            for target in successors(state) {
                if reached.insert(target) {
                    pending.push(target);
                }
            }
        }
        for (name, id) in states.keys().zip(ids) {
            if !reached.contains(&id) {
                self.diagnostics.error(
                    Code::MissingTransitionTarget,
                    format!(
                        "{}/States/{}",
                        scope.location,
                        crate::template::escape_pointer(name)
                    ),
                    format!("State \"{name}\" is not reachable."),
                );
            }
        }
    }

    fn state_ref(&self, id: StateId) -> Option<&State> {
        self.states[id.0 as usize].as_ref()
    }
}

/// Every state a state can transition to directly.
fn successors(state: &State) -> Vec<StateId> {
    let mut targets: Vec<StateId> = state.catch.iter().map(|catcher| catcher.next).collect();
    if let Transition::Next(next) = state.transition {
        targets.push(next);
    }
    if let Kind::Choice(choice) = &state.kind {
        targets.extend(choice.rules.iter().map(|rule| rule.next));
        targets.extend(choice.default);
    }
    targets
}
