//! The `steppe` binary: run and validate state machines locally.
//!
//! `steppe run` runs a definition in-process and reports the result like AWS's
//! `DescribeExecution`; `steppe validate` prints every diagnostic of a definition.

mod graph;
mod logging;
mod tasks;
mod worker;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use steppe_engine::{Config, Execution, HistoryEvent, Status};
use steppe_runtime::{Clock, FastClock, Observer, SystemClock};

#[derive(Parser)]
#[command(
    name = "steppe",
    version,
    about = "A self-hosted, AWS-exact Step Functions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a state machine definition in-process.
    Run(RunArgs),
    /// Validate a definition and print every diagnostic.
    Validate {
        /// The definition file (Amazon States Language JSON).
        definition: PathBuf,
    },
    /// Draw a definition as SVG, Graphviz DOT or a Mermaid flowchart.
    Graph(graph::GraphArgs),
    /// Serve the AWS Step Functions API (default http://127.0.0.1:8083, data in ./steppe-data).
    Server(Box<ServerCommand>),
    /// Work on an activity's tasks: run a command per task (input on stdin, output from stdout).
    Worker(worker::WorkerArgs),
}

#[derive(clap::Args)]
struct ServerCommand {
    #[command(flatten)]
    server: steppe_server::ServerArgs,
    #[command(flatten)]
    log: logging::LogArgs,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The definition file (Amazon States Language JSON).
    definition: PathBuf,
    /// The execution input as JSON text (default `{}`).
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// A file holding the execution input.
    #[arg(long)]
    input_file: Option<PathBuf>,
    /// The workflow type.
    #[arg(
        long = "type",
        value_enum,
        default_value = "STANDARD",
        ignore_case = true
    )]
    workflow_type: WorkflowType,
    /// Print one JSON object shaped like AWS's DescribeExecution response.
    #[arg(long)]
    json: bool,
    /// Print the execution's history events.
    #[arg(long)]
    history: bool,
    /// Use a virtual clock: Waits, retry back-offs and timeouts complete at once.
    #[arg(long)]
    fast_clock: bool,
    #[command(flatten)]
    tasks: tasks::TaskArgs,
}

#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "UPPER")]
enum WorkflowType {
    Standard,
    Express,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Long-running commands log.
    let logs = match &cli.command {
        Command::Server(command) => Some(&command.log),
        Command::Worker(args) => Some(&args.log),
        _ => None,
    };
    if let Some(log) = logs {
        logging::init(log);
    }
    // A failure is printed once: a JSON line where the logs are JSON, else a plain line.
    let json_logs = logs.is_some_and(|log| log.log_format == logging::LogFormat::Json);
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Validate { definition } => validate(&definition),
        Command::Graph(args) => graph::run(&args),
        Command::Worker(args) => worker::run(&args),
        Command::Server(command) => command
            .server
            .options()
            .and_then(steppe_server::run)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            if json_logs {
                tracing::error!("{error:#}");
            } else {
                eprintln!("steppe: {error:#}");
            }
            ExitCode::from(2)
        }
    }
}

fn read_definition(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read definition {}", path.display()))
}

fn validate(path: &Path) -> Result<ExitCode> {
    let text = read_definition(path)?;
    match steppe_asl::compile(&text) {
        Ok(definition) => {
            println!("OK: {} states", definition.state_count());
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                println!("{diagnostic}");
            }
            Ok(ExitCode::from(2))
        }
    }
}

