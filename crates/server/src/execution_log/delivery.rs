//! The execution log's delivery thread: takes queued log events in batches, appends them to the
//! `--execution-log` file and sends them to CloudWatch Logs (`PutLogEvents`, creating each
//! stream first), off the engine's and the driver's paths.
//!
//! CloudWatch Logs is spoken with `steppe-tasks`' service client (the `logs` service: AWS JSON
//! 1.1, SigV4-signed with the same credentials and endpoints as the service integrations); its
//! calls are blocking, which is why delivery has a thread of its own.

use super::Record;
use crate::limits::{
    EXECUTION_LOG_BATCH_MAX, EXECUTION_LOG_QUEUE_MAX, LOGS_CALL_TIMEOUT, PUT_LOG_EVENTS_BYTES_MAX,
    PUT_LOG_EVENTS_EVENTS_MAX,
};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::SystemTime;
use steppe_tasks::services::{self, Services};
use steppe_tasks::transport;

/// CloudWatch Logs' signing name, and its name in `--service-endpoint logs=URL`.
const LOGS: &str = "logs";

/// Events in one `PutLogEvents` call may span at most this long (CloudWatch Logs' limit).
const PUT_LOG_EVENTS_SPAN_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// Where CloudWatch Logs is, and how calls to it are signed.
#[derive(Debug, Clone)]
pub struct Cloudwatch {
    services: Services,
    endpoint: String,
}

impl Cloudwatch {
    /// CloudWatch Logs at the `logs` endpoint of `services` (`--service-endpoint logs=URL`, else
    /// `--aws-endpoint`), if there is one.
    pub fn from_services(services: &Services) -> Option<Cloudwatch> {
        let endpoint = services
            .endpoints
            .get(LOGS)
            .or(services.default_endpoint.as_ref())?;
        Some(Cloudwatch {
            services: services.clone(),
            endpoint: endpoint.clone(),
        })
    }

