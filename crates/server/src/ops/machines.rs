//! CreateStateMachine, DescribeStateMachine, UpdateStateMachine, DeleteStateMachine,
//! ListStateMachines and DescribeStateMachineForExecution.

use crate::app::App;
use crate::arn::{self, Arn};
use crate::deletion;
use crate::error::{ApiError, ApiResult};
use crate::wire::{self, Request};
use serde_json::{json, Value};
use steppe_asl::diagnostic::{invalid_definition_message, Code, Diagnostic, Severity};
use steppe_store::{Resource, Revision, StateMachine, StateMachineType, Version, Write};

/// AWS's `Definition` length limit.
const DEFINITION_CHARS_MAX: usize = 1_048_576;

pub async fn create(app: &App, request: &Request) -> ApiResult<Value> {
    let name = request.required_len("name", 1, 80)?;
    let definition = request.required_len("definition", 1, DEFINITION_CHARS_MAX)?;
    let role_arn = request.required_len("roleArn", 1, 256)?;
    let machine_type = machine_type(request)?;
    arn::check_name(name)?;
    let logging = logging_configuration(request)?;
    let tracing = request
        .object("tracingConfiguration")?
        .cloned()
        .map(Value::Object);
    let encryption = request
        .object("encryptionConfiguration")?
        .cloned()
        .map(Value::Object);
    let tags = super::tags::parse_tags(request)?;
    let publish = request.boolean("publish")?.unwrap_or(false);
    let version_description = version_description(request, publish)?;
    let compiled = compile(definition, machine_type)?;
    if let Some(logging) = &logging {
        execution_log(app).check_destination(logging).await?;
    }

    let mut registry = app.registry.write().await;
    let arn = request.arns.state_machine(name);
    if let Some(existing) = registry.state_machines.get(&arn) {
        if existing.deleting {
            return Err(ApiError::state_machine_deleting(&arn));
        }
        let revision = registry.revision(&existing.revision_id)?;
        let same = revision.definition == definition
            && existing.machine_type == machine_type
            && existing.logging_configuration == logging
            && existing.tracing_configuration == tracing
            && existing.encryption_configuration == encryption
            && !publish;
        if !same {
            return Err(ApiError::new(
                "StateMachineAlreadyExists",
                format!("State Machine Already Exists: '{arn}'"),
            ));
        }
        return Ok(json!({
            "stateMachineArn": arn,
            "creationDate": wire::timestamp(existing.creation_millis),
        }));
    }
    let now = app.now_millis();
    let revision = Revision {
        revision_id: app.uuid(),
        state_machine_arn: arn.clone(),
        definition: definition.to_string(),
        role_arn: role_arn.to_string(),
        creation_millis: now,
    };
    let mut machine = StateMachine {
        arn: arn.clone(),
        name: name.to_string(),
        machine_type,
        revision_id: revision.revision_id.clone(),
        creation_millis: now,
        logging_configuration: logging,
        tracing_configuration: tracing,
        encryption_configuration: encryption,
        tags,
        next_version: 1,
        deleting: false,
    };
    let mut writes = vec![Write::PutResource(Resource::Revision(revision.clone()))];
    let version = publish.then(|| publish_version(&mut machine, version_description, now));
    writes.push(Write::PutResource(Resource::StateMachine(machine.clone())));
    if let Some(version) = &version {
        writes.push(Write::PutResource(Resource::Version(version.clone())));
    }
    app.commit(writes).await?;
    app.definitions.insert(revision.clone(), compiled);
    registry.put(Resource::Revision(revision));
    configure_execution_log(app, &machine);
    registry.put(Resource::StateMachine(machine));
    let mut response = json!({"stateMachineArn": arn, "creationDate": wire::timestamp(now)});
    if let Some(version) = version {
        response["stateMachineVersionArn"] = json!(version.arn);
        registry.put(Resource::Version(version));
    }
    Ok(response)
}

pub async fn describe(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("stateMachineArn", 1, 256)?;
    let Arn::StateMachine { qualifier, .. } = arn::parse(arn)? else {
        return Err(ApiError::invalid_arn(arn));
    };
    let metadata_only = super::executions::included_data_metadata_only(request)?;
    if !request.arns.owns(arn) {
        return Err(ApiError::state_machine_does_not_exist(arn));
    }
    let registry = app.registry.read().await;
    if qualifier.is_some() {
        let version = registry
            .versions
            .get(arn)
            .ok_or_else(|| ApiError::state_machine_does_not_exist(arn))?;
        let machine = registry.machine(&version.state_machine_arn)?;
        let revision = registry.revision(&version.revision_id)?;
        let mut description = describe_machine(machine, revision, metadata_only);
        description["stateMachineArn"] = json!(version.arn);
        description["creationDate"] = wire::timestamp(version.creation_millis);
        if let Some(text) = &version.description {
            description["description"] = json!(text);
        }
        return Ok(description);
    }
    let machine = registry.machine(arn)?;
    let revision = registry.revision(&machine.revision_id)?;
    Ok(describe_machine(machine, revision, metadata_only))
}

