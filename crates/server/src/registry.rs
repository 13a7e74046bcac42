//! State machines, their revisions, versions and aliases, held in memory.
//!
//! These are few and small, so the server keeps them all in memory and writes every change
//! through to the store before it is visible. Compiled definitions are cached by revision
//! id in [`Definitions`], shared with the execution driver.

use crate::arn::{self, Arn, Arns};
use crate::error::{ApiError, ApiResult};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use steppe_asl::Definition;
use steppe_store::{Activity, Alias, Resource, Revision, StateMachine, Version};

/// Every state machine, revision, version and alias.
#[derive(Debug, Default)]
pub struct Registry {
    /// State machines by ARN.
    pub state_machines: BTreeMap<String, StateMachine>,
    /// Revisions by id (kept after their machine is deleted: executions refer to them).
    pub revisions: HashMap<String, Revision>,
    /// Versions by ARN.
    pub versions: BTreeMap<String, Version>,
    /// Aliases by ARN.
    pub aliases: BTreeMap<String, Alias>,
    /// Activities by ARN.
    pub activities: BTreeMap<String, Activity>,
    /// The state machines whose tracing is enabled, kept here as machines change.
    pub traced: Arc<crate::traces::TracedMachines>,
    /// The store's `resources_version` these reflect at least (`resources.rs`).
    pub version: u64,
}

/// A revision and its compiled definition.
#[derive(Debug)]
pub struct Compiled {
    /// The revision.
    pub revision: Revision,
    /// Its definition, compiled.
    pub definition: Arc<Definition>,
}

/// Compiled definitions by revision id.
#[derive(Debug, Default)]
pub struct Definitions {
    compiled: Mutex<HashMap<String, Arc<Compiled>>>,
}

impl Definitions {
    /// The compiled revision, compiling it on first use.
    pub fn get(&self, revision: &Revision) -> Option<Arc<Compiled>> {
        if let Some(found) = self.lock().get(&revision.revision_id) {
            return Some(found.clone());
        }
        let definition = steppe_asl::compile(&revision.definition).ok()?;
        let compiled = Arc::new(Compiled {
            revision: revision.clone(),
            definition: Arc::new(definition),
        });
        self.lock()
            .insert(revision.revision_id.clone(), compiled.clone());
        Some(compiled)
    }

    /// A revision compiled before, by id.
    pub fn by_id(&self, revision_id: &str) -> Option<Arc<Compiled>> {
        self.lock().get(revision_id).cloned()
    }

