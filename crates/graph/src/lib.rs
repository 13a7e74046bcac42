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
//! let mermaid = steppe_graph::render(&graph, steppe_graph::Format::Mermaid).unwrap();
//! assert!(mermaid.contains(r#"-->|"$.n #gt; 1"|"#));
//! let svg = steppe_graph::render(&graph, steppe_graph::Format::Svg).unwrap();
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

/// Draws `graph` in `format`. Only the SVG needs a layout, which a graph too dense to lay out
/// within [`layout::LAYOUT_VERTICES_MAX`] does not get.
pub fn render(graph: &Graph, format: Format) -> Result<String, layout::TooLarge> {
    Ok(match format {
        Format::Svg => svg::render(graph, &layout::layout(graph)?),
        Format::Dot => dot::render(graph),
        Format::Mermaid => mermaid::render(graph),
        Format::Json => format!("{:#}\n", graph.to_json()),
    })
}

/// Why a definition was not drawn.
#[derive(Debug)]
pub enum Error {
    /// It is invalid: its validation diagnostics.
    Invalid(Vec<steppe_asl::Diagnostic>),
    /// It is too dense to lay out.
    TooLarge(layout::TooLarge),
}

/// Compiles `definition` and draws it.
pub fn render_definition(definition: &str, format: Format) -> Result<String, Error> {
    let compiled = steppe_asl::compile(definition).map_err(Error::Invalid)?;
    render(&Graph::from_definition(&compiled), format).map_err(Error::TooLarge)
}