    /// Calls `operation`; `Err` is the error code (the `__type` after its `#`) and message, or
    /// why there was no answer.
    pub(super) fn call(&self, operation: &str, body: &Value) -> Result<(), (String, String)> {
        let service = services::SERVICES
            .iter()
            .find(|service| service.signing_name == LOGS)
            .expect("the logs service is one of SERVICES");
        let mut request = services::request(service, operation, body, &self.endpoint);
        services::sign(&mut request, LOGS, &self.services, SystemTime::now())
            .map_err(|why| ("SigningFailed".to_string(), why))?;
        let response = transport::send(&request, LOGS_CALL_TIMEOUT, None)
            .map_err(|error| ("NoAnswer".to_string(), error.to_string()))?;
        if response.status == 200 {
            return Ok(());
        }
        let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let code = answer
            .get("__type")
            .and_then(Value::as_str)
            .map(|code| code.rsplit('#').next().unwrap_or(code).to_string())
            .unwrap_or_else(|| format!("HTTP {}", response.status));
        let message = answer
            .get("message")
            .or_else(|| answer.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Err((code, message))
    }
}

/// Starts the thread; it runs until every sender is gone.
pub(super) fn spawn(
    receiver: Receiver<Record>,
    file: Option<std::fs::File>,
    cloudwatch: Option<Cloudwatch>,
    dropped: Arc<AtomicU64>,
    metrics: Arc<crate::metrics::Metrics>,
) -> std::io::Result<()> {
    let mut delivery = Delivery {
        file: file.map(std::io::BufWriter::new),
        file_failing: false,
        cloudwatch,
        streams: HashMap::new(),
        missing_groups: HashSet::new(),
        hasher: std::collections::hash_map::RandomState::new(),
        dropped,
        dropped_reported: 0,
        metrics,
    };
    std::thread::Builder::new()
        .name("steppe-execution-log".into())
        .spawn(move || {
            while let Ok(first) = receiver.recv() {
                let mut batch = vec![first];
                while batch.len() < EXECUTION_LOG_BATCH_MAX {
                    match receiver.try_recv() {
                        Ok(record) => batch.push(record),
                        Err(_) => break,
                    }
                }
                delivery.deliver(batch);
            }
        })?;
    Ok(())
}

struct Delivery {
    file: Option<std::io::BufWriter<std::fs::File>>,
    /// The file failed last time (said once until it works again).
    file_failing: bool,
    cloudwatch: Option<Cloudwatch>,
    /// Each (log group, machine)'s current stream, once created, with its date.
    streams: HashMap<(String, String), (String, String)>,
    /// Log groups found missing (said once until they are found again).
    missing_groups: HashSet<String>,
    hasher: std::collections::hash_map::RandomState,
    dropped: Arc<AtomicU64>,
    dropped_reported: u64,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Delivery {
    fn deliver(&mut self, batch: Vec<Record>) {
        self.report_dropped();
        self.write_file(&batch);
        if self.cloudwatch.is_some() {
            let mut by_stream: Vec<(StreamKey, Vec<Record>)> = Vec::new();
            for record in batch {
                let key = StreamKey {
                    log_group: record.log_group.clone(),
                    machine_name: record.machine_name.clone(),
                    date: stream_date(record.timestamp_millis, record.express),
                };
                match by_stream.iter_mut().find(|(existing, _)| *existing == key) {
                    Some((_, records)) => records.push(record),
                    None => by_stream.push((key, vec![record])),
                }
            }
            for (key, mut records) in by_stream {
                // PutLogEvents takes events in time order (stable: an execution's own order).
                records.sort_by_key(|record| record.timestamp_millis);
                for chunk in chunks(&records) {
                    self.put(&key, chunk);
                }
            }
        }
    }

    /// Says how many events were dropped since it last said so.
    fn report_dropped(&mut self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.dropped_reported {
            tracing::warn!(
                dropped = dropped - self.dropped_reported,
                dropped_total = dropped,
                queue_max = EXECUTION_LOG_QUEUE_MAX,
                "execution log events dropped: the queue was full (delivery is slower than \
                 executions log) or an event was larger than CloudWatch Logs takes"
            );
            self.metrics
                .execution_log_events_dropped(dropped - self.dropped_reported);
            self.dropped_reported = dropped;
        }
    }

    fn write_file(&mut self, batch: &[Record]) {
        let Some(file) = &mut self.file else {
            return;
        };
        let written = batch
            .iter()
            .try_for_each(|record| writeln!(file, "{}", record.message))
            .and_then(|()| file.flush());
        match written {
            Ok(()) => self.file_failing = false,
            Err(error) => {
                if !self.file_failing {
                    tracing::error!(%error, "cannot write the execution log file: events are lost");
                }
                self.file_failing = true;
            }
        }
    }

    /// Sends one chunk of one stream's events, creating the stream first when needed.
    fn put(&mut self, key: &StreamKey, records: &[Record]) {
        let Some(cloudwatch) = self.cloudwatch.clone() else {
            return;
        };
        let StreamKey {
            log_group,
            machine_name,
            date,
        } = key;
        let current = (log_group.clone(), machine_name.clone());
        let stream = match self.streams.get(&current) {
            Some((stream_date, stream)) if stream_date == date => stream.clone(),
            _ => {
                let random = self.hasher.hash_one((log_group, machine_name, date));
                let stream = format!("states/{machine_name}/{date}/{:08x}", random as u32);
                if !self.create_stream(&cloudwatch, log_group, &stream, records.len()) {
                    self.metrics
                        .execution_log_events_dropped(records.len() as u64);
                    return;
                }
                self.streams
                    .insert(current.clone(), (date.clone(), stream.clone()));
                stream
            }
        };
        let body = json!({
            "logGroupName": log_group,
            "logStreamName": stream,
            "logEvents": records.iter().map(|record| json!({
                "timestamp": record.timestamp_millis,
                "message": record.message,
            })).collect::<Vec<_>>(),
        });
        let mut answer = cloudwatch.call("PutLogEvents", &body);
        if matches!(&answer, Err((code, _)) if code == "ResourceNotFoundException") {
            // The stream (or its group) went away: make the stream again, once.
            if !self.create_stream(&cloudwatch, log_group, &stream, records.len()) {
                self.metrics
                    .execution_log_events_dropped(records.len() as u64);
                self.streams.remove(&current);
                return;
            }
            answer = cloudwatch.call("PutLogEvents", &body);
        }
        if let Err((code, message)) = answer {
            tracing::warn!(
                log_group,
                log_stream = stream,
                events = records.len(),
                code,
                message,
                "execution log events could not be sent to CloudWatch Logs: dropped"
            );
            self.metrics
                .execution_log_events_dropped(records.len() as u64);
        }
    }

    /// Creates a stream (an existing one will do); `false` (after saying why) when it cannot
    /// be, and the `events` waiting for it are dropped.
    fn create_stream(
        &mut self,
        cloudwatch: &Cloudwatch,
        log_group: &str,
        stream: &str,
        events: usize,
    ) -> bool {
        let body = json!({"logGroupName": log_group, "logStreamName": stream});
        match cloudwatch.call("CreateLogStream", &body) {
            Ok(()) => {}
            Err((code, _)) if code == "ResourceAlreadyExistsException" => {}
            Err((code, message)) if code == "ResourceNotFoundException" => {
                if self.missing_groups.insert(log_group.to_string()) {
                    tracing::warn!(
                        log_group,
                        events,
                        message,
                        "the log group of execution logs does not exist: their events are dropped \
                         until it does"
                    );
                }
                return false;
            }
            Err((code, message)) => {
                tracing::warn!(
                    log_group,
                    log_stream = stream,
                    events,
                    code,
                    message,
                    "cannot create the log stream for execution logs: their events are dropped"
                );
                return false;
            }
        }
        self.missing_groups.remove(log_group);
        true
    }
}

/// Which stream an event goes to: its log group, machine, and the date in the stream's name.
#[derive(Debug, PartialEq, Eq)]
struct StreamKey {
    log_group: String,
    machine_name: String,
    date: String,
}

/// The date part of AWS's stream names (`states/MACHINE/DATE/XXXXXXXX`) for an event at
/// `millis`: `YYYY-MM-DD-HH-MM` for Express machines, `YYYY-MM-DD-HH` for Standard ones (UTC).
fn stream_date(millis: i64, express: bool) -> String {
    // 2026-12-03T10:15:00Z or 2026-12-03T10:15:00.123Z
    let time = steppe_asl::timestamp::format_iso8601(millis);
    match (time.get(0..10), time.get(11..13), time.get(14..16)) {
        (Some(date), Some(hour), Some(minute)) if express => format!("{date}-{hour}-{minute}"),
        (Some(date), Some(hour), _) => format!("{date}-{hour}"),
        _ => "0000-00-00-00".to_string(),
    }
}

/// `records` cut into runs that fit one `PutLogEvents` call: at most
/// [`PUT_LOG_EVENTS_EVENTS_MAX`] events and [`PUT_LOG_EVENTS_BYTES_MAX`] bytes, spanning less
/// than a day.
fn chunks(records: &[Record]) -> Vec<&[Record]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, record) in records.iter().enumerate() {
        let size = record.message.len() + 26;
        let full = index - start == PUT_LOG_EVENTS_EVENTS_MAX
            || bytes + size > PUT_LOG_EVENTS_BYTES_MAX
            || record.timestamp_millis - records[start].timestamp_millis
                >= PUT_LOG_EVENTS_SPAN_MILLIS;
        if full && index > start {
            chunks.push(&records[start..index]);
            start = index;
            bytes = 0;
        }
        bytes += size;
    }
    if start < records.len() {
        chunks.push(&records[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(millis: i64, bytes: usize) -> Record {
        Record {
            log_group: "g".into(),
            machine_name: "m".into(),
            express: false,
            timestamp_millis: millis,
            message: "x".repeat(bytes),
        }
    }

    #[test]
    fn streams_are_dated_as_aws_dates_them() {
        // 2022-11-10T15:50:39.607Z: an Express machine's stream (by the minute), a Standard
        // one's (by the hour).
        assert_eq!(stream_date(1_668_095_439_607, true), "2022-11-10-15-50");
        assert_eq!(stream_date(1_668_095_439_607, false), "2022-11-10-15");
    }

    #[test]
    fn batches_fit_put_log_events() {
        let sizes = |chunks: Vec<&[Record]>| chunks.iter().map(|c| c.len()).collect::<Vec<_>>();
        let small: Vec<Record> = (0..PUT_LOG_EVENTS_EVENTS_MAX + 5)
            .map(|i| record(i as i64, 1))
            .collect();
        assert_eq!(sizes(chunks(&small)), vec![PUT_LOG_EVENTS_EVENTS_MAX, 5]);
        let large: Vec<Record> = (0..9).map(|i| record(i, 200_000)).collect();
        assert_eq!(sizes(chunks(&large)), vec![5, 4]);
        let day = PUT_LOG_EVENTS_SPAN_MILLIS;
        let spread = vec![record(0, 1), record(day - 1, 1), record(day, 1)];
        assert_eq!(sizes(chunks(&spread)), vec![2, 1]);
        assert!(chunks(&[]).is_empty());
    }
}
