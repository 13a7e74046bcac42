//! Versions (PublishStateMachineVersion, ListStateMachineVersions, DeleteStateMachineVersion)
//! and aliases (Create/Describe/Update/Delete/ListStateMachineAliases).

use crate::app::App;
use crate::arn::{self, Arn};
use crate::error::{ApiError, ApiResult};
use crate::registry::Registry;
use crate::wire::{self, Request};
use serde_json::{json, Value};
use steppe_store::{Alias, Resource, Write};

pub async fn publish(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("stateMachineArn", 1, 256)?;
    let revision_id = request.string("revisionId")?;
    let description = request.string_len("description", 0, 256)?;
    unqualified(arn)?;
    if !request.arns.owns(arn) {
        return Err(ApiError::state_machine_does_not_exist(arn));
    }
    let mut registry = app.registry.write().await;
    let read = registry.active_machine(arn)?.clone();
    let mut machine = read.clone();
    if let Some(revision_id) = revision_id {
        if revision_id != machine.revision_id {
            return Err(ApiError::conflict(
                format!(
                    "Failed to publish the State Machine version for revision {revision_id}. The current State Machine revision is {}.",
                    machine.revision_id
                ),
            ));
        }
    }
    if let Some(latest) = registry.versions_of(arn).first() {
        if latest.revision_id == machine.revision_id {
            return Ok(json!({
                "stateMachineVersionArn": latest.arn,
                "creationDate": wire::timestamp(latest.creation_millis),
            }));
        }
    }
    let now = app.now_millis();
    let version =
        super::machines::publish_version(&mut machine, description.map(str::to_string), now);
    // Two publishes through two nodes would both take the machine's next version number.
    app.commit_expecting(
        arn,
        vec![(arn.to_string(), Some(Resource::StateMachine(read)))],
        vec![
            Write::PutResource(Resource::StateMachine(machine.clone())),
            Write::PutResource(Resource::Version(version.clone())),
        ],
    )
    .await?;
    let response = json!({
        "stateMachineVersionArn": version.arn,
        "creationDate": wire::timestamp(now),
    });
    registry.put(Resource::StateMachine(machine));
    registry.put(Resource::Version(version));
    Ok(response)
}

pub async fn list(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("stateMachineArn", 1, 256)?;
    let limit = request.max_results(1000, 100)?;
    let offset = request.offset_token()?;
    unqualified(arn)?;
    if !request.arns.owns(arn) {
        return Err(ApiError::state_machine_does_not_exist(arn));
    }
    let registry = app.registry.read().await;
    registry.machine(arn)?;
    let items: Vec<Value> = registry
        .versions_of(arn)
        .iter()
        .map(|v| {
            json!({
                "stateMachineVersionArn": v.arn,
                "creationDate": wire::timestamp(v.creation_millis),
            })
        })
        .collect();
    Ok(paged("stateMachineVersions", &items, offset, limit))
}

pub async fn delete(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("stateMachineVersionArn", 1, 2000)?;
    version_number(arn)?;
    let mut registry = app.registry.write().await;
    if !registry.versions.contains_key(arn) || !request.arns.owns(arn) {
        return Ok(json!({}));
    }
    let referencing: Vec<String> = registry
        .aliases
        .values()
        .filter(|alias| alias.routing.iter().any(|(version, _)| version == arn))
        .map(|alias| alias.arn.clone())
        .collect();
    if !referencing.is_empty() {
        return Err(ApiError::conflict(
            format!(
                "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                referencing.join(", ")
            ),
        ));
    }
    // Two nodes deleting one version, or one deleting what the other just changed, or an
    // alias another node pointed at it meanwhile (its write expects the version active).
    let read = registry.versions.get(arn).cloned().map(Resource::Version);
    app.commit_expecting(
        arn,
        vec![(arn.to_string(), read)],
        vec![
            Write::ExpectUnaliased {
                version_arn: arn.to_string(),
            },
            Write::DeleteResource(arn.to_string()),
        ],
    )
    .await?;
    registry.remove(arn);
    Ok(json!({}))
}

pub async fn create_alias(app: &App, request: &Request) -> ApiResult<Value> {
    let name = request.required_len("name", 1, 80)?;
    let description = request.string_len("description", 0, 256)?;
    if !arn::valid_alias_name(name) {
        return Err(ApiError::invalid_name(name));
    }
    let routing = routing_configuration(request)?;
    let mut registry = app.registry.write().await;
    let machine_arn = check_routing(&registry, &request.arns, &routing)?;
    let alias_arn = format!("{machine_arn}:{name}");
    if let Some(existing) = registry.aliases.get(&alias_arn) {
        if existing.routing == routing && existing.description.as_deref() == description {
            return Ok(json!({
                "stateMachineAliasArn": existing.arn,
                "creationDate": wire::timestamp(existing.creation_millis),
            }));
        }
        return Err(ApiError::conflict(
            format!("Failed to create alias because an alias with the same name and a different routing configuration already exists: '{alias_arn}'"),
        ));
    }
    let now = app.now_millis();
    let alias = Alias {
        arn: alias_arn.clone(),
        name: name.to_string(),
        state_machine_arn: machine_arn,
        description: description.map(str::to_string),
        routing,
        creation_millis: now,
        update_millis: None,
    };
    commit_alias(app, &alias).await?;
    registry.put(Resource::Alias(alias));
    Ok(json!({"stateMachineAliasArn": alias_arn, "creationDate": wire::timestamp(now)}))
}