    /// Records a revision whose definition is already compiled.
    pub fn insert(&self, revision: Revision, definition: Definition) -> Arc<Compiled> {
        let compiled = Arc::new(Compiled {
            revision: revision.clone(),
            definition: Arc::new(definition),
        });
        self.lock().insert(revision.revision_id, compiled.clone());
        compiled
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Compiled>>> {
        self.compiled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a `StartExecution` ARN resolves to.
#[derive(Debug, Clone)]
pub struct Target {
    /// The state machine.
    pub machine: StateMachine,
    /// The revision to run.
    pub revision_id: String,
    /// The version, if started through a version or an alias.
    pub version_arn: Option<String>,
    /// The alias, if started through one.
    pub alias_arn: Option<String>,
}

impl Registry {
    /// A registry holding the stored resources, read once the store's resources were at
    /// `version`; one that will not decode is left out with a log line naming it, so that one
    /// bad row never keeps the server from starting.
    pub fn load(resources: Vec<Result<Resource, steppe_store::Error>>, version: u64) -> Registry {
        let mut registry = Registry {
            version,
            ..Registry::default()
        };
        for resource in resources {
            match resource {
                Ok(resource) => registry.put(resource),
                Err(error) => tracing::error!(%error, "a stored resource was skipped at startup"),
            }
        }
        registry
    }

    /// Adds or replaces a resource.
    pub fn put(&mut self, resource: Resource) {
        match resource {
            Resource::StateMachine(machine) => {
                self.traced
                    .set(&machine.arn, machine.tracing_configuration.as_ref());
                self.state_machines.insert(machine.arn.clone(), machine);
            }
            Resource::Revision(revision) => {
                self.revisions
                    .insert(revision.revision_id.clone(), revision);
            }
            Resource::Version(version) => {
                self.versions.insert(version.arn.clone(), version);
            }
            Resource::Alias(alias) => {
                self.aliases.insert(alias.arn.clone(), alias);
            }
            Resource::Activity(activity) => {
                self.activities.insert(activity.arn.clone(), activity);
            }
        }
    }

    /// Removes a resource by its store key.
    pub fn remove(&mut self, key: &str) {
        self.traced.remove(key);
        self.state_machines.remove(key);
        self.versions.remove(key);
        self.aliases.remove(key);
        self.activities.remove(key);
    }

    /// The state machine with an unqualified ARN, or `StateMachineDoesNotExist`.
    pub fn machine(&self, arn: &str) -> ApiResult<&StateMachine> {
        self.state_machines
            .get(arn)
            .ok_or_else(|| ApiError::state_machine_does_not_exist(arn))
    }

    /// The state machine with an unqualified ARN, for an operation that changes it or starts
    /// an execution: `StateMachineDoesNotExist`, or `StateMachineDeleting` once
    /// `DeleteStateMachine` was called.
    pub fn active_machine(&self, arn: &str) -> ApiResult<&StateMachine> {
        let machine = self.machine(arn)?;
        if machine.deleting {
            return Err(ApiError::state_machine_deleting(arn));
        }
        Ok(machine)
    }

    /// A revision by id.
    pub fn revision(&self, revision_id: &str) -> ApiResult<&Revision> {
        self.revisions
            .get(revision_id)
            .ok_or_else(|| ApiError::internal(format!("revision {revision_id} is missing")))
    }

    /// Resolves an unqualified, version or alias ARN; `pick` draws a number in `[0, 1)` to
    /// route an alias between its versions.
    pub fn resolve(&self, target_arn: &str, pick: f64) -> ApiResult<Target> {
        let Arn::StateMachine { name: _, qualifier } = arn::parse(target_arn)? else {
            return Err(ApiError::invalid_arn(target_arn));
        };
        let Some(qualifier) = qualifier else {
            let machine = self.active_machine(target_arn)?;
            return Ok(Target {
                machine: machine.clone(),
                revision_id: machine.revision_id.clone(),
                version_arn: None,
                alias_arn: None,
            });
        };
        let (version_arn, alias_arn) = if qualifier.bytes().all(|b| b.is_ascii_digit()) {
            (target_arn.to_string(), None)
        } else {
            let alias = self
                .aliases
                .get(target_arn)
                .ok_or_else(|| ApiError::state_machine_does_not_exist(target_arn))?;
            (route(&alias.routing, pick), Some(alias.arn.clone()))
        };
        let version = self
            .versions
            .get(&version_arn)
            .ok_or_else(|| ApiError::state_machine_does_not_exist(target_arn))?;
        let machine = self.active_machine(&version.state_machine_arn)?;
        Ok(Target {
            machine: machine.clone(),
            revision_id: version.revision_id.clone(),
            version_arn: Some(version_arn),
            alias_arn,
        })
    }

    /// The store keys of a state machine, its versions and aliases: what deleting it removes.
    pub fn keys_of(&self, state_machine_arn: &str) -> Vec<String> {
        let mut keys = vec![state_machine_arn.to_string()];
        keys.extend(
            self.versions_of(state_machine_arn)
                .iter()
                .map(|v| v.arn.clone()),
        );
        keys.extend(
            self.aliases_of(state_machine_arn)
                .iter()
                .map(|a| a.arn.clone()),
        );
        keys
    }

    /// A state machine's versions, newest first.
    pub fn versions_of(&self, state_machine_arn: &str) -> Vec<&Version> {
        let mut versions: Vec<&Version> = self
            .versions
            .values()
            .filter(|v| v.state_machine_arn == state_machine_arn)
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.version));
        versions
    }

    /// A state machine's aliases, by name.
    pub fn aliases_of(&self, state_machine_arn: &str) -> Vec<&Alias> {
        let mut aliases: Vec<&Alias> = self
            .aliases
            .values()
            .filter(|a| a.state_machine_arn == state_machine_arn)
            .collect();
        aliases.sort_by(|a, b| a.name.cmp(&b.name));
        aliases
    }
}

/// The values of a map keyed by ARN whose ARNs belong to `arns`' account and region, in ARN
/// order: a range of the map, as every ARN of a scope starts with its prefix.
pub fn in_scope<'a, T>(
    by_arn: &'a BTreeMap<String, T>,
    arns: &Arns,
) -> impl Iterator<Item = &'a T> + 'a {
    let prefix = format!("{}:", arns.prefix());
    by_arn
        .range(prefix.clone()..)
        .take_while(move |(arn, _)| arn.starts_with(&prefix))
        .map(|(_, value)| value)
}

/// Picks a version by weight; `pick` is in `[0, 1)`.
fn route(routing: &[(String, u64)], pick: f64) -> String {
    let mut threshold = pick * 100.0;
    for (version_arn, weight) in routing {
        if threshold < *weight as f64 {
            return version_arn.clone();
        }
        threshold -= *weight as f64;
    }
    routing
        .last()
        .map(|(arn, _)| arn.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::route;

    #[test]
    fn routes_by_weight() {
        let routing = vec![("a".to_string(), 30), ("b".to_string(), 70)];
        assert_eq!(route(&routing, 0.0), "a");
        assert_eq!(route(&routing, 0.29), "a");
        assert_eq!(route(&routing, 0.31), "b");
        assert_eq!(route(&routing, 0.999), "b");
    }
}