pub async fn update(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("stateMachineArn", 1, 256)?;
    let definition = request.string_len("definition", 1, DEFINITION_CHARS_MAX)?;
    let role_arn = request.string_len("roleArn", 1, 256)?;
    let logging = request.object("loggingConfiguration")?.is_some();
    let tracing = request
        .object("tracingConfiguration")?
        .cloned()
        .map(Value::Object);
    let publish = request.boolean("publish")?.unwrap_or(false);
    let version_description = version_description(request, publish)?;
    match arn::parse(arn)? {
        Arn::StateMachine {
            qualifier: None, ..
        } => {}
        _ => return Err(ApiError::invalid_arn(arn)),
    }
    if definition.is_none() && role_arn.is_none() && !logging && tracing.is_none() {
        return Err(ApiError::new(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    if !request.arns.owns(arn) {
        return Err(ApiError::state_machine_does_not_exist(arn));
    }
    let new_logging = match logging {
        true => Some(logging_configuration(request)?),
        false => None,
    };
    if let Some(Some(configuration)) = &new_logging {
        execution_log(app).check_destination(configuration).await?;
    }
    let mut registry = app.registry.write().await;
    let read = registry.active_machine(arn)?.clone();
    let mut machine = read.clone();
    let current = registry.revision(&machine.revision_id)?.clone();
    let compiled = match definition {
        Some(text) => Some(compile(text, machine.machine_type)?),
        None => None,
    };
    if let Some(configuration) = new_logging {
        machine.logging_configuration = configuration;
    }
    if tracing.is_some() {
        machine.tracing_configuration = tracing;
    }
    let now = app.now_millis();
    let changed_revision = definition.is_some_and(|d| d != current.definition)
        || role_arn.is_some_and(|r| r != current.role_arn);
    let mut writes = Vec::new();
    let mut new_revision = None;
    if changed_revision {
        let revision = Revision {
            revision_id: app.uuid(),
            state_machine_arn: machine.arn.clone(),
            definition: definition.unwrap_or(&current.definition).to_string(),
            role_arn: role_arn.unwrap_or(&current.role_arn).to_string(),
            creation_millis: now,
        };
        machine.revision_id = revision.revision_id.clone();
        writes.push(Write::PutResource(Resource::Revision(revision.clone())));
        new_revision = Some(revision);
    }
    let version = if publish {
        let latest = registry.versions_of(&machine.arn).first().cloned().cloned();
        match latest {
            Some(latest) if latest.revision_id == machine.revision_id => None,
            _ => Some(publish_version(&mut machine, version_description, now)),
        }
    } else {
        None
    };
    writes.push(Write::PutResource(Resource::StateMachine(machine.clone())));
    if let Some(version) = &version {
        writes.push(Write::PutResource(Resource::Version(version.clone())));
    }
    // Written from the registry's copy of the machine: a write another node made meanwhile
    // (an update, a publish) is a conflict, not overwritten.
    app.commit_expecting(
        arn,
        vec![(arn.to_string(), Some(Resource::StateMachine(read)))],
        writes,
    )
    .await?;
    if let Some(revision) = new_revision {
        match compiled {
            Some(compiled) => {
                app.definitions.insert(revision.clone(), compiled);
            }
            None => {
                app.definitions.get(&revision);
            }
        }
        registry.put(Resource::Revision(revision));
    }
    let mut response = json!({
        "updateDate": wire::timestamp(now),
        "revisionId": machine.revision_id,
    });
    if logging {
        configure_execution_log(app, &machine);
    }
    registry.put(Resource::StateMachine(machine));
    if let Some(version) = version {
        response["stateMachineVersionArn"] = json!(version.arn);
        registry.put(Resource::Version(version));
    }
    Ok(response)
}

pub async fn delete(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("stateMachineArn", 1, 256)?;
    match arn::parse(arn)? {
        Arn::StateMachine {
            qualifier: None, ..
        } => {}
        Arn::StateMachine { .. } => {
            return Err(ApiError::new(
                "ValidationException",
                format!("Invalid Arn: 'Qualified ARNs are not supported: {arn}'"),
            ))
        }
        _ => return Err(ApiError::invalid_arn(arn)),
    }
    let mut registry = app.registry.write().await;
    let Some(machine) = registry
        .state_machines
        .get(arn)
        .filter(|_| request.arns.owns(arn))
    else {
        return Ok(json!({}));
    };
    if machine.deleting {
        return Ok(json!({}));
    }
    // Express executions are not stored; AWS lets them run on ("Running executions may emit
    // logs after DeleteStateMachine API is called").
    let waits = machine.machine_type == StateMachineType::Standard
        && deletion::has_running_executions(app, arn)?;
    if !waits {
        let keys = registry.keys_of(arn);
        app.commit(keys.iter().cloned().map(Write::DeleteResource).collect())
            .await?;
        for key in &keys {
            registry.remove(key);
        }
        return Ok(json!({}));
    }
    let machine = StateMachine {
        deleting: true,
        ..machine.clone()
    };
    app.commit(vec![Write::PutResource(Resource::StateMachine(
        machine.clone(),
    ))])
    .await?;
    app.driver.deletions().mark(&machine);
    registry.put(Resource::StateMachine(machine));
    drop(registry);
    // The last execution may have ended before the mark, unseen by the driver's hook.
    deletion::finish(app, arn).await?;
    Ok(json!({}))
}

pub async fn list(app: &App, request: &Request) -> ApiResult<Value> {
    let limit = request.max_results(1000, 100)?;
    let offset = request.offset_token()?;
    let registry = app.registry.read().await;
    let items: Vec<Value> = crate::registry::in_scope(&registry.state_machines, &request.arns)
        .map(|machine| {
            json!({
                "stateMachineArn": machine.arn,
                "name": machine.name,
                "type": machine.machine_type.as_str(),
                "creationDate": wire::timestamp(machine.creation_millis),
            })
        })
        .collect();
    let (page, next) = wire::page(&items, offset, limit);
    let mut response = json!({ "stateMachines": page });
    if let Some(next) = next {
        response["nextToken"] = json!(next);
    }
    Ok(response)
}

pub async fn describe_for_execution(app: &App, request: &Request) -> ApiResult<Value> {
    let execution_arn = request.required_len("executionArn", 1, 256)?;
    let metadata_only = super::executions::included_data_metadata_only(request)?;
    let row = crate::executions::find(app, &request.arns, execution_arn).await?;
    let registry = app.registry.read().await;
    let revision = registry.revision(&row.revision_id)?;
    let name = row
        .state_machine_arn
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let machine = registry.state_machines.get(&row.state_machine_arn);
    let mut response = json!({
        "stateMachineArn": row.state_machine_arn,
        "name": name,
        "definition": definition_text(revision, metadata_only),
        "roleArn": revision.role_arn,
        "updateDate": wire::timestamp(revision.creation_millis),
        "loggingConfiguration": machine
            .and_then(|m| m.logging_configuration.clone())
            .unwrap_or_else(default_logging),
        "tracingConfiguration": machine
            .and_then(|m| m.tracing_configuration.clone())
            .unwrap_or_else(|| json!({"enabled": false})),
        "revisionId": revision.revision_id,
    });
    if let Some(version) = &row.version_arn {
        response["stateMachineVersionArn"] = json!(version);
    }
    if let Some(alias) = &row.alias_arn {
        response["stateMachineAliasArn"] = json!(alias);
    }
    add_variable_references(&mut response, revision);
    Ok(response)
}

/// The definition, or `{}` when only metadata was asked for (AWS: "If called with
/// includedData = METADATA_ONLY, the returned definition will be {}").
fn definition_text(revision: &Revision, metadata_only: bool) -> &str {
    if metadata_only {
        "{}"
    } else {
        &revision.definition
    }
}

/// `variableReferences`: the variables each state reads, for the states that read any.
fn add_variable_references(response: &mut Value, revision: &Revision) {
    let Ok(definition) = serde_json::from_str::<Value>(&revision.definition) else {
        return;
    };
    let references = steppe_asl::references::variable_references(&definition);
    if !references.is_empty() {
        let references: serde_json::Map<String, Value> = references
            .into_iter()
            .map(|(state, variables)| (state, json!(variables)))
            .collect();
        response["variableReferences"] = Value::Object(references);
    }
}

fn describe_machine(machine: &StateMachine, revision: &Revision, metadata_only: bool) -> Value {
    let mut description = json!({
        "stateMachineArn": machine.arn,
        "name": machine.name,
        "status": if machine.deleting { "DELETING" } else { "ACTIVE" },
        "definition": revision.definition,
        "roleArn": revision.role_arn,
        "type": machine.machine_type.as_str(),
        "creationDate": wire::timestamp(machine.creation_millis),
        "loggingConfiguration": machine.logging_configuration.clone().unwrap_or_else(default_logging),
        "tracingConfiguration": machine.tracing_configuration.clone().unwrap_or_else(|| json!({"enabled": false})),
        "revisionId": revision.revision_id,
        "encryptionConfiguration": machine.encryption_configuration.clone().unwrap_or_else(|| json!({"type": "AWS_OWNED_KEY"})),
    });
    description["definition"] = json!(definition_text(revision, metadata_only));
    add_variable_references(&mut description, revision);
    description
}

fn default_logging() -> Value {
    json!({"level": "OFF", "includeExecutionData": false})
}

/// Publishes the machine's current revision as its next version.
pub fn publish_version(
    machine: &mut StateMachine,
    description: Option<String>,
    now: i64,
) -> Version {
    let number = machine.next_version;
    machine.next_version += 1;
    Version {
        arn: format!("{}:{number}", machine.arn),
        state_machine_arn: machine.arn.clone(),
        version: number,
        revision_id: machine.revision_id.clone(),
        description,
        creation_millis: now,
    }
}

/// The request's `type`, STANDARD when absent.
pub fn machine_type(request: &Request) -> ApiResult<StateMachineType> {
    match request.string("type")? {
        None => Ok(StateMachineType::Standard),
        Some(text) => text.parse().map_err(|_| {
            ApiError::validation(
                &format!("'{text}'"),
                "type",
                "Member must satisfy enum value set: [STANDARD, EXPRESS]",
            )
        }),
    }
}

fn version_description(request: &Request, publish: bool) -> ApiResult<Option<String>> {
    let description = request.string_len("versionDescription", 0, 256)?;
    if description.is_some() && !publish {
        return Err(ApiError::new(
            "ValidationException",
            "Version description can only be set when publish is true",
        ));
    }
    Ok(description.map(str::to_string))
}

/// The request's `loggingConfiguration`, validated as AWS validates it, in its stored form.
fn logging_configuration(request: &Request) -> ApiResult<Option<Value>> {
    let Some(config) = request.object("loggingConfiguration")? else {
        return Ok(None);
    };
    Ok(Some(crate::execution_log::parse(config)?.json))
}

fn execution_log(app: &App) -> &crate::execution_log::ExecutionLog {
    &app.driver.integrations().execution_log
}

/// Makes the machine's executions log as its `loggingConfiguration` says from now on.
/// (A deleted machine's entry stays: AWS says "Running executions may emit logs after
/// DeleteStateMachine API is called".)
fn configure_execution_log(app: &App, machine: &StateMachine) {
    execution_log(app).configure(
        &machine.arn,
        &machine.name,
        machine.logging_configuration.as_ref(),
    );
}

/// Compiles a definition for a machine of the given type, or answers `InvalidDefinition`.
pub fn compile(text: &str, machine_type: StateMachineType) -> ApiResult<steppe_asl::Definition> {
    let definition = steppe_asl::compile(text).map_err(|diagnostics| {
        ApiError::new(
            "InvalidDefinition",
            invalid_definition_message(&diagnostics),
        )
    })?;
    if machine_type == StateMachineType::Express {
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            let diagnostics = express_diagnostics(&value);
            if !diagnostics.is_empty() {
                return Err(ApiError::new(
                    "InvalidDefinition",
                    invalid_definition_message(&diagnostics),
                ));
            }
        }
    }
    Ok(definition)
}

/// What Express machines may not use: `.sync` and `.waitForTaskToken` integrations and
/// activities. (These belong in `steppe-asl`'s validation once it knows the machine type.)
pub fn express_diagnostics(definition: &Value) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    walk_states(definition, "", &mut diagnostics);
    diagnostics
}

fn walk_states(block: &Value, location: &str, diagnostics: &mut Vec<Diagnostic>) {
    let Some(states) = block.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        let here = format!("{location}/States/{name}");
        if let Some(resource) = state.get("Resource").and_then(Value::as_str) {
            let problem = if resource.ends_with(".waitForTaskToken") {
                Some("Express state machine does not support '.waitForTaskToken' service integration ")
            } else if resource.ends_with(".sync") || resource.ends_with(".sync:2") {
                Some("Express state machine does not support '.sync' service integration ")
            } else if resource.contains(":activity:") {
                Some("Express state machine does not support Activity ARN")
            } else {
                None
            };
            if let Some(message) = problem {
                diagnostics.push(Diagnostic {
                    code: Code::SchemaValidationFailed,
                    location: Some(format!("{here}/Resource")),
                    message: message.to_string(),
                    severity: Severity::Error,
                });
            }
        }
        if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
            for (index, branch) in branches.iter().enumerate() {
                walk_states(branch, &format!("{here}/Branches/{index}"), diagnostics);
            }
        }
        for key in ["Iterator", "ItemProcessor"] {
            if let Some(processor) = state.get(key) {
                walk_states(processor, &format!("{here}/{key}"), diagnostics);
            }
        }
    }
}
