//! The console's list endpoints (issue 17, item 7): what the AWS API cannot answer in one
//! bounded request. `ListExecutions` needs a state machine and has no name search and no
//! count; `ListStateMachines` has no execution counts. Both answers here are paged, every
//! page at most [`LISTED_MAX`] rows, and every count and search reads a bounded number of
//! rows from the store: counts without a name search are the store's own
//! (`Store::count_executions`, which reads no inputs), searches read [`CHUNK`] rows at a
//! time (inputs can be 256 KiB each).
//!
//! - `GET /console/api/executions` ([`steppe_console::EXECUTIONS_PATH`]): the executions of
//!   one state machine or of all of them, newest first, filtered by status and by a name
//!   search, with their total.
//! - `GET /console/api/state-machines` ([`steppe_console::MACHINES_PATH`]): the state
//!   machines with how many of their executions run and how many failed.

use crate::app::App;
use serde_json::{json, Value};
use steppe_store::{ExecutionQuery, ExecutionRow, ExecutionStatus, StateMachineType};

/// The most rows one page of a console list holds (its `maxResults`).
pub const LISTED_MAX: usize = 100;
/// Counts stop here: a larger one is answered as this, marked as a lower bound.
pub const COUNTED_MAX: usize = 10_000;
/// The most executions one request reads from the store while it searches by name, per
/// state machine, to fill its page.
pub const SCANNED_MAX: usize = 10_000;
/// Rows read from the store at once.
pub const CHUNK: usize = 250;
/// The longest name search, in characters (an execution name has at most 80).
pub const SEARCH_CHARS_MAX: usize = 80;

/// A console request that cannot be answered: the HTTP status (400: the request; 500: the
/// store) and the message.
pub type Refusal = (u16, String);

fn bad(message: impl Into<String>) -> Refusal {
    (400, message.into())
}

fn store_failed(error: steppe_store::Error) -> Refusal {
    (500, format!("The store failed: {error}"))
}

/// The parameters of `GET /console/api/executions`, as the query gave them.
#[derive(Debug, Default)]
pub struct ExecutionsRequest {
    /// Only this state machine's (unqualified ARN).
    pub state_machine_arn: Option<String>,
    /// `statusFilter`.
    pub status: Option<String>,
    /// `name`: a case-insensitive part of the execution name.
    pub name: Option<String>,
    /// `maxResults`.
    pub max_results: Option<String>,
    /// `nextToken`.
    pub next_token: Option<String>,
}

fn page_size(max_results: Option<&str>, default: usize) -> Result<usize, Refusal> {
    match max_results {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=LISTED_MAX).contains(&n) => Ok(n),
            _ => Err(bad(format!(
                "maxResults must be a number from 1 to {LISTED_MAX}"
            ))),
        },
    }
}

/// Reads `query`'s rows newest first, [`CHUNK`] at a time, until `visit` returns false or
/// `budget` rows were read; returns whether rows were left unread because of the budget.
fn scan(
    app: &App,
    query: &ExecutionQuery,
    budget: usize,
    mut visit: impl FnMut(ExecutionRow) -> bool,
) -> Result<bool, Refusal> {
    let mut query = ExecutionQuery {
        limit: CHUNK,
        ..query.clone()
    };
    let mut read = 0;
    loop {
        query.limit = CHUNK.min(budget - read);
        if query.limit == 0 {
            // Something is left only if the store has another row.
            query.limit = 1;
            let more = app.store.list_executions(&query).map_err(store_failed)?;
            return Ok(!more.is_empty());
        }
        let rows = app.store.list_executions(&query).map_err(store_failed)?;
        let full = rows.len() == query.limit;
        read += rows.len();
        if let Some(last) = rows.last() {
            query.after = Some((last.start_millis, last.id));
        }
        for row in rows {
            if !visit(row) {
                return Ok(false);
            }
        }
        if !full {
            return Ok(false);
        }
    }
}

/// How many executions match `query` (its limit ignored), counted by the store up to one
/// past `budget`, so that an answer above `budget` says there are more.
fn count(app: &App, query: &ExecutionQuery, budget: usize) -> Result<usize, Refusal> {
    let query = ExecutionQuery {
        limit: budget + 1,
        after: None,
        ..query.clone()
    };
    app.store.count_executions(&query).map_err(store_failed)
}

