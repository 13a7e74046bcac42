//! `steppe graph`: draw a definition as SVG, Graphviz DOT or a Mermaid flowchart.
//!
//! The drawing is the one the web console shows (same model, same layout for SVG).
//! An invalid definition prints every diagnostic on stderr and exits 2, like `steppe run`.

use anyhow::{Context, Result};
use clap::ValueEnum;
use std::path::PathBuf;
use std::process::ExitCode;
use steppe_graph::Format;

/// Arguments of `steppe graph`.
#[derive(clap::Args)]
pub struct GraphArgs {
    /// The definition file (Amazon States Language JSON).
    definition: PathBuf,
    /// The output format.
    #[arg(long, value_enum, default_value = "svg", ignore_case = true)]
    format: GraphFormat,
    /// Write the drawing to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// A self-contained SVG image.
    Svg,
    /// Graphviz DOT (render with `dot -Tsvg`).
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// The graph model as JSON.
    Json,
}

/// Runs `steppe graph`.
pub fn run(args: &GraphArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("cannot read definition {}", args.definition.display()))?;
    let format = match args.format {
        GraphFormat::Svg => Format::Svg,
        GraphFormat::Dot => Format::Dot,
        GraphFormat::Mermaid => Format::Mermaid,
        GraphFormat::Json => Format::Json,
    };
    let drawing = match steppe_graph::render_definition(&text, format) {
        Ok(drawing) => drawing,
        Err(steppe_graph::Error::Invalid(diagnostics)) => {
            for diagnostic in &diagnostics {
                eprintln!("{diagnostic}");
            }
            return Ok(ExitCode::from(2));
        }
        Err(steppe_graph::Error::TooLarge(too_large)) => {
            eprintln!("steppe: {too_large}; --format dot or mermaid draws it without a layout");
            return Ok(ExitCode::from(2));
        }
    };
    match &args.output {
        Some(path) => std::fs::write(path, drawing)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{drawing}"),
    }
    Ok(ExitCode::SUCCESS)
}