pub async fn describe_alias(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("stateMachineAliasArn", 1, 256)?;
    alias_name(arn)?;
    let registry = app.registry.read().await;
    let alias = registry
        .aliases
        .get(arn)
        .filter(|_| request.arns.owns(arn))
        .ok_or_else(|| ApiError::resource_not_found(arn))?;
    let mut response = json!({
        "stateMachineAliasArn": alias.arn,
        "name": alias.name,
        "routingConfiguration": routing_json(&alias.routing),
        "creationDate": wire::timestamp(alias.creation_millis),
    });
    if let Some(description) = &alias.description {
        response["description"] = json!(description);
    }
    if let Some(update) = alias.update_millis {
        response["updateDate"] = wire::timestamp(update);
    }
    Ok(response)
}

pub async fn update_alias(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("stateMachineAliasArn", 1, 256)?;
    let description = request.string_len("description", 0, 256)?;
    alias_name(arn)?;
    let routing = match request.get("routingConfiguration") {
        Some(_) => Some(routing_configuration(request)?),
        None => None,
    };
    if description.is_none() && routing.is_none() {
        return Err(ApiError::new(
            "ValidationException",
            "Either the description or the RoutingConfiguration must be specified",
        ));
    }
    let mut registry = app.registry.write().await;
    let mut alias = registry
        .aliases
        .get(arn)
        .filter(|_| request.arns.owns(arn))
        .ok_or_else(|| ApiError::resource_not_found(arn))?
        .clone();
    registry.active_machine(&alias.state_machine_arn)?;
    if let Some(routing) = routing {
        let machine = check_routing(&registry, &request.arns, &routing)?;
        if machine != alias.state_machine_arn {
            return Err(ApiError::new(
                "ValidationException",
                "Routing configuration must only contain versions of the alias's state machine",
            ));
        }
        alias.routing = routing;
    }
    if let Some(description) = description {
        alias.description = Some(description.to_string());
    }
    let now = app.now_millis();
    alias.update_millis = Some(now);
    commit_alias(app, &alias).await?;
    registry.put(Resource::Alias(alias));
    Ok(json!({"updateDate": wire::timestamp(now)}))
}

/// Commits an alias only while its machine and the versions it routes to are active in the
/// store: another node may be deleting one of them (its deletion then commits first and this
/// answers `ConflictException`, or this commits first and the deletion does not).
async fn commit_alias(app: &App, alias: &Alias) -> ApiResult<()> {
    let mut writes: Vec<Write> = std::iter::once(&alias.state_machine_arn)
        .chain(alias.routing.iter().map(|(version, _)| version))
        .map(|key| Write::ExpectActive { key: key.clone() })
        .collect();
    writes.push(Write::PutResource(Resource::Alias(alias.clone())));
    app.commit_expecting(&alias.arn, Vec::new(), writes).await
}

pub async fn delete_alias(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("stateMachineAliasArn", 1, 256)?;
    alias_name(arn)?;
    let mut registry = app.registry.write().await;
    if !registry.aliases.contains_key(arn) || !request.arns.owns(arn) {
        return Err(ApiError::resource_not_found(arn));
    }
    app.commit(vec![Write::DeleteResource(arn.to_string())])
        .await?;
    registry.remove(arn);
    Ok(json!({}))
}

pub async fn list_aliases(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = request.required_len("stateMachineArn", 1, 256)?;
    let limit = request.max_results(1000, 100)?;
    let offset = request.offset_token()?;
    // A state machine's ARN lists its aliases; a version's, the aliases that route to it.
    let version_arn = match arn::parse(arn)? {
        Arn::StateMachine {
            qualifier: None, ..
        } => None,
        Arn::StateMachine {
            qualifier: Some(qualifier),
            ..
        } if qualifier.parse::<u64>().is_ok() => Some(arn),
        _ => return Err(ApiError::invalid_arn(arn)),
    };
    let registry = app.registry.read().await;
    let machine_arn = match version_arn {
        Some(version_arn) => {
            let version = registry
                .versions
                .get(version_arn)
                .filter(|_| request.arns.owns(version_arn))
                .ok_or_else(|| ApiError::resource_not_found(version_arn))?;
            version.state_machine_arn.clone()
        }
        None if !request.arns.owns(arn) => return Err(ApiError::state_machine_does_not_exist(arn)),
        None => arn.to_string(),
    };
    registry.active_machine(&machine_arn)?;
    let items: Vec<Value> = registry
        .aliases_of(&machine_arn)
        .iter()
        .filter(|alias| {
            version_arn.is_none_or(|version| alias.routing.iter().any(|(to, _)| to == version))
        })
        .map(|a| {
            json!({
                "stateMachineAliasArn": a.arn,
                "creationDate": wire::timestamp(a.creation_millis),
            })
        })
        .collect();
    Ok(paged("stateMachineAliases", &items, offset, limit))
}

