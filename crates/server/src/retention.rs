//! Retention: closed Standard executions, with their histories and everything else keyed by
//! them, are deleted once they have been closed longer than the retention period (90 days
//! by default, as AWS keeps them).
//!
//! A background task sweeps every `retention_sweep_interval`: it asks the store to delete
//! the executions closed before `now - retention` in batches of [`DELETE_BATCH_MAX`], each
//! one short transaction through the store's writer (so requests' commits queue behind at
//! most one batch), with a pause of [`BATCH_PAUSE`] between batches, and tells the driver
//! to forget each deleted execution. A deleted execution simply no longer exists: describe,
//! history and redrive answer `ExecutionDoesNotExist`, `ListExecutions` leaves it out.
//! (AWS allows a redrive up to 14 days after the close, well inside the default period.)

use crate::app::App;
use std::sync::Arc;
use std::time::Duration;

/// How long AWS keeps closed executions: 90 days.
pub const RETENTION_DEFAULT: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// How often the sweep runs unless told otherwise.
pub const SWEEP_INTERVAL_DEFAULT: Duration = Duration::from_secs(60);
/// The most executions one deletion transaction removes. An execution has tens of rows
/// (its inputs and events), so a batch holds the writer for milliseconds, not seconds.
pub const DELETE_BATCH_MAX: usize = 128;
/// The pause between two batches, in which the writer commits the requests' work.
pub const BATCH_PAUSE: Duration = Duration::from_millis(5);

/// A retention period as `steppe server --retention` takes it: a whole number and a unit,
/// `ms`, `s`, `m`, `h` or `d` (`30s`, `12h`, `90d`), or `off` to keep closed executions forever.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention(pub Option<Duration>);

impl std::str::FromStr for Retention {
    type Err = String;

    fn from_str(text: &str) -> Result<Retention, String> {
        if text == "off" {
            return Ok(Retention(None));
        }
        match crate::limits::parse_duration(text) {
            Ok(period) if period.is_zero() => Err(format!(
                "'{text}' would delete executions as they end; use off to keep them forever, or a longer period"
            )),
            Ok(period) => Ok(Retention(Some(period))),
            Err(_) => Err(format!(
                "'{text}' is not a period such as 90d, 12h, 30m, 30s or off"
            )),
        }
    }
}

/// Sweeps every `interval` until the server stops (which aborts the task running this).
pub async fn run(app: Arc<App>, retention: Duration, interval: Duration) {
    loop {
        sweep(&app, retention).await;
        tokio::time::sleep(interval).await;
    }
}

/// Deletes every execution closed longer than `retention`, batch by batch; returns how
/// many went.
pub async fn sweep(app: &Arc<App>, retention: Duration) -> usize {
    let retention_millis = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let cutoff_millis = app.now_millis().saturating_sub(retention_millis);
    let mut deleted = 0;
    loop {
        let store = app.store.clone();
        let batch = tokio::task::spawn_blocking(move || {
            store.delete_closed_before(cutoff_millis, DELETE_BATCH_MAX)
        })
        .await;
        let ids = match batch {
            Ok(Ok(ids)) => ids,
            Ok(Err(steppe_store::Error::Closed)) => return deleted,
            Ok(Err(error)) => {
                tracing::error!(%error, "retention: deleting closed executions failed");
                return deleted;
            }
            Err(error) => {
                tracing::error!(%error, "retention: the deletion task failed");
                return deleted;
            }
        };
        for id in &ids {
            app.driver.forget(*id);
        }
        deleted += ids.len();
        if ids.len() < DELETE_BATCH_MAX {
            return deleted;
        }
        tokio::time::sleep(BATCH_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_with_their_unit() {
        let parse = |text: &str| text.parse::<Retention>();
        assert_eq!(parse("90d"), Ok(Retention(Some(RETENTION_DEFAULT))));
        assert_eq!(parse("1h"), Ok(Retention(Some(Duration::from_secs(3600)))));
        assert_eq!(parse("30m"), Ok(Retention(Some(Duration::from_secs(1800)))));
        assert_eq!(parse("30s"), Ok(Retention(Some(Duration::from_secs(30)))));
        assert_eq!(parse("off"), Ok(Retention(None)));
        for bad in ["", "d", "90", "1.5h", "-1d", "90 d", "1w"] {
            assert_eq!(
                parse(bad),
                Err(format!(
                    "'{bad}' is not a period such as 90d, 12h, 30m, 30s or off"
                )),
                "{bad}"
            );
        }
        assert!(parse("0s").is_err());
        assert!(parse("99999999999999999d").is_err());
    }
}