fn status_of(text: Option<&str>) -> Result<Option<ExecutionStatus>, Refusal> {
    text.filter(|text| !text.is_empty())
        .map(|text| {
            text.parse::<ExecutionStatus>()
                .map_err(|_| bad(format!("statusFilter '{text}' is not an execution status")))
        })
        .transpose()
}

fn encode_cursor(start_millis: i64, id: u64) -> String {
    format!("console-executions-{start_millis:x}-{id:x}")
}

fn decode_cursor(token: &str) -> Option<(i64, u64)> {
    let (start, id) = token.strip_prefix("console-executions-")?.split_once('-')?;
    Some((
        i64::from_str_radix(start, 16).ok()?,
        u64::from_str_radix(id, 16).ok()?,
    ))
}

/// `GET /console/api/executions`: `{"executions": [ListExecutions' items, with
/// "stateMachineName"], "nextToken"?, "total", "totalIsLowerBound", "searchIsPartial"}`.
/// `total` counts every execution that matches (status, name, machine), reading at most
/// [`COUNTED_MAX`] rows; `searchIsPartial` says a name search stopped after
/// [`SCANNED_MAX`] executions of some state machine, so older matches may be missing.
pub fn executions(
    app: &App,
    arns: &crate::arn::Arns,
    request: &ExecutionsRequest,
) -> Result<Value, Refusal> {
    let limit = page_size(request.max_results.as_deref(), 25)?;
    let status = status_of(request.status.as_deref())?;
    let needle = request
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_lowercase);
    if needle
        .as_ref()
        .is_some_and(|n| n.chars().count() > SEARCH_CHARS_MAX)
    {
        return Err(bad(format!(
            "name searches are at most {SEARCH_CHARS_MAX} characters"
        )));
    }
    let after = match request.next_token.as_deref() {
        None | Some("") => None,
        Some(token) => Some(
            decode_cursor(token).ok_or_else(|| bad("nextToken is not one this endpoint gave"))?,
        ),
    };
    // Standard machines only: AWS lists no Express executions (the console has its own).
    let machines: Vec<(String, String)> = {
        let registry = app.registry.blocking_read();
        match &request.state_machine_arn {
            Some(arn) => {
                let machine = registry
                    .state_machines
                    .get(arn)
                    .filter(|_| arns.owns(arn))
                    .ok_or_else(|| bad(format!("State Machine Does Not Exist: '{arn}'")))?;
                if machine.machine_type == StateMachineType::Express {
                    return Err(bad(
                        "an Express state machine's executions are not listed here",
                    ));
                }
                vec![(machine.arn.clone(), machine.name.clone())]
            }
            None => registry
                .state_machines
                .values()
                .filter(|machine| {
                    machine.machine_type == StateMachineType::Standard && arns.owns(&machine.arn)
                })
                .map(|machine| (machine.arn.clone(), machine.name.clone()))
                .collect(),
        }
    };
    let matches = |row: &ExecutionRow| {
        needle
            .as_ref()
            .is_none_or(|needle| row.name.to_lowercase().contains(needle.as_str()))
    };
    // Each machine's newest `limit + 1` matches after the cursor; the page is the newest of
    // all of them.
    let mut candidates: Vec<(ExecutionRow, usize)> = Vec::new();
    let mut partial = false;
    let mut total = 0usize;
    let mut total_capped = false;
    for (index, (arn, _)) in machines.iter().enumerate() {
        let base = ExecutionQuery {
            state_machine_arn: arn.clone(),
            status,
            ..ExecutionQuery::default()
        };
        let mut found = 0;
        let page_query = ExecutionQuery {
            after,
            ..base.clone()
        };
        partial |= scan(app, &page_query, SCANNED_MAX, |row| {
            if matches(&row) {
                candidates.push((row, index));
                found += 1;
            }
            found <= limit
        })?;
        if total_capped {
            continue;
        }
        let budget = COUNTED_MAX - total.min(COUNTED_MAX);
        let (counted, more) = match &needle {
            // Without a name search the store counts (one row past the budget says "more").
            None => {
                let counted = count(app, &base, budget)?;
                (counted.min(budget), counted > budget)
            }
            Some(_) => {
                let mut counted = 0;
                let more = scan(app, &base, budget, |row| {
                    if matches(&row) {
                        counted += 1;
                    }
                    true
                })?;
                (counted, more)
            }
        };
        total += counted;
        total_capped = more || total >= COUNTED_MAX && index + 1 < machines.len();
    }
    candidates.sort_by_key(|(row, _)| std::cmp::Reverse((row.start_millis, row.id)));
    let next = (candidates.len() > limit).then(|| {
        let (last, _) = &candidates[limit - 1];
        encode_cursor(last.start_millis, last.id)
    });
    candidates.truncate(limit);
    let executions: Vec<Value> = candidates
        .iter()
        .map(|(row, index)| {
            let mut item = json!({
                "executionArn": row.arn,
                "stateMachineArn": row.state_machine_arn,
                "stateMachineName": machines[*index].1,
                "name": row.name,
                "status": row.status.as_str(),
                "startDate": crate::wire::timestamp(row.start_millis),
            });
            if let Some(stop) = row.stop_millis {
                item["stopDate"] = crate::wire::timestamp(stop);
            }
            if row.redrive_count > 0 {
                item["redriveCount"] = json!(row.redrive_count);
            }
            item
        })
        .collect();
    let mut answer = json!({
        "executions": executions,
        "total": total.min(COUNTED_MAX),
        "totalIsLowerBound": total_capped,
        "searchIsPartial": partial,
    });
    if let Some(next) = next {
        answer["nextToken"] = json!(next);
    }
    Ok(answer)
}

