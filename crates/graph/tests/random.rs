//! Random definitions (loops, self-loops, wide Choices, nesting) never make the graph or its
//! renderers panic, and every layout keeps its boxes apart.

use serde_json::{json, Map, Value};
use steppe_graph::{Format, Graph};

/// A small deterministic generator, so that a failure replays.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// A `States` block of `n` states named `{prefix}{i}`: a chain (so all are reachable) with
/// Choices jumping anywhere, Catches, and Parallels/Maps nesting blocks while `depth` lasts.
fn block(random: &mut Lcg, prefix: &str, n: usize, depth: usize) -> Value {
    let mut states = Map::new();
    for i in 0..n {
        let name = format!("{prefix}{i}");
        let next = format!("{prefix}{}", i + 1);
        let any = |random: &mut Lcg| format!("{prefix}{}", random.below(n));
        let state = if i + 1 == n {
            json!({"Type": "Succeed"})
        } else {
            match random.below(6) {
                0 | 1 => {
                    let rules: Vec<Value> = (0..1 + random.below(4))
                        .map(|r| json!({"Variable": format!("$.v{r}"), "NumericEquals": r, "Next": any(random)}))
                        .collect();
                    json!({"Type": "Choice", "Choices": rules, "Default": next})
                }
                2 if depth > 0 => {
                    let branches: Vec<Value> = (0..1 + random.below(3))
                        .map(|b| {
                            let size = 1 + random.below(4);
                            block(random, &format!("{name}b{b}s"), size, depth - 1)
                        })
                        .collect();
                    json!({"Type": "Parallel", "Branches": branches, "Next": next,
                           "Catch": [{"ErrorEquals": ["States.ALL"], "Next": any(random)}]})
                }
                3 if depth > 0 => {
                    let size = 1 + random.below(4);
                    json!({"Type": "Map", "ItemProcessor": block(random, &format!("{name}m"), size, depth - 1), "Next": next})
                }
                4 => {
                    json!({"Type": "Task", "Resource": "arn:aws:states:::activity:x", "Next": next,
                            "Catch": [{"ErrorEquals": ["A", "B"], "Next": any(random)}]})
                }
                _ => json!({"Type": "Pass", "Next": next}),
            }
        };
        states.insert(name, state);
    }
    json!({"StartAt": format!("{prefix}0"), "States": states})
}

#[test]
fn random_definitions_draw_without_panics_or_overlaps() {
    let mut random = Lcg(7);
    for case in 0..150 {
        let size = 1 + random.below(25);
        let definition = block(&mut random, "S", size, 2);
        let text = definition.to_string();
        let compiled = match steppe_asl::compile(&text) {
            Ok(compiled) => compiled,
            Err(diagnostics) => panic!("case {case} is invalid: {diagnostics:?}\n{text}"),
        };
        let graph = Graph::from_definition(&compiled);
        let layout = steppe_graph::layout::layout(&graph).unwrap();
        for format in [Format::Svg, Format::Dot, Format::Mermaid, Format::Json] {
            assert!(!steppe_graph::render(&graph, format).unwrap().is_empty());
        }
        for block in &graph.blocks {
            for (i, &a) in block.nodes.iter().enumerate() {
                for &b in &block.nodes[i + 1..] {
                    let (ra, rb) = (layout.nodes[a], layout.nodes[b]);
                    let apart = ra.x + ra.width <= rb.x + 0.01
                        || rb.x + rb.width <= ra.x + 0.01
                        || ra.y + ra.height <= rb.y + 0.01
                        || rb.y + rb.height <= ra.y + 0.01;
                    assert!(
                        apart,
                        "case {case}: {} overlaps {}\n{text}",
                        graph.nodes[a].name, graph.nodes[b].name
                    );
                }
            }
        }
        assert!(layout.width.is_finite() && layout.height.is_finite());
    }
}
