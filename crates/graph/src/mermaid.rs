//! Mermaid flowchart rendering.
//!
//! A Parallel or Map state is a `subgraph` holding a header node (where edges arrive), one
//! nested subgraph per branch or for the item processor, and an exit point (where edges
//! leave). Edges do not attach to the subgraph itself: Mermaid's layout fails on edges to a
//! subgraph that holds subgraphs.

use crate::model::{EdgeKind, Graph, NodeKind};
use std::fmt::Write;

/// Renders `graph` as a Mermaid `flowchart TD`.
pub fn render(graph: &Graph) -> String {
    let mut out = String::from("flowchart TD\n");
    if !graph.blocks.is_empty() {
        block(&mut out, graph, 0, 1);
    }
    // A container is entered at its header node and left from its exit point: Mermaid's
    // layout fails on edges to subgraphs that hold subgraphs.
    for (node_idx, node) in graph.nodes.iter().enumerate() {
        for &child in &node.children {
            let block = &graph.blocks[child];
            let _ = writeln!(out, "  n{node_idx} -.- n{}", block.start);
            let _ = writeln!(out, "  n{} -.- n{node_idx}_exit", block.end);
        }
    }
    for edge in &graph.edges {
        let from = if graph.nodes[edge.from].children.is_empty() {
            format!("n{}", edge.from)
        } else {
            format!("n{}_exit", edge.from)
        };
        let arrow = match edge.kind {
            EdgeKind::Catch(_) => "-.->",
            EdgeKind::Default => "==>",
            _ => "-->",
        };
        match &edge.label {
            Some(label) => {
                let _ = writeln!(out, "  {from} {arrow}|\"{}\"| n{}", text(label), edge.to);
            }
            None => {
                let _ = writeln!(out, "  {from} {arrow} n{}", edge.to);
            }
        }
    }
    // One class per state type, so that each type has its own look.
    let styles = [
        ("Task", "fill:#eef4ff,stroke:#3b6fd1"),
        ("Pass", "fill:#f5f6f8,stroke:#8a96a6,stroke-dasharray:5 3"),
        ("Choice", "fill:#fff6e5,stroke:#c98a12"),
        ("Wait", "fill:#f3efff,stroke:#7a5bd1"),
        ("Succeed", "fill:#eaf8ef,stroke:#2e9b57"),
        ("Fail", "fill:#fdeeee,stroke:#c93c3c"),
        ("Parallel", "fill:#f4fbfb,stroke:#2a8c8c"),
        ("Map", "fill:#fcf5f9,stroke:#b0558f"),
        ("Start", "fill:#3a4655,stroke:#3a4655,color:#ffffff"),
        ("End", "fill:#3a4655,stroke:#3a4655,color:#ffffff"),
    ];
    for (state_type, style) in styles {
        let members: Vec<String> = graph
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.state_type == state_type)
            .map(|(idx, _)| format!("n{idx}"))
            .collect();
        if !members.is_empty() {
            let _ = writeln!(out, "  classDef sg{state_type} {style}");
            let _ = writeln!(out, "  class {} sg{state_type}", members.join(","));
        }
    }
    out
}

fn block(out: &mut String, graph: &Graph, block_idx: usize, depth: usize) {
    let indent = "  ".repeat(depth);
    for &node_idx in &graph.blocks[block_idx].nodes {
        let node = &graph.nodes[node_idx];
        if !node.children.is_empty() {
            let _ = writeln!(
                out,
                "{indent}subgraph c{node_idx}[\"{} ({})\"]",
                text(&node.name),
                node.state_type
            );
            let _ = writeln!(out, "{indent}  direction TB");
            let _ = writeln!(out, "{indent}  n{node_idx}[[\"{}\"]]", text(&node.name));
            for &child in &node.children {
                let title = crate::layout::frame_title(graph, child);
                let _ = writeln!(out, "{indent}  subgraph b{child}[\"{}\"]", text(&title));
                block(out, graph, child, depth + 2);
                let _ = writeln!(out, "{indent}  end");
            }
            let _ = writeln!(out, "{indent}  n{node_idx}_exit(( ))");
            let _ = writeln!(out, "{indent}end");
            continue;
        }
        let name = text(&node.name);
        let shape = match (node.kind, node.state_type) {
            (NodeKind::Start, _) => "((\"Start\"))".to_string(),
            (NodeKind::End, _) => "(((\"End\")))".to_string(),
            (_, "Choice") => format!("{{\"{name}\"}}"),
            (_, "Pass") => format!("(\"{name}\")"),
            (_, "Wait") => format!("[/\"{name}\"/]"),
            (_, "Succeed" | "Fail") => format!("([\"{name}\"])"),
            _ => format!("[\"{name}\"]"),
        };
        let _ = writeln!(out, "{indent}n{node_idx}{shape}");
    }
}

/// Escapes text inside a Mermaid quoted label with Mermaid's `#code;` entities.
fn text(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '"' => escaped.push_str("#quot;"),
            '<' => escaped.push_str("#lt;"),
            '>' => escaped.push_str("#gt;"),
            '#' => escaped.push_str("#35;"),
            '`' => escaped.push_str("#96;"),
            '\n' | '\r' => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}
