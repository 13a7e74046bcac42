//! The graph model of real definitions: the examples and a Parallel/Map/Choice/Catch machine.
//!
//! Each test lists every node (name, type, container) and every edge (kind, label) of the
//! graph, so a missing, extra or mislabelled edge fails.

use std::collections::BTreeSet;
use steppe_graph::{Format, Graph, NodeKind};

fn example(name: &str) -> String {
    let path = format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn graph(text: &str) -> Graph {
    let definition = steppe_asl::compile(text).expect("valid definition");
    Graph::from_definition(&definition)
}

/// A node's name for the listings: states by name, markers by the block's owner.
fn key(graph: &Graph, node_idx: usize) -> String {
    let node = &graph.nodes[node_idx];
    let owner = match graph.blocks[node.block].owner {
        Some(owner) => format!(
            "{}#{}",
            graph.nodes[owner].name,
            block_position(graph, node.block)
        ),
        None => "machine".to_string(),
    };
    match node.kind {
        NodeKind::State => node.name.clone(),
        NodeKind::Start => format!("(start {owner})"),
        NodeKind::End => format!("(end {owner})"),
    }
}

fn block_position(graph: &Graph, block: usize) -> usize {
    let owner = graph.blocks[block].owner.expect("nested block");
    graph.nodes[owner]
        .children
        .iter()
        .position(|&child| child == block)
        .expect("owned block")
}

/// `Name:Type in Container` for every state.
fn nodes(graph: &Graph) -> BTreeSet<String> {
    graph
        .nodes
        .iter()
        .filter(|node| node.kind == NodeKind::State)
        .map(|node| {
            let container = match graph.blocks[node.block].owner {
                Some(owner) => graph.nodes[owner].name.clone(),
                None => "machine".to_string(),
            };
            format!("{}:{} in {container}", node.name, node.state_type)
        })
        .collect()
}

/// `From -kind-> To` (with the label in brackets) for every edge.
fn edges(graph: &Graph) -> BTreeSet<String> {
    graph
        .edges
        .iter()
        .map(|edge| {
            let label = edge
                .label
                .as_ref()
                .map(|label| format!(" [{label}]"))
                .unwrap_or_default();
            format!(
                "{} -{}-> {}{label}",
                key(graph, edge.from),
                edge.kind.as_str(),
                key(graph, edge.to)
            )
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}

#[test]
fn order_fulfilment_has_choice_rules_default_map_and_catch() {
    let graph = graph(&example("order-fulfilment.json"));
    assert_eq!(
        nodes(&graph),
        set(&[
            "ValidateOrder:Choice in machine",
            "FlagHighValue:Pass in machine",
            "ReserveStock:Map in machine",
            "CheckQuantity:Choice in ReserveStock",
            "OutOfStock:Fail in ReserveStock",
            "Reserved:Pass in ReserveStock",
            "ManualReview:Pass in machine",
            "Confirm:Pass in machine",
            "RejectEmptyOrder:Fail in machine",
        ])
    );
    assert_eq!(
        edges(&graph),
        set(&[
            "(start machine) -start-> ValidateOrder",
            "ValidateOrder -choice-> RejectEmptyOrder [not $.items[0] is present]",
            "ValidateOrder -choice-> FlagHighValue [$.total >= 1000]",
            "ValidateOrder -default-> ReserveStock [Default]",
            "FlagHighValue -next-> ReserveStock",
            "ReserveStock -next-> Confirm",
            "ReserveStock -catch-> ManualReview [Catch OutOfStock]",
            "ManualReview -end-> (end machine)",
            "Confirm -end-> (end machine)",
            "RejectEmptyOrder -end-> (end machine)",
            "(start ReserveStock#0) -start-> CheckQuantity",
            "CheckQuantity -choice-> OutOfStock [$.quantity > 10]",
            "CheckQuantity -default-> Reserved [Default]",
            "OutOfStock -end-> (end ReserveStock#0)",
            "Reserved -end-> (end ReserveStock#0)",
        ])
    );
}

#[test]
fn data_processing_map_has_three_way_choice() {
    let graph = graph(&example("data-processing.json"));
    assert_eq!(
        edges(&graph),
        set(&[
            "(start machine) -start-> Normalise",
            "Normalise -next-> Summarise",
            "Summarise -end-> (end machine)",
            "(start Normalise#0) -start-> Classify",
            "Classify -choice-> Hot [$.celsius > 30]",
            "Classify -choice-> Cold [$.celsius < 5]",
            "Classify -default-> Mild [Default]",
            "Hot -end-> (end Normalise#0)",
            "Cold -end-> (end Normalise#0)",
            "Mild -end-> (end Normalise#0)",
        ])
    );
}

#[test]
fn retries_example_catches_from_a_parallel() {
    let graph = graph(&example("retries.json"));
    let edges = edges(&graph);
    assert!(edges.contains("CallFlakyService -catch-> UseCachedValue [Catch States.ALL]"));
    assert!(edges.contains("(start CallFlakyService#0) -start-> Attempt"));
    assert!(edges.contains("Attempt -end-> (end CallFlakyService#0)"));
    assert!(edges.contains("CallFlakyService -end-> (end machine)"));
}

const NESTED: &str = r#"{
  "StartAt": "Fan",
  "States": {
    "Fan": {
      "Type": "Parallel",
      "Branches": [
        {"StartAt": "Charge", "States": {
          "Charge": {"Type": "Task", "Resource": "arn:aws:states:::activity:charge",
                     "Catch": [{"ErrorEquals": ["Card.Declined", "States.Timeout"], "Next": "Declined"}],
                     "Next": "Charged"},
          "Charged": {"Type": "Succeed"},
          "Declined": {"Type": "Fail", "Error": "Declined"}}},
        {"StartAt": "Each", "States": {
          "Each": {"Type": "Map", "ItemProcessor": {"StartAt": "Inner", "States": {
              "Inner": {"Type": "Parallel", "Branches": [
                {"StartAt": "Deep", "States": {"Deep": {"Type": "Wait", "Seconds": 1, "End": true}}}
              ], "End": true}}},
            "End": true}}}
      ],
      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
      "Next": "Route"
    },
    "Route": {"Type": "Choice",
      "Choices": [{"And": [{"Variable": "$.a", "StringEquals": "x"}, {"Variable": "$.b", "IsPresent": true}], "Next": "Done"}],
      "Default": "Route2"},
    "Route2": {"Type": "Choice",
      "Choices": [{"Variable": "$.again", "BooleanEquals": true, "Next": "Route"}],
      "Default": "Done"},
    "Recover": {"Type": "Pass", "Next": "Done"},
    "Done": {"Type": "Succeed"}
  }
}"#;

#[test]
fn parallel_map_choice_catch_nest_as_containers() {
    let graph = graph(NESTED);
    assert_eq!(
        nodes(&graph),
        set(&[
            "Fan:Parallel in machine",
            "Charge:Task in Fan",
            "Charged:Succeed in Fan",
            "Declined:Fail in Fan",
            "Each:Map in Fan",
            "Inner:Parallel in Each",
            "Deep:Wait in Inner",
            "Route:Choice in machine",
            "Route2:Choice in machine",
            "Recover:Pass in machine",
            "Done:Succeed in machine",
        ])
    );
    assert_eq!(
        edges(&graph),
        set(&[
            "(start machine) -start-> Fan",
            "Fan -next-> Route",
            "Fan -catch-> Recover [Catch States.ALL]",
            "Route -choice-> Done [$.a == \"x\" and $.b is present]",
            "Route -default-> Route2 [Default]",
            "Route2 -choice-> Route [$.again == true]",
            "Route2 -default-> Done [Default]",
            "Recover -next-> Done",
            "Done -end-> (end machine)",
            "(start Fan#0) -start-> Charge",
            "Charge -next-> Charged",
            "Charge -catch-> Declined [Catch Card.Declined, States.Timeout]",
            "Charged -end-> (end Fan#0)",
            "Declined -end-> (end Fan#0)",
            "(start Fan#1) -start-> Each",
            "Each -end-> (end Fan#1)",
            "(start Each#0) -start-> Inner",
            "Inner -end-> (end Each#0)",
            "(start Inner#0) -start-> Deep",
            "Deep -end-> (end Inner#0)",
        ])
    );
    // Two branches for Fan, one item processor for Each, in order.
    let fan = graph.node_named("Fan").expect("Fan");
    assert_eq!(graph.nodes[fan].children.len(), 2);
    let each = graph.node_named("Each").expect("Each");
    assert_eq!(
        graph.blocks[graph.nodes[each].children[0]].kind,
        steppe_graph::BlockKind::ItemProcessor
    );
}

#[test]
fn jsonata_condition_labels_show_the_expression() {
    let graph = graph(
        r#"{"QueryLanguage": "JSONata", "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n > 2 %}", "Next": "D"}], "Default": "D"},
            "D": {"Type": "Succeed"}}}"#,
    );
    assert!(edges(&graph).contains("C -choice-> D [$states.input.n > 2]"));
}

