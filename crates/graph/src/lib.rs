//! Draw a state machine definition: a graph model, a layered layout, and SVG, DOT and
//! Mermaid renderers. The CLI's `steppe graph` and the web console draw the same picture.
//!
//! [`Graph::from_definition`] turns a compiled [`steppe_asl::Definition`] into nodes (states
//! and per-block start/end markers), edges (`Next`, Choice rules with readable labels, the
//! marked `Default`, `Catch` with its errors) and nested blocks (Parallel branches and Map
//! item processors). [`layout::layout`] places it; [`render`] draws it.
//!
//! ```
//! let text = r#"{"StartAt": "Check", "States": {
//!     "Check": {"Type": "Choice", "Default": "Done",
//!               "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}]},
//!     "Big": {"Type": "Pass", "End": true},
//!     "Done": {"Type": "Succeed"}}}"#;
//! let definition = steppe_asl::compile(text).expect("valid definition");
//! let graph = steppe_graph::Graph::from_definition(&definition);
//! assert_eq!(graph.state_count(), 3);
//! let mermaid = steppe_graph::render(&graph, steppe_graph::Format::Mermaid);
//! assert!(mermaid.contains(r#"-->|"$.n #gt; 1"|"#));
//! let svg = steppe_graph::render(&graph, steppe_graph::Format::Svg);
//! assert!(svg.contains(r#"data-state="Big""#));
//! ```
//!
//! Why a hand-written layout rather than a crate: `layout-rs`, the one maintained Rust
//! Graphviz-style layout, documents that it lacks nested graphs (clusters), and nested
//! Parallel/Map containers are the point here. Because ASL edges never leave their `States`
//! block, a compound layout reduces to one plain layered layout per block, innermost first,
//! with each container sized to hold its children ([`layout`] explains the steps).

#![forbid(unsafe_code)]

pub mod dot;
pub mod label;
pub mod layout;
pub mod mermaid;
pub mod model;
pub mod svg;

pub use model::{Block, BlockKind, Edge, EdgeKind, Graph, Node, NodeKind};

use std::str::FromStr;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A self-contained SVG document, laid out by [`layout`].
    Svg,
    /// Graphviz DOT, with clusters for containers.
    Dot,
    /// A Mermaid flowchart, with subgraphs for containers.
    Mermaid,
    /// The graph model as JSON (what the console reads next to the SVG).
    Json,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        match text.to_ascii_lowercase().as_str() {
            "svg" => Ok(Format::Svg),
            "dot" => Ok(Format::Dot),
            "mermaid" => Ok(Format::Mermaid),
            "json" => Ok(Format::Json),
            other => Err(format!(
                "unknown format '{other}' (expected svg, dot, mermaid or json)"
            )),
        }
    }
}

/// Draws `graph` in `format`.
pub fn render(graph: &Graph, format: Format) -> String {
    match format {
        Format::Svg => svg::render(graph, &layout::layout(graph)),
        Format::Dot => dot::render(graph),
        Format::Mermaid => mermaid::render(graph),
        Format::Json => format!("{:#}\n", graph.to_json()),
    }
}

/// Compiles `definition` and draws it; `Err` holds the validation diagnostics.
pub fn render_definition(
    definition: &str,
    format: Format,
) -> Result<String, Vec<steppe_asl::Diagnostic>> {
    let compiled = steppe_asl::compile(definition)?;
    Ok(render(&Graph::from_definition(&compiled), format))
}
