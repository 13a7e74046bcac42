//! Activities and task tokens: CreateActivity, DescribeActivity, ListActivities,
//! DeleteActivity, GetActivityTask, SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat.

use crate::app::App;
use crate::arn::{self, Arn};
use crate::error::{ApiError, ApiResult};
use crate::tasks::{Lookup, OpenTask};
use crate::wire::{self, Request};
use serde_json::{json, Value};
use std::time::Duration;
use steppe_engine::Input;
use steppe_store::{Activity, Resource, Write};

/// How long `GetActivityTask` waits for a task (AWS: 60 s).
pub const POLL_SECONDS_MAX: u64 = 60;

pub async fn create(app: &App, request: &Request) -> ApiResult<Value> {
    let name = request.required_len("name", 1, 80)?;
    arn::check_name(name)?;
    let tags = super::tags::parse_tags(request)?;
    let encryption = request.object("encryptionConfiguration")?.cloned();
    let activity_arn = request.arns.activity(name);
    let mut registry = app.registry.write().await;
    // Idempotent by name: a repeat answers with the existing activity (tags ignored).
    if let Some(existing) = registry.activities.get(&activity_arn) {
        return Ok(json!({
            "activityArn": existing.arn,
            "creationDate": wire::timestamp(existing.creation_millis),
        }));
    }
    let activity = Activity {
        arn: activity_arn,
        name: name.to_string(),
        creation_millis: app.now_millis(),
        encryption_configuration: encryption.map(Value::Object),
        tags,
    };
    app.commit(vec![Write::PutResource(Resource::Activity(
        activity.clone(),
    ))])
    .await?;
    let answer = json!({
        "activityArn": activity.arn,
        "creationDate": wire::timestamp(activity.creation_millis),
    });
    app.tasks.activity_created(&activity.arn);
    registry.put(Resource::Activity(activity));
    Ok(answer)
}

pub async fn describe(app: &App, request: &Request) -> ApiResult<Value> {
    let activity_arn = activity_arn(request)?;
    let registry = app.registry.read().await;
    let activity = registry
        .activities
        .get(activity_arn)
        .filter(|_| request.arns.owns(activity_arn))
        .ok_or_else(|| activity_does_not_exist(activity_arn))?;
    let mut answer = json!({
        "activityArn": activity.arn,
        "name": activity.name,
        "creationDate": wire::timestamp(activity.creation_millis),
    });
    if let Some(encryption) = &activity.encryption_configuration {
        answer["encryptionConfiguration"] = encryption.clone();
    }
    Ok(answer)
}

pub async fn list(app: &App, request: &Request) -> ApiResult<Value> {
    let limit = request.max_results(1000, 100)?;
    let offset = request.offset_token()?;
    let registry = app.registry.read().await;
    let mut activities: Vec<&Activity> =
        crate::registry::in_scope(&registry.activities, &request.arns).collect();
    activities.sort_by(|a, b| a.name.cmp(&b.name));
    let items: Vec<Value> = activities
        .iter()
        .map(|activity| {
            json!({
                "activityArn": activity.arn,
                "name": activity.name,
                "creationDate": wire::timestamp(activity.creation_millis),
            })
        })
        .collect();
    let (page, next) = wire::page(&items, offset, limit);
    let mut answer = json!({ "activities": page });
    if let Some(next) = next {
        answer["nextToken"] = json!(next);
    }
    Ok(answer)
}

pub async fn delete(app: &App, request: &Request) -> ApiResult<Value> {
    let activity_arn = activity_arn(request)?;
    let mut registry = app.registry.write().await;
    if registry.activities.contains_key(activity_arn) && request.arns.owns(activity_arn) {
        app.commit(vec![Write::DeleteResource(activity_arn.to_string())])
            .await?;
        registry.remove(activity_arn);
        gone(app, activity_arn);
    }
    Ok(json!({}))
}

/// An activity was deleted (here or by another node): its tasks open here fail, queued or
/// taken, as nobody can answer them any more.
pub fn gone(app: &App, activity_arn: &str) {
    for task in app.tasks.activity_deleted(activity_arn) {
        let failed = crate::driver::activity_does_not_exist(activity_arn);
        app.driver
            .deliver_task_input(task.execution_id, failed.into_input(task.record.task_id));
    }
}