#[test]
fn layout_keeps_containers_around_their_children_and_boxes_apart() {
    let graph = graph(NESTED);
    let layout = steppe_graph::layout::layout(&graph).unwrap();
    let inside = |inner: steppe_graph::layout::Rect, outer: steppe_graph::layout::Rect| {
        inner.x >= outer.x
            && inner.y >= outer.y
            && inner.x + inner.width <= outer.x + outer.width + 0.01
            && inner.y + inner.height <= outer.y + outer.height + 0.01
    };
    for (node_idx, node) in graph.nodes.iter().enumerate() {
        if let Some(owner) = graph.blocks[node.block].owner {
            assert!(
                inside(layout.nodes[node_idx], layout.nodes[owner]),
                "{} is outside {}",
                node.name,
                graph.nodes[owner].name
            );
            assert!(inside(layout.nodes[node_idx], layout.frames[node.block]));
        }
    }
    // No two boxes of a block overlap.
    for block in &graph.blocks {
        for (i, &a) in block.nodes.iter().enumerate() {
            for &b in &block.nodes[i + 1..] {
                let (ra, rb) = (layout.nodes[a], layout.nodes[b]);
                let apart = ra.x + ra.width <= rb.x
                    || rb.x + rb.width <= ra.x
                    || ra.y + ra.height <= rb.y
                    || rb.y + rb.height <= ra.y;
                assert!(
                    apart,
                    "{} overlaps {}",
                    graph.nodes[a].name, graph.nodes[b].name
                );
            }
        }
    }
    // Every edge is routed from its source's border to its target's border.
    for (edge_idx, edge) in graph.edges.iter().enumerate() {
        let route = &layout.edges[edge_idx];
        assert!(route.points.len() >= 2, "edge {edge_idx} has no route");
        let near = |point: (f64, f64), rect: steppe_graph::layout::Rect| {
            point.0 >= rect.x - 0.5
                && point.0 <= rect.x + rect.width + 0.5
                && (point.1 - rect.y).abs() < 0.5
                || (point.1 - rect.y - rect.height).abs() < 0.5
        };
        assert!(near(route.points[0], layout.nodes[edge.from]));
        assert!(near(
            *route.points.last().expect("points"),
            layout.nodes[edge.to]
        ));
    }
    // The start marker is above StartAt, which is above the end marker.
    let start = layout.nodes[graph.blocks[0].start];
    let fan = layout.nodes[graph.node_named("Fan").expect("Fan")];
    let end = layout.nodes[graph.blocks[0].end];
    assert!(start.y + start.height <= fan.y && fan.y + fan.height <= end.y);
}

