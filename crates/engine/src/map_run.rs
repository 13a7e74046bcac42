//! Map Runs: what a distributed Map's run looks like from outside, as `DescribeMapRun` and
//! `ListMapRuns` show it.
//!
//! A distributed Map's iterations run inside their parent execution (as frames whose events
//! make their child execution's history, not the parent's), so a Map Run is a record the engine keeps in the
//! [`Execution`](crate::Execution) and updates as the Map starts, ends and aborts children.
//! It is rebuilt by replaying the execution's inputs like everything else the engine holds,
//! so it is as durable as the execution: no store of its own.
//!
//! A Map Run's ARN ends in a UUID whose first half carries the execution's store id
//! ([`ExecutionInfo::id`](crate::ExecutionInfo::id)), scrambled by an invertible
//! multiplication so that it still looks random; [`execution_id_of`] reads it back, which is
//! how a server finds the execution of a Map Run ARN without an index. The other half comes
//! from the execution's seeded generator.

/// Where a Map Run stands, as `DescribeMapRun` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapRunStatus {
    /// Children are running or pending.
    Running,
    /// Every child ended within the tolerated failures (and the results were written).
    Succeeded,
    /// Too many children failed, or the results could not be written.
    Failed,
    /// The parent stopped, timed out or failed elsewhere while the Map Run ran.
    Aborted,
}

impl MapRunStatus {
    /// The status as AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            MapRunStatus::Running => "RUNNING",
            MapRunStatus::Succeeded => "SUCCEEDED",
            MapRunStatus::Failed => "FAILED",
            MapRunStatus::Aborted => "ABORTED",
        }
    }
}

/// `MapRunItemCounts` or `MapRunExecutionCounts`: how many items (or child executions) are
/// in each state. `total` is every item (child) counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapRunCounts {
    /// Not started yet.
    pub pending: u64,
    /// Running.
    pub running: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed.
    pub failed: u64,
    /// Timed out (children have no timeout of their own here: always 0).
    pub timed_out: u64,
    /// Stopped because the Map Run failed or its execution ended.
    pub aborted: u64,
    /// All of them.
    pub total: u64,
    /// Written by the `ResultWriter`.
    pub results_written: u64,
    /// Unsuccessful before a redrive and waiting to start again. (Which unsuccessful ones
    /// can no longer be redriven depends on the parent, which the server knows.)
    pub pending_redrive: u64,
}

/// One Map Run.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRun {
    /// The ARN, as `MapRunStarted` names it.
    pub map_run_arn: String,
    /// Where it stands.
    pub status: MapRunStatus,
    /// When it started, epoch milliseconds.
    pub start_millis: i64,
    /// When it ended, epoch milliseconds.
    pub stop_millis: Option<i64>,
    /// `MaxConcurrency` as configured (0: no limit but AWS's), or as `UpdateMapRun` set it.
    pub max_concurrency: u64,
    /// `ToleratedFailureCount` (0 when not set).
    pub tolerated_failure_count: u64,
    /// `ToleratedFailurePercentage` (0 when not set).
    pub tolerated_failure_percentage: f64,
    /// Items: with an `ItemBatcher`, every row of every batch.
    pub items: MapRunCounts,
    /// Child executions: with an `ItemBatcher`, one per batch.
    pub executions: MapRunCounts,
    /// How many times the Map Run was redriven.
    pub redrive_count: u32,
    /// When it was last redriven, epoch milliseconds.
    pub redrive_millis: Option<i64>,
    /// Its child executions by slot (item, or batch with an `ItemBatcher`); `None` for a
    /// slot not started yet (or that succeeded before a redrive).
    pub children: Vec<Option<MapRunChild>>,
    /// The result files its `ResultWriter` exports wrote (a redriven Map Run's files follow
    /// them, and its manifest lists their SUCCEEDED ones).
    pub(crate) exported: Vec<ExportedFile>,
}

/// A result file a Map Run's export wrote.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExportedFile {
    /// `SUCCEEDED`, `FAILED`.
    pub status: String,
    /// `SUCCEEDED_0.json`.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A child execution of a Map Run by position: the Map Run's ordinal among its execution's
/// Map Runs (`Execution::map_runs`) and the child's slot in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildId {
    /// The Map Run's index in `Execution::map_runs`.
    pub map_run: usize,
    /// The child's slot (item, or batch with an `ItemBatcher`).
    pub slot: usize,
}

/// A child execution of a Map Run.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRunChild {
    /// Where it stands.
    pub status: crate::Status,
    /// The id its history's next event gets: a child has a history of its own, numbered
    /// from 1, that `Config::child_history` records.
    pub next_event_id: u64,
    /// How many times it was redriven (with its Map Run).
    pub redrive_count: u32,
    /// When it started, epoch milliseconds.
    pub start_millis: i64,
    /// When it ended, epoch milliseconds.
    pub stop_millis: Option<i64>,
    /// How many items it processes (1, or a batch's size).
    pub item_count: u64,
    /// Its input as compact JSON text, kept only with `Config::map_run_children_data` (as are
    /// output and error) or for a `ResultWriter`'s execution records: text because it is
    /// only ever shown as text, and a `Value` takes several times the memory of its text.
    pub input: Option<String>,
    /// Its output, once it succeeded.
    pub output: Option<serde_json::Value>,
    /// Its error and cause, once it failed.
    pub error: Option<crate::ErrorCause>,
    /// The timer of its time limit while it runs (Express children: five minutes).
    pub(crate) timer_id: Option<u64>,
    /// A Standard child that did not succeed: the state it ended in, where a redrive of its
    /// Map Run resumes it (as `RedriveExecution` resumes an execution).
    pub(crate) redrive_point: Option<Box<crate::execution::RedrivePoint>>,
}

