//! One cluster, one truth: every node's copy of the resources (the [`Registry`]) follows
//! what any node writes, when several servers share one store (PostgreSQL).
//!
//! A node keeps the resources in memory, so that StartExecution resolves its target with no
//! store round trip. On a shared store three things keep that copy true:
//! - **Announcements.** The store reports each committed resource write, by any node, with
//!   the [`Store::resources_version`] it made ([`Store::watch_resources`]; PostgreSQL's
//!   `LISTEN/NOTIFY`, delivered at commit). [`run`] reads that one key again
//!   ([`Store::resource`]) and applies it, within milliseconds of the commit.
//! - **Catching up.** An operation that must see every write already answered (creates,
//!   updates, deletes, describes and lists: all but [`CATCH_UP_SKIPPED`]) first compares the store's
//!   version with the one the registry reflects, one cheap read, and reads every resource
//!   again when they differ ([`catch_up`]). Creates are therefore visible on every node as
//!   soon as they answered.
//! - **Misses.** A start whose target is unknown here, or an activity task for an activity
//!   unknown here, catches up and looks again before it answers that it does not exist.
//!
//! A start that finds its target here uses it as it is: an update made through another node
//! reaches it with the announcement, moments later. AWS documents the same for
//! UpdateStateMachine ("executions that are started immediately after calling
//! UpdateStateMachine may use the previous state machine definition"). A deletion must not
//! be missed so: a start commits only while its target is still active in the store
//! (`Write::ExpectActive`, see `executions::start`), and one refused catches up.
//!
//! Applying a change does what the node's own operation would have done: compile a new
//! revision, configure execution logs and traces, know or forget an activity (failing the
//! open tasks of a deleted one), and mark a machine whose deletion began elsewhere as
//! deleting, so that this node's executions of it end at their next state transition and
//! the machine goes once the last one, anywhere, has ended (`deletion.rs`).
//!
//! Every change to the registry, a node's own operations' and these alike, happens under
//! its write lock, with the store read under it: changes apply in the order they were read.
//! A store that is not shared has one writer, this server, and none of this runs.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::registry::{Definitions, Registry};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use steppe_store::{Resource, StateMachine, Store};
use tokio::sync::mpsc;

/// The operations that do not catch up before they run (on a shared store); every other
/// operation does, so one added later reads every write already answered unless it is
/// listed here with its reason.
/// - The starts and `GetActivityTask` resolve their target in memory and catch up only when
///   they miss (`executions::resolve_fresh`, `ops::activities`): a start must not pay a store
///   read, and an update made elsewhere may reach it moments later, as AWS documents.
/// - The others read or write executions, tasks and Map Runs, which live in the store (and
///   are routed to their owner), not in the registry; `ValidateStateMachineDefinition` and
///   `TestState` read no resource at all.
pub const CATCH_UP_SKIPPED: &[&str] = &[
    "StartExecution",
    "StartSyncExecution",
    "GetActivityTask",
    "DescribeExecution",
    "StopExecution",
    "GetExecutionHistory",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "DescribeMapRun",
    "ListMapRuns",
    "UpdateMapRun",
    "ValidateStateMachineDefinition",
    "TestState",
];

/// Announced changes not yet applied.
#[derive(Debug)]
pub struct Changes {
    receiver: mpsc::Receiver<(u64, String)>,
    /// Set when an announcement was dropped (the queue was full): read everything again.
    missed: Arc<AtomicBool>,
}

/// Asks a shared store to announce resource writes; `None` for a store that is not shared.
pub fn watch(store: &dyn Store) -> Option<Changes> {
    if !store.shared() {
        return None;
    }
    let (sender, receiver) = mpsc::channel(crate::limits::RESOURCE_CHANGES_QUEUED_MAX);
    let missed = Arc::new(AtomicBool::new(false));
    let dropped = missed.clone();
    store.watch_resources(Arc::new(move |version, key| {
        if sender.try_send((version, key.to_string())).is_err() {
            dropped.store(true, Ordering::Release);
        }
    }));
    Some(Changes { receiver, missed })
}

/// Applies announced changes until the server stops. A change that cannot be read (the
/// database is away) is followed by catching up, tried again until it succeeds.
pub async fn run(app: Arc<App>, mut changes: Changes) {
    while let Some((version, key)) = changes.receiver.recv().await {
        let everything = key.is_empty() || changes.missed.swap(false, Ordering::AcqRel);
        let mut applied = if everything {
            catch_up(&app).await.map(|_| ())
        } else {
            changed(&app, version, &key).await
        };
        while let Err(error) = applied {
            tracing::warn!(error = %error.message, "cannot read the resources other nodes changed; trying again");
            tokio::time::sleep(crate::limits::RESOURCE_RETRY_DELAY).await;
            applied = catch_up(&app).await.map(|_| ());
        }
    }
}

