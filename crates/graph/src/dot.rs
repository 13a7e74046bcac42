//! Graphviz DOT rendering.
//!
//! Graphviz cannot make a node that is also a cluster, so a Parallel or Map state is a
//! cluster holding a header node (the state itself, where incoming edges arrive) and an exit
//! point (where outgoing `Next` and `Catch` edges leave), with its branches or item processor
//! as nested clusters in between. `compound=true` clips those edges at the cluster border.

use crate::model::{EdgeKind, Graph, NodeIdx, NodeKind};
use std::fmt::Write;

/// Renders `graph` as a DOT `digraph`.
pub fn render(graph: &Graph) -> String {
    let mut out = String::new();
    out.push_str("digraph steppe {\n");
    out.push_str("  compound=true;\n  rankdir=TB;\n  newrank=true;\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10, color=\"#7b8794\"];\n");
    if !graph.blocks.is_empty() {
        block(&mut out, graph, 0, 1);
    }
    for edge in &graph.edges {
        edge_line(
            &mut out,
            graph,
            edge.from,
            edge.to,
            &edge.kind,
            edge.label.as_deref(),
        );
    }
    // Containers: header to each child's start, each child's end to the exit point.
    for (node_idx, node) in graph.nodes.iter().enumerate() {
        for &child in &node.children {
            let child_block = &graph.blocks[child];
            let _ = writeln!(
                out,
                "  n{node_idx} -> n{} [style=dotted, arrowhead=none];",
                child_block.start
            );
            let _ = writeln!(
                out,
                "  n{} -> n{node_idx}_exit [style=dotted, arrowhead=none];",
                child_block.end
            );
        }
    }
    out.push_str("}\n");
    out
}

fn block(out: &mut String, graph: &Graph, block_idx: usize, depth: usize) {
    let indent = "  ".repeat(depth);
    for &node_idx in &graph.blocks[block_idx].nodes {
        let node = &graph.nodes[node_idx];
        if node.children.is_empty() {
            let _ = writeln!(
                out,
                "{indent}n{node_idx} [{}];",
                node_attributes(graph, node_idx)
            );
            continue;
        }
        let fill = if node.state_type == "Map" {
            "#f7e8f1"
        } else {
            "#e3f3f3"
        };
        let _ = writeln!(out, "{indent}subgraph cluster_n{node_idx} {{");
        let _ = writeln!(
            out,
            "{indent}  label=\"\"; style=\"rounded\"; color=\"{}\";",
            if node.state_type == "Map" {
                "#b0558f"
            } else {
                "#2a8c8c"
            }
        );
        let _ = writeln!(
            out,
            "{indent}  n{node_idx} [label=\"{}\\n{}\", shape=box, style=\"filled\", fillcolor=\"{fill}\"];",
            quote(&node.name),
            node.state_type
        );
        for &child in &node.children {
            let title = crate::layout::frame_title(graph, child);
            let _ = writeln!(out, "{indent}  subgraph cluster_b{child} {{");
            let _ = writeln!(
                out,
                "{indent}    label=\"{}\"; style=\"dashed\"; color=\"#aab4c0\";",
                quote(&title)
            );
            block(out, graph, child, depth + 2);
            let _ = writeln!(out, "{indent}  }}");
        }
        let _ = writeln!(out, "{indent}  n{node_idx}_exit [shape=point, width=0.06];");
        let _ = writeln!(out, "{indent}}}");
    }
}

fn node_attributes(graph: &Graph, node_idx: NodeIdx) -> String {
    let node = &graph.nodes[node_idx];
    match node.kind {
        NodeKind::Start => {
            "label=\"\", shape=circle, width=0.25, style=filled, fillcolor=\"#3a4655\"".to_string()
        }
        NodeKind::End => {
            "label=\"\", shape=doublecircle, width=0.18, style=filled, fillcolor=\"#3a4655\""
                .to_string()
        }
        NodeKind::State => {
            let (shape, style, fill) = match node.state_type {
                "Task" => ("box", "rounded,filled", "#eef4ff"),
                "Pass" => ("box", "rounded,filled,dashed", "#f5f6f8"),
                "Choice" => ("diamond", "filled", "#fff6e5"),
                "Wait" => ("box", "filled", "#f3efff"),
                "Succeed" => ("box", "rounded,filled", "#eaf8ef"),
                "Fail" => ("box", "rounded,filled", "#fdeeee"),
                _ => ("box", "filled", "#ffffff"),
            };
            format!(
                "label=\"{}\\n{}\", shape={shape}, style=\"{style}\", fillcolor=\"{fill}\"",
                quote(&node.name),
                node.state_type
            )
        }
    }
}

fn edge_line(
    out: &mut String,
    graph: &Graph,
    from: NodeIdx,
    to: NodeIdx,
    kind: &EdgeKind,
    label: Option<&str>,
) {
    let mut attributes: Vec<String> = Vec::new();
    let from_id = if graph.nodes[from].children.is_empty() {
        format!("n{from}")
    } else {
        attributes.push(format!("ltail=cluster_n{from}"));
        format!("n{from}_exit")
    };
    if !graph.nodes[to].children.is_empty() {
        attributes.push(format!("lhead=cluster_n{to}"));
    }
    if let Some(text) = label {
        attributes.push(format!("label=\"{}\"", quote(text)));
    }
    match kind {
        EdgeKind::Catch(_) => {
            attributes.push("style=dashed, color=\"#d9622b\", fontcolor=\"#b34a17\"".to_string())
        }
        EdgeKind::Default => {
            attributes.push("style=dashed, color=\"#c98a12\", fontcolor=\"#9a6a0c\"".to_string())
        }
        EdgeKind::Choice(_) => attributes.push("color=\"#c98a12\"".to_string()),
        _ => {}
    }
    attributes.push(format!("class=\"{}\"", kind.as_str()));
    let _ = writeln!(out, "  {from_id} -> n{to} [{}];", attributes.join(", "));
}

/// Escapes text for a DOT double-quoted string.
fn quote(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