#[test]
fn every_format_draws_every_state() {
    let graph = graph(NESTED);
    let svg = steppe_graph::render(&graph, Format::Svg).unwrap();
    let dot = steppe_graph::render(&graph, Format::Dot).unwrap();
    let mermaid = steppe_graph::render(&graph, Format::Mermaid).unwrap();
    for node in graph
        .nodes
        .iter()
        .filter(|node| node.kind == NodeKind::State)
    {
        assert!(
            svg.contains(&format!("data-state=\"{}\"", node.name)),
            "svg: {}",
            node.name
        );
        assert!(
            dot.contains(&format!("label=\"{}\\n{}\"", node.name, node.state_type)),
            "dot: {}",
            node.name
        );
        assert!(
            mermaid.contains(&format!("\"{}", node.name)),
            "mermaid: {}",
            node.name
        );
    }
    assert_eq!(svg.matches("class=\"sg-edge ").count(), graph.edges.len());
    assert_eq!(
        svg.matches("sg-edge-catch").count(),
        2 + 1,
        "two catch paths and the CSS rule"
    );
    assert!(svg.contains("sg-edge-default"));
    assert!(dot.contains("subgraph cluster_n"));
    assert!(
        !dot.contains("[, "),
        "every attribute list starts with an attribute"
    );
    // Checked by hand with Graphviz (`dot -Tsvg`) and Mermaid 11 (`mermaid.render` in
    // Chromium): edges attach to a container's header and leave from its exit point.
    assert!(dot.contains("_exit -> "));
    assert!(mermaid.contains("_exit -.->|\"Catch States.ALL\"|"));
    assert!(dot.contains("lhead=cluster_n") || dot.contains("ltail=cluster_n"));
    assert_eq!(mermaid.matches("-.->").count(), 2, "catch edges are dotted");
    assert_eq!(mermaid.matches("==>").count(), 2, "default edges are thick");
    assert!(mermaid.contains("subgraph"));
    assert!(mermaid.starts_with("flowchart TD\n"));
}

