//! The server's bounds on connections, requests and Express executions: each one named, with
//! the default `Options` uses and a `steppe server` flag to change it. A request or an
//! execution that meets one fails alone, with AWS's error where AWS has one.

use std::time::Duration;

/// See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Connections served at once; further ones wait in the listen backlog. Clamped at start to
    /// what the process's open-files limit allows.
    pub connections_max: usize,
    /// How long a connection may take to send a request's head, counted from when it may send
    /// one: from its accept, and from each answer on a kept-alive connection (so this is also
    /// the idle keep-alive timeout: hyper runs one timer for both).
    pub header_read_timeout: Duration,
    /// How long a request's body may take to arrive once its head has.
    pub body_read_timeout: Duration,
    /// Express executions running in memory at once; past it, StartExecution and
    /// StartSyncExecution answer `ThrottlingException` (SDKs back off and retry).
    pub express_running_max: u64,
    /// Express executions that ended kept in memory, with their events, for the console
    /// (`GET /console/api/express-executions`); 0 keeps none and records no Express history.
    pub express_kept_max: usize,
    /// Inputs from outside (stop requests, SendTask*, redrives, timers, tasks' results)
    /// queued for one Standard execution at once; past it, API requests answer
    /// `ThrottlingException` (SDKs back off and retry) and the server's own inputs wait for
    /// room (`Driver::with_inputs_queued_max`).
    pub execution_inputs_queued_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections_max: CONNECTIONS_MAX_DEFAULT,
            header_read_timeout: Duration::from_secs(20),
            body_read_timeout: Duration::from_secs(30),
            express_running_max: EXPRESS_RUNNING_MAX_DEFAULT,
            express_kept_max: EXPRESS_KEPT_MAX_DEFAULT,
            execution_inputs_queued_max: EXECUTION_INPUTS_QUEUED_MAX_DEFAULT,
        }
    }
}

/// Store reads the API runs at once on the blocking pool (`App::read`); more wait their turn
/// without holding a thread. Below tokio's blocking pool (512 threads), so integrations and the
/// stores' own blocking work always find threads, and above what one SQLite file or a
/// PostgreSQL pool (`READERS_MAX` connections) serves at once.
pub const STORE_READS_MAX: usize = 64;

/// How many times a start on a shared store is tried when its target was no longer active
/// in the store at its commit (deleted through another node since this one read it): the
/// second attempt, after catching up, answers the deletion or starts the target as it is now.
pub const START_ATTEMPTS_MAX: u32 = 2;

/// The default of [`Limits::connections_max`]: above AWS's 1,000 long polls per activity,
/// which each hold a connection.
pub const CONNECTIONS_MAX_DEFAULT: usize = 4_096;

/// The default of [`Limits::express_running_max`]. An Express execution parked in a Wait takes
/// about 8 KB, so this bounds them near 400 MB.
pub const EXPRESS_RUNNING_MAX_DEFAULT: u64 = 50_000;

/// The default of [`Limits::execution_inputs_queued_max`]: far above what one execution's
/// callers and timers queue while one commit is in flight, small enough that a flood of
/// requests at one execution costs a bounded amount of memory.
pub const EXECUTION_INPUTS_QUEUED_MAX_DEFAULT: usize = 1_000;

/// The default of [`Limits::express_kept_max`]: the last 1,000 Express executions to end.
pub const EXPRESS_KEPT_MAX_DEFAULT: usize = 1_000;

/// The most inputs (start, task results, timers) kept of one Express execution to rebuild its
/// events from; one that applied more is listed without its events.
pub const EXPRESS_INPUTS_KEPT_MAX: usize = 1_000;

/// The most history events of one kept Express execution the console is answered (its first
/// ones; the answer says how many more there were).
pub const EXPRESS_EVENTS_ANSWERED_MAX: usize = 1_000;

/// The most bytes of inputs, outputs and task results the kept Express executions take in
/// all; the oldest are dropped first, so a few with large payloads cannot hold the memory.
pub const EXPRESS_KEPT_BYTES_MAX: usize = 64 * 1024 * 1024;

/// The most execution log events waiting to be written (`--execution-log`) or sent to
/// CloudWatch Logs; past it, new events are dropped (and counted) rather than slow or grow
/// the executions that produce them.
pub const EXECUTION_LOG_QUEUE_MAX: usize = 10_000;