/// Long-polls an activity's queue; each task goes to exactly one caller.
pub async fn get_task(app: &App, request: &Request) -> ApiResult<Value> {
    let activity_arn = activity_arn(request)?.to_string();
    let worker_name = request.string_len("workerName", 1, 80)?;
    let known = || async {
        app.registry
            .read()
            .await
            .activities
            .contains_key(&activity_arn)
    };
    // Created through another node moments ago, perhaps: then catching up finds it.
    // Asked again even when catching up read nothing: the node's watcher may have applied
    // the other node's write meanwhile.
    let exists = known().await
        || (app.cluster.shared() && {
            crate::resources::catch_up(app).await?;
            known().await
        });
    if !request.arns.owns(&activity_arn) || !exists {
        return Err(activity_does_not_exist(&activity_arn));
    }
    // Held until this call ends, however it ends: dropping the request's future (the client
    // went away) frees the slot too.
    let _poll = app
        .tasks
        .begin_poll(&activity_arn)
        .ok_or_else(activity_worker_limit_exceeded)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(POLL_SECONDS_MAX);
    if app.cluster.shared() {
        return get_task_shared(app, request, &activity_arn, worker_name, deadline).await;
    }
    let notify = app.tasks.notify(&activity_arn);
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(task) = app.tasks.take(&activity_arn) {
            if let Some(answer) = hand_out(app, task, worker_name).await? {
                return Ok(answer);
            }
            continue;
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {
                // A wake-up may have raced the deadline: look once more.
                if let Some(task) = app.tasks.take(&activity_arn) {
                    if let Some(answer) = hand_out(app, task, worker_name).await? {
                        return Ok(answer);
                    }
                }
                return Ok(json!({}));
            }
        }
    }
}

/// How long a task claimed from a shared store is kept from other pollers: its start must
/// commit meanwhile, or it is offered again (the claiming node died, or its owner did).
pub const ACTIVITY_CLAIM: Duration = Duration::from_secs(30);

/// How often a poll on a shared store looks for tasks without being woken (notifications
/// are not promised while the database is away).
pub const SHARED_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// `GetActivityTask` on a node of a cluster: tasks wait in the store, where any node's
/// poller claims one (each goes to one poller); the node that runs its execution starts it,
/// so a task of another node's execution is handed out through that node (`cluster.rs`).
async fn get_task_shared(
    app: &App,
    request: &Request,
    activity_arn: &str,
    worker_name: Option<&str>,
    deadline: tokio::time::Instant,
) -> ApiResult<Value> {
    if let Some((execution_id, task_id)) = request.claimed {
        // Another node claimed this task for its poller; this node runs its execution.
        let answer = match app.tasks.take_task(execution_id, task_id, activity_arn) {
            Some(task) => hand_out(app, task, worker_name).await?,
            None => None,
        };
        return Ok(answer.unwrap_or_else(|| json!({})));
    }
    let notify = app.tasks.notify(activity_arn);
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (store, claimed_arn) = (app.store.clone(), activity_arn.to_string());
        let claimed = crate::cluster::blocking(move || {
            let Some((execution_id, task_id)) =
                store.claim_activity_task(&claimed_arn, ACTIVITY_CLAIM)?
            else {
                return Ok(None);
            };
            Ok::<_, steppe_store::Error>(Some((execution_id, task_id, store.owner(execution_id)?)))
        })
        .await
        .map_err(|_| ApiError::internal("claiming an activity task failed"))??;
        if let Some((execution_id, task_id, owner)) = claimed {
            let answer = match owner {
                steppe_store::Owner::Local => {
                    match app.tasks.take_task(execution_id, task_id, activity_arn) {
                        Some(task) => hand_out(app, task, worker_name).await?,
                        None => None,
                    }
                }
                steppe_store::Owner::Remote(node) => {
                    let original = request.original.as_deref().ok_or_else(|| {
                        ApiError::internal("a poll that did not come over HTTP cannot be forwarded")
                    })?;
                    let relayed = app
                        .cluster
                        .forward(&node, original, Some((execution_id, task_id)))
                        .await?;
                    relayed_task(relayed)?
                }
                // Its node stopped; once another takes it over, the claim lapses and any
                // poller gets it.
                steppe_store::Owner::Orphaned => None,
            };
            if let Some(answer) = answer {
                return Ok(answer);
            }
            continue;
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep(SHARED_POLL_INTERVAL) => {}
            () = tokio::time::sleep_until(deadline) => return Ok(json!({})),
        }
    }
}

