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
//! - `GET /console/api/history` ([`steppe_console::HISTORY_PATH`]): an execution's history
//!   in GetExecutionHistory's shapes, a whole Standard one (AWS ends those at 25,000 events)
//!   in one answer of at most [`HISTORY_BYTES_MAX`], where GetExecutionHistory takes pages of
//!   1,000 one after another. Stored events are copied into the answer as they are stored,
//!   only their timestamp rewritten ([`push_wire_event`]), instead of decoded and encoded
//!   again: that is most of the time a page of GetExecutionHistory takes.

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
/// The most events one answer of `GET /console/api/history` holds: AWS's limit on a
/// Standard execution's history, so that one request usually brings all of it.
pub const HISTORY_EVENTS_MAX: usize = 25_000;
/// The most bytes of events one answer of `GET /console/api/history` holds (past its first
/// event): an event can carry an input or output of 256 KiB.
pub const HISTORY_BYTES_MAX: usize = 16 << 20;
/// History events read from the store at once.
pub const HISTORY_CHUNK: usize = 1_000;

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

/// Reads `query`'s rows newest first, `chunk` at a time (at most [`CHUNK`]), until `visit`
/// returns false or `budget` rows were read; returns whether rows were left unread because
/// of the budget.
fn scan(
    app: &App,
    query: &ExecutionQuery,
    budget: usize,
    chunk: usize,
    mut visit: impl FnMut(ExecutionRow) -> bool,
) -> Result<bool, Refusal> {
    let chunk = chunk.clamp(1, CHUNK);
    let mut query = query.clone();
    let mut read = 0;
    loop {
        query.limit = chunk.min(budget - read);
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

/// Where an execution sits in the merged list, newest first: its start, then its rank
/// among executions that started in the same millisecond. A Standard execution's rank is
/// `1 << 64 | store id`; an Express one's (kept in memory, with no store id) a hash of its ARN,
/// so it comes after the Standard ones of its millisecond.
type Position = (i64, u128);

const STANDARD_RANK: u128 = 1 << 64;

fn encode_cursor((start_millis, rank): Position) -> String {
    format!("console-executions-{start_millis:x}-{rank:x}")
}

fn decode_cursor(token: &str) -> Option<Position> {
    let (start, rank) = token.strip_prefix("console-executions-")?.split_once('-')?;
    Some((
        i64::from_str_radix(start, 16).ok()?,
        u128::from_str_radix(rank, 16).ok()?,
    ))
}

/// The store's cursor for Standard executions after `position`: an Express rank is below every
/// Standard rank of its millisecond, so those were all listed before it.
fn store_cursor((start_millis, rank): Position) -> (i64, u64) {
    if rank >= STANDARD_RANK {
        (start_millis, (rank - STANDARD_RANK) as u64)
    } else {
        (start_millis, 0)
    }
}

/// A stable rank for an Express execution (FNV-1a of its ARN).
fn express_rank(execution_arn: &str) -> u128 {
    let hash = execution_arn
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    u128::from(hash)
}

/// One execution of the merged list, as listed.
struct Listed {
    position: Position,
    item: Value,
}

fn standard_item(row: &ExecutionRow, machine_name: &str) -> Listed {
    let mut item = json!({
        "executionArn": row.arn,
        "stateMachineArn": row.state_machine_arn,
        "stateMachineName": machine_name,
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
    Listed {
        position: (row.start_millis, STANDARD_RANK | u128::from(row.id)),
        item,
    }
}

/// The node's recently ended Express executions (`RecentExpress`, at most
/// `express_kept_max`) that match, and of those the ones after `after`.
fn express_matches(
    app: &App,
    arns: &crate::arn::Arns,
    status: Option<ExecutionStatus>,
    matches: &dyn Fn(&str) -> bool,
    after: Option<Position>,
) -> (usize, Vec<Listed>) {
    let kept = app
        .express_recent
        .list(arns, None, app.limits.express_kept_max);
    let names: std::collections::HashMap<String, String> = {
        let registry = app.registry.blocking_read();
        kept.iter()
            .filter_map(|ended| {
                let machine = registry.state_machines.get(&ended.state_machine_arn)?;
                Some((machine.arn.clone(), machine.name.clone()))
            })
            .collect()
    };
    let mut total = 0;
    let mut listed = Vec::new();
    for ended in kept.iter().filter(|ended| {
        status.is_none_or(|status| status.as_str() == ended.status.as_str()) && matches(&ended.name)
    }) {
        total += 1;
        let position = (ended.start_millis, express_rank(&ended.execution_arn));
        if after.is_some_and(|after| position >= after) {
            continue;
        }
        let machine_name = names.get(&ended.state_machine_arn).map_or_else(
            || ended.state_machine_arn.rsplit(':').next().unwrap_or(""),
            String::as_str,
        );
        listed.push(Listed {
            position,
            item: json!({
                "executionArn": ended.execution_arn,
                "stateMachineArn": ended.state_machine_arn,
                "stateMachineName": machine_name,
                "name": ended.name,
                "status": ended.status.as_str(),
                "startDate": crate::wire::timestamp(ended.start_millis),
                "stopDate": crate::wire::timestamp(ended.stop_millis),
            }),
        });
    }
    (total, listed)
}

/// `GET /console/api/executions`: `{"executions": [ListExecutions' items, with
/// "stateMachineName"], "nextToken"?, "total", "totalIsLowerBound", "searchIsPartial"}`.
/// `total` counts every execution that matches (status, name, machine), up to
/// [`COUNTED_MAX`]; `searchIsPartial` says a name search stopped after [`SCANNED_MAX`]
/// executions of some state machine, so older matches may be missing. Without a state
/// machine, the node's recently ended Express executions are merged in by start time.
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
    // The store holds Standard executions only; a list of every machine's adds the Express
    // ones this node keeps in memory (`express_matches`).
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
    let name_matches = |name: &str| {
        needle
            .as_ref()
            .is_none_or(|needle| name.to_lowercase().contains(needle.as_str()))
    };
    let matches = |row: &ExecutionRow| name_matches(&row.name);
    // Each machine's newest `limit + 1` matches after the cursor; the page is the newest of
    // all of them.
    let mut candidates: Vec<Listed> = Vec::new();
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
            after: after.map(store_cursor),
            ..base.clone()
        };
        // Without a name search every row is on the page: read no more than it holds.
        let chunk = if needle.is_none() { limit + 1 } else { CHUNK };
        partial |= scan(app, &page_query, SCANNED_MAX, chunk, |row| {
            if matches(&row) {
                candidates.push(standard_item(&row, &machines[index].1));
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
                let more = scan(app, &base, budget, CHUNK, |row| {
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
    if request.state_machine_arn.is_none() {
        let (kept, listed) = express_matches(app, arns, status, &name_matches, after);
        total += kept;
        candidates.extend(listed);
    }
    candidates.sort_by_key(|listed| std::cmp::Reverse(listed.position));
    let next = (candidates.len() > limit).then(|| encode_cursor(candidates[limit - 1].position));
    candidates.truncate(limit);
    let executions: Vec<Value> = candidates.into_iter().map(|listed| listed.item).collect();
    let mut answer = json!({
        "executions": executions,
        "total": total.min(COUNTED_MAX),
        "totalIsLowerBound": total_capped || total > COUNTED_MAX,
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

/// `GET /console/api/history?executionArn=&nextToken=`: `{"events": [GetExecutionHistory's
/// events, oldest first], "nextToken"?}`, at most [`HISTORY_EVENTS_MAX`] events and (past
/// the first) [`HISTORY_BYTES_MAX`] bytes of them, as a JSON text. A Map Run child's history
/// is its own, as GetExecutionHistory answers it.
pub fn history(
    app: &App,
    arns: &crate::arn::Arns,
    execution_arn: &str,
    next_token: Option<&str>,
) -> Result<String, Refusal> {
    let refused = |error: crate::error::ApiError| (error.status, error.message);
    let after = match next_token {
        None | Some("") => 0,
        Some(token) => token
            .strip_prefix("console-history-")
            .and_then(|id| u64::from_str_radix(id, 16).ok())
            .ok_or_else(|| bad("nextToken is not one this endpoint gave"))?,
    };
    let mut page = HistoryPage {
        body: String::from("{\"events\":["),
        n_events: 0,
        last_id: 0,
        full: false,
    };
    // This runs on the blocking pool (`protocol::console_history`), where waiting for the
    // Map Run's reads is allowed.
    let child = tokio::runtime::Handle::current().block_on(crate::map_runs::child_history(
        app,
        arns,
        execution_arn,
    ));
    if let Some(events) = child.map_err(refused)? {
        for event in events.iter().filter(|event| event.id > after) {
            let mut value = event.to_json();
            value["timestamp"] = crate::wire::timestamp(event.timestamp_millis);
            if !page.push(event.id, &value.to_string()) {
                break;
            }
        }
    } else {
        let row = crate::executions::find_blocking(app, arns, execution_arn).map_err(refused)?;
        let mut after = after;
        let mut event_text = String::new();
        'read: loop {
            let chunk = app
                .store
                .history(row.id, after, false, HISTORY_CHUNK)
                .map_err(store_failed)?;
            for event in &chunk {
                event_text.clear();
                push_wire_event(&event.json, &mut event_text)?;
                if !page.push(event.id, &event_text) {
                    break 'read;
                }
            }
            match chunk.last() {
                Some(last) if chunk.len() == HISTORY_CHUNK => after = last.id,
                _ => break,
            }
        }
    }
    page.body.push(']');
    if page.full {
        page.body.push_str(&format!(
            ",\"nextToken\":\"console-history-{:x}\"",
            page.last_id
        ));
    }
    page.body.push('}');
    Ok(page.body)
}

/// The answer of `GET /console/api/history` as it is written.
struct HistoryPage {
    body: String,
    n_events: usize,
    last_id: u64,
    /// An event did not fit: the answer ends with a `nextToken`.
    full: bool,
}

impl HistoryPage {
    /// Adds one event's JSON text, unless the page is full (then false).
    fn push(&mut self, id: u64, event: &str) -> bool {
        let over_bytes = self.n_events > 0 && self.body.len() + event.len() > HISTORY_BYTES_MAX;
        if self.n_events == HISTORY_EVENTS_MAX || over_bytes {
            self.full = true;
            return false;
        }
        if self.n_events > 0 {
            self.body.push(',');
        }
        self.body.push_str(event);
        self.n_events += 1;
        self.last_id = id;
        true
    }
}

/// Appends a stored event (`HistoryEvent::to_json` as text, which starts with
/// `{"timestamp":MILLIS,`) to `out` as GetExecutionHistory answers it: the same text with the
/// timestamp in the wire's epoch seconds. The rest is copied as stored, which is the text
/// serde_json would write again after decoding it; an event that does not start so is decoded.
fn push_wire_event(stored: &str, out: &mut String) -> Result<(), Refusal> {
    const PREFIX: &str = "{\"timestamp\":";
    if let Some(rest) = stored.strip_prefix(PREFIX) {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let millis = rest[..digits].parse::<i64>().ok();
        if let (Some(millis), Some(b',')) = (millis, rest.as_bytes().get(digits)) {
            out.push_str(PREFIX);
            out.push_str(&crate::wire::timestamp(millis).to_string());
            out.push_str(&rest[digits..]);
            return Ok(());
        }
    }
    let mut value: Value = serde_json::from_str(stored)
        .map_err(|error| (500, format!("a stored event would not decode: {error}")))?;
    if let Some(millis) = value.get("timestamp").and_then(Value::as_i64) {
        value["timestamp"] = crate::wire::timestamp(millis);
    }
    out.push_str(&value.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_events_get_the_wires_timestamp_as_a_decoded_one_would() {
        let stored = json!({
            "timestamp": 1_700_000_000_123_i64,
            "type": "PassStateExited",
            "id": 3,
            "previousEventId": 2,
            "stateExitedEventDetails": {"name": "A \"quoted\" é", "output": "{\"x\":1.5}"},
        })
        .to_string();
        let mut fast = String::new();
        push_wire_event(&stored, &mut fast).expect("an event");
        let mut decoded: Value = serde_json::from_str(&stored).expect("json");
        decoded["timestamp"] = crate::wire::timestamp(1_700_000_000_123);
        assert_eq!(fast, decoded.to_string());
        // Another shape is decoded rather than copied.
        for other in [
            r#"{"type":"X","timestamp":5}"#,
            r#"{"timestamp":-5,"type":"X"}"#,
        ] {
            let mut out = String::new();
            push_wire_event(other, &mut out).expect("an event");
            let value: Value = serde_json::from_str(&out).expect("json");
            assert_eq!(value["type"], "X", "{other}");
        }
        let mut out = String::new();
        assert!(push_wire_event("{\"type\":", &mut out).is_err());
    }

    #[test]
    fn a_history_page_stops_at_its_event_and_byte_limits() {
        let mut page = HistoryPage {
            body: String::new(),
            n_events: 0,
            last_id: 0,
            full: false,
        };
        let huge = "x".repeat(HISTORY_BYTES_MAX + 1);
        assert!(page.push(1, &huge), "the first event always fits");
        assert!(!page.push(2, "{}"));
        assert!(page.full && page.last_id == 1);
        let mut page = HistoryPage {
            body: String::new(),
            n_events: 0,
            last_id: 0,
            full: false,
        };
        for id in 1..=HISTORY_EVENTS_MAX as u64 {
            assert!(page.push(id, "{}"));
        }
        assert!(!page.push(HISTORY_EVENTS_MAX as u64 + 1, "{}"));
        assert_eq!(page.last_id, HISTORY_EVENTS_MAX as u64);
    }

    #[test]
    fn cursors_round_trip_and_refuse_others() {
        let standard = (1_700_000_000_123, STANDARD_RANK | 42);
        assert_eq!(decode_cursor(&encode_cursor(standard)), Some(standard));
        assert_eq!(store_cursor(standard), (1_700_000_000_123, 42));
        // After an Express execution, only Standard ones that started earlier are left.
        let express = (
            1_700_000_000_123,
            express_rank("arn:aws:states:r:1:express:m:n:x"),
        );
        assert!(express < standard);
        assert_eq!(store_cursor(express), (1_700_000_000_123, 0));
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