/// The most events taken off the execution log queue at once: one file flush, and as few
/// `PutLogEvents` calls as CloudWatch Logs' own limits allow.
pub const EXECUTION_LOG_BATCH_MAX: usize = 1_000;

/// CloudWatch Logs' limits on one `PutLogEvents` call: events, and bytes (each event's
/// message in UTF-8 plus 26).
pub const PUT_LOG_EVENTS_EVENTS_MAX: usize = 10_000;
/// See [`PUT_LOG_EVENTS_EVENTS_MAX`].
pub const PUT_LOG_EVENTS_BYTES_MAX: usize = 1_048_576;

/// CloudWatch Logs' largest event, bytes (its message in UTF-8 plus 26); a larger log event is
/// dropped (and counted).
pub const LOG_EVENT_BYTES_MAX: usize = 262_144;

/// How much of an input or output (JSON-escaped) an execution log event carries: AWS truncates
/// longer ones to fit CloudWatch Logs and says so in `inputDetails`/`outputDetails`
/// (`truncated: true`).
pub const LOGGED_PAYLOAD_BYTES_MAX: usize = 248 * 1024;

/// How long one CloudWatch Logs call may take before its events are given up.
pub const LOGS_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// File descriptors kept free of connections for the database, its journal, the listener
/// and task processes.
pub const FILES_RESERVED: usize = 64;

/// The most pending tasks the console's task list answers with, oldest first: each may carry
/// a 256 KiB input, so the answer stays under about 128 MB however many tasks wait.
pub const PENDING_TASKS_LISTED_MAX: usize = 500;

/// The largest request body read, in bytes (a 1 MiB definition, escaped, fits).
pub const REQUEST_BYTES_MAX: usize = 8 * 1024 * 1024;

/// The longest region a signature's credential scope may name: it becomes part of every ARN
/// the request builds (AWS's region names are at most 14 characters).
pub const REGION_CHARS_MAX: usize = 32;

impl Limits {
    /// `connections_max`, lowered so that connections cannot exhaust `open_files_max`.
    pub fn connections_within(&self, open_files_max: Option<usize>) -> usize {
        match open_files_max {
            Some(files) => self
                .connections_max
                .min(files.saturating_sub(FILES_RESERVED).max(1)),
            None => self.connections_max,
        }
    }
}

/// The process's soft limit on open files, where the system tells it (Linux's
/// `/proc/self/limits`).
pub fn open_files_max() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Parses a duration flag: a number with a unit, `ms`, `s`, `m`, `h` or `d` (`500ms`, `20s`,
/// `90d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: ms, s, m, h or d"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a whole number"))?;
    let unit_millis: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?}: the unit must be ms, s, m, h or d")),
    };
    number
        .checked_mul(unit_millis)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// The most resource writes other nodes announced that may wait to be applied here
/// (`resources.rs`); past it they are dropped and the node reads every resource again.
pub const RESOURCE_CHANGES_QUEUED_MAX: usize = 4_096;

/// How long a node waits before it reads the resources again after failing to (the
/// database was away).
pub const RESOURCE_RETRY_DELAY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let check = |text: &str, millis: Option<u64>| {
            assert_eq!(
                parse_duration(text).ok().map(|d| d.as_millis() as u64),
                millis,
                "{text}"
            )
        };
        check("500ms", Some(500));
        check("20s", Some(20_000));
        check("2m", Some(120_000));
        check("1h", Some(3_600_000));
        check("90d", Some(7_776_000_000));
        check("20", None);
        check("s", None);
        check("1.5s", None);
        check("5w", None);
        check("99999999999999999999d", None);
    }

    #[test]
    fn connections_leave_room_for_files() {
        let limits = Limits::default();
        assert_eq!(limits.connections_within(None), CONNECTIONS_MAX_DEFAULT);
        assert_eq!(
            limits.connections_within(Some(1_024)),
            1_024 - FILES_RESERVED
        );
        assert_eq!(
            limits.connections_within(Some(1_000_000)),
            CONNECTIONS_MAX_DEFAULT
        );
        assert_eq!(limits.connections_within(Some(10)), 1);
    }
}
