//! TagResource, UntagResource and ListTagsForResource (state machines carry the tags).

use crate::app::App;
use crate::arn::{self, Arn};
use crate::error::{ApiError, ApiResult};
use crate::wire::Request;
use serde_json::{json, Value};
use steppe_store::{Resource, Write};

/// AWS's limit of tags per resource.
const TAGS_MAX: usize = 50;

/// Reads `tags: [{key, value}]`.
pub fn parse_tags(request: &Request) -> ApiResult<Vec<(String, String)>> {
    let Some(items) = request.list("tags")? else {
        return Ok(Vec::new());
    };
    // Linear however many are sent, and refused as soon as one too many distinct keys is
    // read: 100,000 tags must not cost more than reading them.
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut positions: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for item in items {
        let key = item
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::missing("tags.member.key"))?;
        let value = item.get("value").and_then(Value::as_str).unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(ApiError::validation(
                &format!("'{key}'"),
                "tags.member.key",
                "Member must have length less than or equal to 128 and greater than or equal to 1",
            ));
        }
        if value.chars().count() > 256 {
            return Err(ApiError::validation(
                &format!("'{value}'"),
                "tags.member.value",
                "Member must have length less than or equal to 256",
            ));
        }
        match positions.get(key) {
            Some(&position) => tags[position].1 = value.to_string(),
            None if tags.len() == TAGS_MAX => {
                return Err(too_many_tags(
                    request.string("resourceArn")?.unwrap_or_default(),
                ));
            }
            None => {
                positions.insert(key, tags.len());
                tags.push((key.to_string(), value.to_string()));
            }
        }
    }
    Ok(tags)
}

fn too_many_tags(arn: &str) -> ApiError {
    ApiError::new(
        "TooManyTags",
        format!("Too many tags: a resource may have at most {TAGS_MAX} tags: '{arn}'"),
    )
}

fn set_tag(tags: &mut Vec<(String, String)>, key: &str, value: &str) {
    match tags.iter_mut().find(|(k, _)| k == key) {
        Some(existing) => existing.1 = value.to_string(),
        None => tags.push((key.to_string(), value.to_string())),
    }
}

fn resource_arn(request: &Request) -> ApiResult<&str> {
    let arn = request.required_len("resourceArn", 1, 256)?;
    match arn::parse(arn)? {
        Arn::StateMachine {
            qualifier: None, ..
        }
        | Arn::Activity => Ok(arn),
        _ => Err(ApiError::invalid_arn(arn)),
    }
}

pub async fn tag(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = resource_arn(request)?;
    if request.get("tags").is_none() {
        return Err(ApiError::missing("tags"));
    }
    let new_tags = parse_tags(request)?;
    change_tags(app, request, arn, |tags| {
        for (key, value) in &new_tags {
            set_tag(tags, key, value);
        }
        if tags.len() > TAGS_MAX {
            return Err(too_many_tags(arn));
        }
        Ok(())
    })
    .await
}

pub async fn untag(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = resource_arn(request)?;
    let keys: Vec<String> = request
        .list("tagKeys")?
        .ok_or_else(|| ApiError::missing("tagKeys"))?
        .iter()
        .filter_map(|key| key.as_str().map(str::to_string))
        .collect();
    change_tags(app, request, arn, |tags| {
        tags.retain(|(key, _)| !keys.contains(key));
        Ok(())
    })
    .await
}

/// The resource `arn` names in the registry (a state machine or an activity), as stored, if
/// it is of the request's account and region.
fn tagged_resource(
    registry: &crate::registry::Registry,
    request: &Request,
    arn: &str,
) -> ApiResult<Resource> {
    if !request.arns.owns(arn) {
        return Err(ApiError::resource_not_found(arn));
    }
    if let Some(machine) = registry.state_machines.get(arn) {
        return Ok(Resource::StateMachine(machine.clone()));
    }
    if let Some(activity) = registry.activities.get(arn) {
        return Ok(Resource::Activity(activity.clone()));
    }
    Err(ApiError::resource_not_found(arn))
}

fn tags_of(resource: &mut Resource) -> &mut Vec<(String, String)> {
    match resource {
        Resource::StateMachine(machine) => &mut machine.tags,
        Resource::Activity(activity) => &mut activity.tags,
        _ => unreachable!("tagged_resource gives state machines and activities"),
    }
}

/// Changes a state machine's or an activity's tags with `change`, commits the resource and
/// then puts it in the registry (TagResource and UntagResource alike).
async fn change_tags(
    app: &App,
    request: &Request,
    arn: &str,
    change: impl FnOnce(&mut Vec<(String, String)>) -> ApiResult<()>,
) -> ApiResult<Value> {
    let mut registry = app.registry.write().await;
    let mut resource = tagged_resource(&registry, request, arn)?;
    change(tags_of(&mut resource))?;
    app.commit(vec![Write::PutResource(resource.clone())])
        .await?;
    registry.put(resource);
    Ok(json!({}))
}

pub async fn list(app: &App, request: &Request) -> ApiResult<Value> {
    let arn = resource_arn(request)?;
    let mut resource = tagged_resource(&*app.registry.read().await, request, arn)?;
    let tags: Vec<Value> = tags_of(&mut resource)
        .iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    Ok(json!({ "tags": tags }))
}