/// `GET /console/api/state-machines`: `{"stateMachines": [ListStateMachines' items, with
/// "running" and "failed" (Standard machines; each counted up to [`COUNTED_MAX`], with
/// "runningIsLowerBound" / "failedIsLowerBound" when more)], "nextToken"?}`, in
/// ListStateMachines' order.
pub fn state_machines(
    app: &App,
    arns: &crate::arn::Arns,
    max_results: Option<&str>,
    next_token: Option<&str>,
) -> Result<Value, Refusal> {
    let limit = page_size(max_results, LISTED_MAX)?;
    let offset = match next_token {
        None | Some("") => 0,
        Some(token) => token
            .strip_prefix("console-machines-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| bad("nextToken is not one this endpoint gave"))?,
    };
    let (page, more): (Vec<_>, bool) = {
        let registry = app.registry.blocking_read();
        let mut owned = registry
            .state_machines
            .values()
            .filter(|machine| arns.owns(&machine.arn));
        let page = owned
            .by_ref()
            .skip(offset)
            .take(limit)
            .map(|machine| {
                (
                    machine.arn.clone(),
                    machine.name.clone(),
                    machine.machine_type,
                    machine.creation_millis,
                )
            })
            .collect();
        (page, owned.next().is_some())
    };
    let mut items = Vec::with_capacity(page.len());
    for (arn, name, machine_type, creation_millis) in page {
        let mut item = json!({
            "stateMachineArn": arn,
            "name": name,
            "type": machine_type.as_str(),
            "creationDate": crate::wire::timestamp(creation_millis),
        });
        if machine_type == StateMachineType::Standard {
            for (key, status) in [
                ("running", ExecutionStatus::Running),
                ("failed", ExecutionStatus::Failed),
            ] {
                let query = ExecutionQuery {
                    state_machine_arn: arn.clone(),
                    status: Some(status),
                    ..ExecutionQuery::default()
                };
                let counted = count(app, &query, COUNTED_MAX)?;
                item[key] = json!(counted.min(COUNTED_MAX));
                item[format!("{key}IsLowerBound")] = json!(counted > COUNTED_MAX);
            }
        }
        items.push(item);
    }
    let mut answer = json!({ "stateMachines": items });
    if more {
        answer["nextToken"] = json!(format!("console-machines-{}", offset + limit));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_others() {
        assert_eq!(
            decode_cursor(&encode_cursor(1_700_000_000_123, 42)),
            Some((1_700_000_000_123, 42))
        );
        assert_eq!(decode_cursor("steppe-executions-1-2"), None);
        assert_eq!(decode_cursor("console-executions-zz-2"), None);
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(None, 25), Ok(25));
        assert_eq!(page_size(Some("100"), 25), Ok(100));
        assert!(page_size(Some("101"), 25).is_err());
        assert!(page_size(Some("0"), 25).is_err());
        assert!(page_size(Some("x"), 25).is_err());
    }
}
