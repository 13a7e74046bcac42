//! Logs of the long-running subcommands (`server`, `worker`): `tracing` events written to
//! stderr as text or JSON lines, filtered by `RUST_LOG` (default `info`).
//!
//! The short commands (`run`, `validate`, `graph`) print their results instead: what they
//! write is their output, not a log.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, its fields at the top level.
    Json,
}

/// The logging flags of a long-running subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// How log lines are written to stderr; RUST_LOG filters them (default info; e.g.
    /// RUST_LOG=steppe::api=warn drops the line per API call). Since steppe 0.1.0.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// Installs the subscriber for this process. `RUST_LOG` that does not parse is reported
/// once and the default is used.
pub fn init(args: &LogArgs) {
    let (filter, bad_filter) = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => match EnvFilter::try_new(&text) {
            Ok(filter) => (filter, None),
            Err(error) => (EnvFilter::new("info"), Some((text, error))),
        },
        _ => (EnvFilter::new("info"), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
    if let Some((text, error)) = bad_filter {
        tracing::warn!(rust_log = %text, %error, "RUST_LOG does not parse; logging at info");
    }
}