/// The task another node handed out for a forwarded poll: `None` if it had none (the task
/// ended meanwhile).
fn relayed_task(relayed: crate::cluster::Relayed) -> ApiResult<Option<Value>> {
    let answer: Value = serde_json::from_slice(&relayed.body).map_err(|error| {
        ApiError::internal(format!("a node answered a poll with bad JSON: {error}"))
    })?;
    if relayed.status != 200 {
        return Err(ApiError::node_moved());
    }
    Ok(answer.get("taskToken").is_some().then_some(answer))
}

/// Starts a taken task (committed before the worker hears of it); `None` when its
/// execution has ended meanwhile.
///
/// The start and its undoing run in a task of their own: a poll dropped meanwhile (its
/// client went away) still puts back a task whose start failed. A task whose start was
/// committed is the worker's even if the worker never hears of it, as on AWS ("If a
/// taskToken is dropped while communicating with an activity worker", AWS's developer
/// guide); its timeouts end it.
async fn hand_out(
    app: &App,
    task: OpenTask,
    worker_name: Option<&str>,
) -> ApiResult<Option<Value>> {
    let task_id = task.record.task_id;
    let execution_id = task.execution_id;
    let started = Input::TaskStarted {
        task_id,
        worker_name: worker_name.map(str::to_string),
    };
    let driver = app.driver.clone();
    let tasks = app.tasks.clone();
    let started = tokio::spawn(async move {
        let started = driver.deliver_and_wait(execution_id, started).await;
        if started.is_err() {
            tasks.requeue(execution_id, task_id);
        }
        started
    })
    .await
    .map_err(|error| ApiError::internal(format!("the task could not be started: {error}")))??;
    if !started.applied {
        return Ok(None);
    }
    Ok(Some(json!({
        "taskToken": task.record.task_token,
        "input": task.record.parameters.to_string(),
    })))
}

pub async fn send_success(app: &App, request: &Request) -> ApiResult<Value> {
    let token = request.required_len("taskToken", 1, 2048)?;
    let output = request.required_len("output", 0, 262_144)?;
    let output: Value = serde_json::from_str(output)
        .map_err(|error| ApiError::new("InvalidOutput", format!("Invalid Output: '{error}'")))?;
    let task = claim(app, request, token)?;
    let task_id = task.record.task_id;
    report(app, task, Input::TaskSucceeded { task_id, output }).await
}

pub async fn send_failure(app: &App, request: &Request) -> ApiResult<Value> {
    let token = request.required_len("taskToken", 1, 2048)?;
    let error = request.string_len("error", 0, 256)?.unwrap_or_default();
    let cause = request.string_len("cause", 0, 32_768)?.unwrap_or_default();
    let task = claim(app, request, token)?;
    let task_id = task.record.task_id;
    let input = Input::TaskFailed {
        task_id,
        error: error.to_string(),
        cause: cause.to_string(),
    };
    report(app, task, input).await
}

pub async fn send_heartbeat(app: &App, request: &Request) -> ApiResult<Value> {
    let token = request.required_len("taskToken", 1, 2048)?;
    let task = match app.tasks.lookup(token) {
        Lookup::Open(task) if request.arns.owns(&task.execution_arn) => *task,
        Lookup::Closed => return Err(closed_here(app, token)),
        Lookup::Open(_) => return Err(invalid_task_token()),
        Lookup::Unknown => return Err(unknown_here(app, request, token)),
    };
    let task_id = task.record.task_id;
    app.driver
        .deliver_and_wait(task.execution_id, Input::TaskHeartbeat { task_id })
        .await?;
    Ok(json!({}))
}

/// Claims the task a token names. A token of another account's or region's execution is
/// not known here, as on AWS, where each region keeps its own.
fn claim(app: &App, request: &Request, token: &str) -> ApiResult<OpenTask> {
    if let Lookup::Open(task) = app.tasks.lookup(token) {
        if !request.arns.owns(&task.execution_arn) {
            return Err(invalid_task_token());
        }
    }
    match app.tasks.claim(token) {
        Lookup::Open(task) => Ok(*task),
        Lookup::Closed => Err(closed_here(app, token)),
        Lookup::Unknown => Err(unknown_here(app, request, token)),
    }
}