impl MapRun {
    /// Ends the Map Run with `status` at `now_millis`; children still running count as
    /// aborted. A Map Run that already ended stays as it was.
    pub(crate) fn end(&mut self, status: MapRunStatus, now_millis: i64) {
        if self.status != MapRunStatus::Running {
            return;
        }
        self.status = status;
        self.stop_millis = Some(now_millis);
        for counts in [&mut self.items, &mut self.executions] {
            counts.aborted += counts.running;
            counts.running = 0;
        }
        for child in self.children.iter_mut().flatten() {
            if child.status == crate::Status::Running {
                child.status = crate::Status::Aborted;
                child.stop_millis = Some(now_millis);
            }
        }
    }
}

impl MapRun {
    /// The child of `slot`, if it has started.
    pub(crate) fn child_mut(&mut self, slot: usize) -> Option<&mut MapRunChild> {
        self.children.get_mut(slot).and_then(Option::as_mut)
    }
}

/// What `UpdateMapRun` changes; `None` leaves a setting as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MapRunUpdate {
    /// `maxConcurrency` (0: no limit but AWS's).
    pub max_concurrency: Option<u64>,
    /// `toleratedFailureCount`.
    pub tolerated_failure_count: Option<u64>,
    /// `toleratedFailurePercentage`, 0 to 100.
    pub tolerated_failure_percentage: Option<f64>,
}

/// The ARN of child `slot` (an item, or a batch) of the `ordinal`th Map Run of an execution:
/// `…:execution:<machine>/<label>:<name>`, whose name is UUID-shaped: the Map Run UUID's
/// first half (which names the parent execution), then the ordinal and the slot.
pub fn child_execution_arn(map_run_arn: &str, ordinal: usize, slot: usize) -> Option<String> {
    let (head, uuid) = map_run_arn.rsplit_once(':')?;
    let (prefix, machine_and_label) = head.split_once(":mapRun:")?;
    let first_half = uuid.get(..18)?;
    Some(format!(
        "{prefix}:execution:{machine_and_label}:{first_half}-{ordinal:04x}-{slot:012x}"
    ))
}

/// The state machine ARN a Map Run's children name: `…:stateMachine:<machine>/<label>`.
pub fn children_state_machine_arn(map_run_arn: &str) -> String {
    let head = map_run_arn
        .rsplit_once(':')
        .map_or(map_run_arn, |(head, _)| head);
    head.replacen(":mapRun:", ":stateMachine:", 1)
}

/// Epoch milliseconds as ISO 8601 in UTC with milliseconds (`2025-02-04T01:49:50.099Z`), as
/// AWS writes dates into `ResultWriter` files.
pub(crate) fn iso_millis(millis: i64) -> String {
    let days = millis.div_euclid(86_400_000);
    let in_day = millis.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60,
        in_day % 1_000
    )
}

/// An odd multiplier (so invertible modulo 2^64) that scatters execution ids over the UUID's
/// first half.
const SCRAMBLE: u64 = 0x9E37_79B9_7F4A_7C15;

/// The first half of a Map Run UUID for the execution with store id `id`.
pub(crate) fn scramble(id: u64) -> u64 {
    id.wrapping_mul(SCRAMBLE)
}

/// The multiplicative inverse of [`SCRAMBLE`] modulo 2^64 (Newton's iteration doubles the
/// correct low bits each round: 3 → 6 → ... → 96 ≥ 64).
fn unscramble(half: u64) -> u64 {
    let mut inverse: u64 = SCRAMBLE;
    for _ in 0..5 {
        inverse = inverse.wrapping_mul(2u64.wrapping_sub(SCRAMBLE.wrapping_mul(inverse)));
    }
    half.wrapping_mul(inverse)
}

/// The store id of the execution that started the Map Run `map_run_arn`
/// (`…:mapRun:<machine>/<label>:<uuid>`), if its last part is a UUID. The caller must still
/// check that the execution has a Map Run with that ARN.
pub fn execution_id_of(map_run_arn: &str) -> Option<u64> {
    let uuid = map_run_arn.rsplit(':').next()?;
    let groups: Vec<&str> = uuid.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    if groups.len() != lengths.len()
        || groups
            .iter()
            .zip(lengths)
            .any(|(group, n)| group.len() != n || !group.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    let high = u64::from_str_radix(&groups[..3].concat(), 16).ok()?;
    Some(unscramble(high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_aws_writes_them() {
        for (millis, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_738_633_790_099, "2025-02-04T01:49:50.099Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(iso_millis(millis), text);
        }
    }

    #[test]
    fn execution_ids_come_back_from_the_uuid() {
        for id in [0, 1, 2, 63, 64, 1_000_000, u64::MAX] {
            let high = scramble(id);
            let arn = format!(
                "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:{:08x}-{:04x}-{:04x}-0000-000000000000",
                high >> 32,
                (high >> 16) & 0xffff,
                high & 0xffff
            );
            assert_eq!(execution_id_of(&arn), Some(id), "{arn}");
        }
        for bad in [
            "",
            "a:b",
            "x:m/Map:not-a-uuid",
            "x:m/Map:0000000g-0000-0000-0000-000000000000",
        ] {
            assert_eq!(execution_id_of(bad), None, "{bad}");
        }
    }
}