fn paged(key: &str, items: &[Value], offset: usize, limit: usize) -> Value {
    let (page, next) = wire::page(items, offset, limit);
    let mut response = json!({ key: page });
    if let Some(next) = next {
        response["nextToken"] = json!(next);
    }
    response
}

fn unqualified(arn: &str) -> ApiResult<()> {
    match arn::parse(arn)? {
        Arn::StateMachine {
            qualifier: None, ..
        } => Ok(()),
        _ => Err(ApiError::invalid_arn(arn)),
    }
}

fn version_number(arn: &str) -> ApiResult<u64> {
    match arn::parse(arn)? {
        Arn::StateMachine {
            qualifier: Some(q), ..
        } => q.parse().map_err(|_| ApiError::invalid_arn(arn)),
        _ => Err(ApiError::invalid_arn(arn)),
    }
}

fn alias_name(arn: &str) -> ApiResult<String> {
    match arn::parse(arn)? {
        Arn::StateMachine {
            qualifier: Some(q), ..
        } if !q.bytes().all(|b| b.is_ascii_digit()) => Ok(q),
        _ => Err(ApiError::invalid_arn(arn)),
    }
}

fn routing_configuration(request: &Request) -> ApiResult<Vec<(String, u64)>> {
    let items = request
        .list("routingConfiguration")?
        .ok_or_else(|| ApiError::missing("routingConfiguration"))?;
    if items.is_empty() || items.len() > 2 {
        return Err(ApiError::validation(
            "",
            "routingConfiguration",
            "Member must have length less than or equal to 2 and greater than or equal to 1",
        ));
    }
    let mut routing = Vec::new();
    for item in items {
        let arn = item
            .get("stateMachineVersionArn")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::missing("routingConfiguration.member.stateMachineVersionArn")
            })?;
        let weight = item
            .get("weight")
            .and_then(Value::as_u64)
            .ok_or_else(|| ApiError::missing("routingConfiguration.member.weight"))?;
        if weight > 100 {
            return Err(ApiError::validation(
                &format!("'{weight}'"),
                "routingConfiguration.member.weight",
                "Member must have value less than or equal to 100",
            ));
        }
        routing.push((arn.to_string(), weight));
    }
    let weights: Vec<String> = routing.iter().map(|(_, w)| w.to_string()).collect();
    if routing.iter().map(|(_, w)| w).sum::<u64>() != 100 {
        return Err(ApiError::new(
            "ValidationException",
            format!(
                "Sum of routing configuration weights must equal 100. Received: [{}]",
                weights.join(", ")
            ),
        ));
    }
    if routing.len() == 2 && routing[0].0 == routing[1].0 {
        let arns: Vec<&str> = routing.iter().map(|(a, _)| a.as_str()).collect();
        return Err(ApiError::new(
            "ValidationException",
            format!(
                "Routing configuration must contain distinct state machine version ARNs. Received: [{}]",
                arns.join(", ")
            ),
        ));
    }
    Ok(routing)
}

/// Checks that every routed version exists (in `arns`' account and region) and all belong to
/// one machine; returns it.
fn check_routing(
    registry: &Registry,
    arns: &crate::arn::Arns,
    routing: &[(String, u64)],
) -> ApiResult<String> {
    let mut machine: Option<String> = None;
    for (arn, _) in routing {
        version_number(arn)?;
        let version = registry
            .versions
            .get(arn)
            .filter(|_| arns.owns(arn))
            .ok_or_else(|| ApiError::resource_not_found(arn))?;
        match &machine {
            Some(m) if *m != version.state_machine_arn => {
                return Err(ApiError::new(
                    "ValidationException",
                    "Routing configuration must only contain versions of the same state machine",
                ))
            }
            _ => machine = Some(version.state_machine_arn.clone()),
        }
    }
    let machine = machine.ok_or_else(|| ApiError::missing("routingConfiguration"))?;
    registry.active_machine(&machine)?;
    Ok(machine)
}

fn routing_json(routing: &[(String, u64)]) -> Value {
    Value::Array(
        routing
            .iter()
            .map(|(arn, weight)| json!({"stateMachineVersionArn": arn, "weight": weight}))
            .collect(),
    )
}