/// The answer to a token this node knows as closed: `TaskTimedOut`, as on AWS. On a cluster
/// this node's memory is not the last word: it closes the tasks of an execution it finds
/// another node took over (it was paused or cut off past its lease), while a request routed
/// to it before may still arrive. A task the store knows as open is answered 503
/// `ServiceUnavailable`, which SDKs retry, routed then to its owner (found by `steppe-sim
/// --nodes 3`, seed 31).
fn closed_here(app: &App, token: &str) -> ApiError {
    if !app.cluster.shared() {
        return task_timed_out();
    }
    match app.store.task_by_token(token) {
        Ok(Some((_, true))) => ApiError::node_moved(),
        Ok(_) => task_timed_out(),
        Err(error) => error.into(),
    }
}

/// The answer to a token this node does not know: the store may know it as the token of a
/// task that closed (before a restart, on another node of a cluster, or before this node
/// took its execution over), which AWS answers with `TaskTimedOut`. On a cluster it may
/// also know it as a task still open that another node runs, or that this node is taking
/// over at this moment (the request was routed here just before the execution moved, or to
/// this node's address while it restarted): 503 `ServiceUnavailable`, which SDKs retry,
/// rather than `InvalidToken`, which they do not (found by `steppe-sim --nodes 3`).
fn unknown_here(app: &App, request: &Request, token: &str) -> ApiError {
    let known = || -> Result<Option<(bool, bool)>, steppe_store::Error> {
        let Some((execution_id, open)) = app.store.task_by_token(token)? else {
            return Ok(None);
        };
        let ours =
            (app.store.execution(execution_id)?).is_some_and(|row| request.arns.owns(&row.arn));
        Ok(ours.then_some((open, app.cluster.shared())))
    };
    match known() {
        Ok(Some((false, _))) => task_timed_out(),
        Ok(Some((true, true))) => ApiError::node_moved(),
        Ok(Some((true, false)) | None) => invalid_task_token(),
        Err(error) => error.into(),
    }
}

/// Applies a result. An activity task nobody took yet (answered from the console) starts
/// first, as if a worker had taken it. An activity task's latency is recorded once its result
/// is committed.
async fn report(app: &App, task: OpenTask, input: Input) -> ApiResult<Value> {
    let execution_id = task.execution_id;
    if task.activity_arn().is_some() && !task.record.started {
        let task_id = task.record.task_id;
        if let Err(error) = app
            .driver
            .deliver_and_wait(
                execution_id,
                Input::TaskStarted {
                    task_id,
                    worker_name: None,
                },
            )
            .await
        {
            app.tasks.unclaim(task);
            return Err(error.into());
        }
    }
    match app.driver.deliver_and_wait(execution_id, input).await {
        Ok(_) => {
            if task.activity_arn().is_some() {
                // An activity task's latency: from its scheduling until its result committed.
                let millis = app.now_millis() - task.record.scheduled_millis;
                let elapsed = std::time::Duration::from_millis(millis.max(0) as u64);
                app.metrics.task(&task.record.resource, elapsed);
            }
            Ok(json!({}))
        }
        Err(error) => {
            app.tasks.unclaim(task);
            Err(error.into())
        }
    }
}

fn activity_arn(request: &Request) -> ApiResult<&str> {
    let activity_arn = request.required_len("activityArn", 1, 256)?;
    match arn::parse(activity_arn)? {
        Arn::Activity => Ok(activity_arn),
        _ => Err(ApiError::invalid_arn(activity_arn)),
    }
}

fn activity_does_not_exist(activity_arn: &str) -> ApiError {
    ApiError::new(
        "ActivityDoesNotExist",
        format!("Activity Does Not Exist: '{activity_arn}'"),
    )
}

/// AWS's answer once [`crate::tasks::POLLS_PER_ACTIVITY_MAX`] calls are open for the
/// activity, with the message AWS's quotas page quotes for that quota.
fn activity_worker_limit_exceeded() -> ApiError {
    ApiError::new(
        "ActivityWorkerLimitExceeded",
        "The maximum number of workers concurrently polling for activity tasks has been reached.",
    )
}

fn task_timed_out() -> ApiError {
    ApiError::new(
        "TaskTimedOut",
        "Task Timed Out: 'Provided task does not exist anymore'",
    )
}

fn invalid_task_token() -> ApiError {
    ApiError::new("InvalidToken", "Invalid Token: 'Invalid token'")
}