/// Reads every resource again if any node wrote one since the registry was read; answers
/// whether it did. Costs one read of the store's version when nothing changed, and nothing
/// on a store that is not shared.
pub async fn catch_up(app: &App) -> ApiResult<bool> {
    if !app.cluster.shared() {
        return Ok(false);
    }
    let store = app.store.clone();
    let version = blocking(move || store.resources_version()).await?;
    if version == app.registry.read().await.version {
        return Ok(false);
    }
    let mut registry = app.registry.write().await;
    let (store, definitions) = (app.store.clone(), app.definitions.clone());
    let (version, resources) = blocking(move || {
        let version = store.resources_version()?;
        let resources = store.load_resources()?;
        compile(
            &definitions,
            resources.iter().filter_map(|r| r.as_ref().ok()),
        );
        Ok((version, resources))
    })
    .await?;
    let mut stored = HashSet::new();
    let mut deleting = Vec::new();
    for resource in resources {
        match resource {
            Ok(resource) => {
                stored.insert(resource.key());
                deleting.extend(put(app, &mut registry, resource));
            }
            Err(error) => tracing::error!(%error, "a stored resource was skipped"),
        }
    }
    let gone: Vec<String> = (registry.state_machines.keys())
        .chain(registry.versions.keys())
        .chain(registry.aliases.keys())
        .chain(registry.activities.keys())
        .filter(|key| !stored.contains(*key))
        .cloned()
        .collect();
    for key in gone {
        remove(app, &mut registry, &key);
    }
    registry.version = registry.version.max(version);
    drop(registry);
    finish_deletions(app, deleting).await;
    Ok(true)
}

/// Applies the announced write `version` of resource `key`.
async fn changed(app: &App, version: u64, key: &str) -> ApiResult<()> {
    let mut registry = app.registry.write().await;
    if version <= registry.version {
        // Read whole since: the registry has it.
        return Ok(());
    }
    let (store, definitions, read_key) =
        (app.store.clone(), app.definitions.clone(), key.to_string());
    let stored = blocking(move || {
        let stored = store.resource(&read_key)?;
        compile(&definitions, stored.iter());
        Ok(stored)
    })
    .await?;
    let deleting = match stored {
        Some(resource) => put(app, &mut registry, resource),
        None => {
            remove(app, &mut registry, key);
            None
        }
    };
    // Versions are announced in commit order: without a gap, the registry now reflects
    // every write up to this one.
    if version == registry.version + 1 {
        registry.version = version;
    }
    drop(registry);
    finish_deletions(app, deleting.into_iter().collect()).await;
    Ok(())
}

/// Puts a resource read from the store, doing what the operation that wrote it did on its
/// node; answers a machine whose deletion this node learns of.
fn put(app: &App, registry: &mut Registry, resource: Resource) -> Option<StateMachine> {
    let mut deleting = None;
    match &resource {
        Resource::StateMachine(machine) => {
            app.driver.integrations().execution_log.configure(
                &machine.arn,
                &machine.name,
                machine.logging_configuration.as_ref(),
            );
            let deletions = app.driver.deletions();
            if machine.deleting && deletions.deleting(&machine.arn).is_none() {
                deletions.mark(machine);
                deleting = Some(machine.clone());
            }
        }
        Resource::Activity(activity) => app.tasks.activity_created(&activity.arn),
        Resource::Revision(_) | Resource::Version(_) | Resource::Alias(_) => {}
    }
    registry.put(resource);
    deleting
}

/// Removes a resource another node deleted, as its operation did on its node.
fn remove(app: &App, registry: &mut Registry, key: &str) {
    if registry.state_machines.contains_key(key) {
        app.driver.deletions().forget(key);
    }
    if registry.activities.contains_key(key) {
        crate::ops::activity_gone(app, key);
    }
    registry.remove(key);
}

/// Compiles the revisions among `resources` not compiled yet (a definition that no longer
/// compiles is logged, as at startup, and its executions fail to start).
fn compile<'a>(definitions: &Definitions, resources: impl Iterator<Item = &'a Resource>) {
    for resource in resources {
        if let Resource::Revision(revision) = resource {
            if definitions.get(revision).is_none() {
                tracing::warn!(revision = %revision.revision_id, "a stored definition no longer compiles");
            }
        }
    }
}

/// Deletes the machines whose deletion this node just learnt of, if their last execution
/// ended before (on any node): nobody else may look again.
async fn finish_deletions(app: &App, machines: Vec<StateMachine>) {
    for machine in machines {
        if let Err(error) = crate::deletion::finish(app, &machine.arn).await {
            tracing::error!(state_machine_arn = %machine.arn, error = %error.message, "deletion not finished");
        }
    }
}

/// Runs a store read on the blocking pool.
async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, steppe_store::Error> + Send + 'static,
) -> ApiResult<T> {
    crate::cluster::blocking(read)
        .await
        .map_err(|_| ApiError::internal("reading the resources failed"))?
        .map_err(Into::into)
}