#[test]
fn names_are_escaped_in_every_format() {
    let graph = graph(
        r#"{"StartAt": "a<b> & \"c\"", "States": {"a<b> & \"c\"": {"Type": "Pass", "End": true}}}"#,
    );
    let svg = steppe_graph::render(&graph, Format::Svg).unwrap();
    assert!(svg.contains("a&lt;b&gt; &amp; &quot;c&quot;"));
    assert!(!svg.contains("a<b>"));
    let mermaid = steppe_graph::render(&graph, Format::Mermaid).unwrap();
    assert!(mermaid.contains("a#lt;b#gt; & #quot;c#quot;"));
    let dot = steppe_graph::render(&graph, Format::Dot).unwrap();
    assert!(dot.contains(r#"a<b> & \"c\""#));
}

/// Issue 17, item 9: a Task's caption names its integration and a callback is marked; a
/// container's name and type fit side by side in its header.
#[test]
fn tasks_name_their_integration_and_container_titles_fit_beside_their_type() {
    let text = r#"{"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}}, "Next": "A rather long name for a Map"},
        "A rather long name for a Map": {"Type": "Map", "ItemProcessor": {"StartAt": "Call", "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}, "End": true}}}"#;
    let graph = graph(text);
    let svg = steppe_graph::render(&graph, Format::Svg).expect("drawn");
    let group = |name: &str| {
        let start = svg
            .find(&format!(r#"data-state="{name}""#))
            .expect("state drawn");
        let start = svg[..start].rfind("<g ").expect("group");
        let end = start + svg[start..].find("</g>").expect("group end");
        svg[start..end].to_string()
    };
    let ask = group("Ask");
    assert!(ask.contains("SQS send message · callback"), "{ask}");
    assert!(ask.contains("sg-callback") && ask.contains("↩"), "{ask}");
    let call = group("Call");
    assert!(
        call.contains(">Lambda invoke<") && !call.contains("sg-callback"),
        "{call}"
    );

    let layout = steppe_graph::layout::layout(&graph).expect("laid out");
    let map = graph
        .nodes
        .iter()
        .position(|node| node.name == "A rather long name for a Map")
        .expect("the Map");
    let header = layout.nodes[map];
    let name_end = header.x
        + 10.0
        + steppe_graph::layout::text_width(
            "A rather long name for a Map",
            steppe_graph::layout::metrics::NAME_FONT,
        );
    let type_start = header.x + header.width
        - 10.0
        - steppe_graph::layout::text_width("Map", steppe_graph::layout::metrics::SMALL_FONT);
    assert!(
        name_end < type_start,
        "the name ends at {name_end}, the type starts at {type_start}"
    );
}