fn run(args: &RunArgs) -> Result<ExitCode> {
    let text = read_definition(&args.definition)?;
    let definition = match steppe_asl::compile(&text) {
        Ok(definition) => definition,
        Err(diagnostics) => {
            eprintln!(
                "{}",
                steppe_asl::diagnostic::invalid_definition_message(&diagnostics)
            );
            return Ok(ExitCode::from(2));
        }
    };
    let input_text = match (&args.input, &args.input_file) {
        (Some(input), _) => input.clone(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read input {}", file.display()))?,
        (None, None) => "{}".to_string(),
    };
    let input: Value =
        serde_json::from_str(&input_text).context("the execution input is not valid JSON")?;
    let system = SystemClock;
    let fast = FastClock::new(system.now_millis());
    let clock: &dyn Clock = if args.fast_clock { &fast } else { &system };
    let name = args
        .definition
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("local");
    let name = args.tasks.name.as_deref().unwrap_or(name);
    let start = clock.now_millis();
    let info = steppe_runtime::local_execution_info(name, &format!("run-{start}"), start);
    let mut task_handler = tasks::handler(&args.tasks, name, &info)?;
    let mut config = match args.workflow_type {
        WorkflowType::Standard => Config::standard(),
        WorkflowType::Express => Config::express(),
    };
    config.record_history = true;
    let mut execution = Execution::new(info, input, config, start as u64);
    let show_progress = !args.json;
    let mut observer = Observer {
        on_event: show_progress.then(|| {
            Box::new(|event: &HistoryEvent| print_progress(event)) as Box<dyn FnMut(&HistoryEvent)>
        }),
        history: Vec::new(),
        keep: args.history,
    };
    steppe_runtime::run_to_end(
        &definition,
        &mut execution,
        clock,
        &mut task_handler,
        &mut observer,
    )?;
    let history = std::mem::take(&mut observer.history);
    drop(observer);
    if args.json {
        let mut description = describe(&execution, &input_text);
        if args.history {
            description["events"] =
                Value::Array(history.iter().map(HistoryEvent::to_json).collect());
        }
        println!("{description}");
    } else {
        for event in &history {
            println!("{}", event.to_json());
        }
        print_result(&execution);
    }
    Ok(if execution.status == Status::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The execution in the shape of AWS's `DescribeExecution` response.
fn describe(execution: &Execution, input_text: &str) -> Value {
    let info = &execution.info;
    let mut description = json!({
        "executionArn": info.execution_arn,
        "stateMachineArn": info.state_machine_arn,
        "name": info.name,
        "status": execution.status.as_str(),
        "startDate": info.start_time_millis as f64 / 1000.0,
        "input": input_text,
        "inputDetails": {"included": true},
        "redriveCount": info.redrive_count,
    });
    if let Some(stop) = execution.stop_time_millis {
        description["stopDate"] = json!(stop as f64 / 1000.0);
    }
    if let Some(output) = &execution.output {
        description["output"] = json!(output.to_string());
        description["outputDetails"] = json!({"included": true});
    }
    if let Some(error) = &execution.error {
        if let Some(name) = &error.error {
            description["error"] = json!(name);
        }
        if let Some(cause) = &error.cause {
            description["cause"] = json!(cause);
        }
    }
    description
}

fn print_progress(event: &HistoryEvent) {
    let details = event.to_json();
    let event_type = event.event_type();
    if let Some(entered) = details.get("stateEnteredEventDetails") {
        eprintln!(
            "→ {} {}  input: {}",
            event_type.trim_end_matches("StateEntered"),
            entered["name"].as_str().unwrap_or_default(),
            entered["input"].as_str().unwrap_or_default()
        );
    } else if let Some(exited) = details.get("stateExitedEventDetails") {
        eprintln!(
            "← {}  output: {}",
            exited["name"].as_str().unwrap_or_default(),
            exited["output"].as_str().unwrap_or_default()
        );
    } else if event_type != "ExecutionStarted" && !event_type.starts_with("Execution") {
        eprintln!("  {event_type}");
    }
}

fn print_result(execution: &Execution) {
    println!("status: {}", execution.status.as_str());
    if let Some(output) = &execution.output {
        println!("output: {output}");
    }
    if let Some(error) = &execution.error {
        println!("error: {}", error.error.as_deref().unwrap_or(""));
        println!("cause: {}", error.cause.as_deref().unwrap_or(""));
    }
}
