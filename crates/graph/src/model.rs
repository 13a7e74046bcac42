//! The graph model of a compiled definition: nodes, edges and nested blocks.
//!
//! Every `States` object (the machine, each Parallel branch, each Map item processor) becomes
//! one [`Block`] with its own start and end markers. A Parallel or Map state is a node of its
//! parent block and owns its child blocks, so edges never cross a block's border: ASL
//! transitions stay inside their `States` object, and containers nest by ownership alone.

use crate::label;
use serde_json::{json, Value};
use steppe_asl::definition::{BlockId, FailField, Kind, Transition};
use steppe_asl::{Definition, StateId};

/// Index of a node in [`Graph::nodes`].
pub type NodeIdx = usize;
/// Index of a block in [`Graph::blocks`].
pub type BlockIdx = usize;

/// A definition drawn as a graph.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Every node, states and markers, block by block.
    pub nodes: Vec<Node>,
    /// Every edge; both ends are always in the same block.
    pub edges: Vec<Edge>,
    /// Every block; `blocks[0]` is the machine.
    pub blocks: Vec<Block>,
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// An ASL state.
    State,
    /// A block's start marker.
    Start,
    /// A block's end marker.
    End,
}

/// One node: a state or a start/end marker.
#[derive(Debug, Clone)]
pub struct Node {
    /// State or marker.
    pub kind: NodeKind,
    /// The state's name (unique in the machine), or `Start`/`End` for markers.
    pub name: String,
    /// The ASL type (`Task`, `Choice`, ...), or `Start`/`End` for markers.
    pub state_type: &'static str,
    /// The block the node sits in.
    pub block: BlockIdx,
    /// For Parallel: one block per branch, in order; for Map: the item processor.
    pub children: Vec<BlockIdx>,
    /// For Task states, the `Resource`.
    pub resource: Option<String>,
    /// For Fail states, a literal `Error` and `Cause` (history events do not repeat them).
    pub fail: Option<(Option<String>, Option<String>)>,
}

impl Node {
    /// The caption under a state's name: a Task's integration and how it waits
    /// ([`crate::label::task_caption`]), else the state's type.
    pub fn caption(&self) -> String {
        match &self.resource {
            Some(resource) => crate::label::task_caption(resource),
            None => self.state_type.to_string(),
        }
    }

    /// Whether the state waits for a task token (`.waitForTaskToken`).
    pub fn is_callback(&self) -> bool {
        self.resource
            .as_deref()
            .is_some_and(|resource| resource.ends_with(".waitForTaskToken"))
    }
}

/// How a block belongs to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// The machine's own `States`.
    Machine,
    /// A Parallel state's branch, with its 0-based index.
    Branch(usize),
    /// A Map state's `ItemProcessor` (or `Iterator`).
    ItemProcessor,
}

/// One `States` object.
#[derive(Debug, Clone)]
pub struct Block {
    /// Machine, branch or item processor.
    pub kind: BlockKind,
    /// The Parallel or Map node that owns the block; `None` for the machine.
    pub owner: Option<NodeIdx>,
    /// The block's nodes in definition order, markers included.
    pub nodes: Vec<NodeIdx>,
    /// The start marker.
    pub start: NodeIdx,
    /// The end marker.
    pub end: NodeIdx,
}

/// Why an edge exists; each kind is drawn in its own style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeKind {
    /// From the start marker to `StartAt`.
    Start,
    /// `Next`.
    Next,
    /// A Choice rule, with its 0-based position in `Choices`.
    Choice(usize),
    /// A Choice state's `Default`.
    Default,
    /// A `Catch` entry, with its `ErrorEquals`.
    Catch(Vec<String>),
    /// From a state that ends its block (`End`, Succeed, Fail) to the end marker.
    End,
}

impl EdgeKind {
    /// The kind's name as the JSON model and CSS classes spell it.
    pub fn as_str(&self) -> &'static str {
        match self {
            EdgeKind::Start => "start",
            EdgeKind::Next => "next",
            EdgeKind::Choice(_) => "choice",
            EdgeKind::Default => "default",
            EdgeKind::Catch(_) => "catch",
            EdgeKind::End => "end",
        }
    }
}

/// One transition.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Where the edge starts.
    pub from: NodeIdx,
    /// Where it ends.
    pub to: NodeIdx,
    /// Why it exists.
    pub kind: EdgeKind,
    /// A readable label: the Choice rule, `Default`, or the caught errors.
    pub label: Option<String>,
}

impl Graph {
    /// Builds the graph of a compiled definition.
    pub fn from_definition(definition: &Definition) -> Graph {
        let mut builder = Builder {
            definition,
            graph: Graph {
                nodes: Vec::new(),
                edges: Vec::new(),
                blocks: Vec::new(),
            },
            node_of_state: vec![None; definition.state_count()],
            states_by_block: Vec::new(),
            block_ids: Vec::new(),
        };
        for (id, state) in definition.states() {
            let block = state.block.0 as usize;
            if builder.states_by_block.len() <= block {
                builder.states_by_block.resize(block + 1, Vec::new());
            }
            builder.states_by_block[block].push(id);
        }
        builder.block(Definition::ROOT, BlockKind::Machine, None);
        builder.edges();
        builder.graph
    }

    /// The node of the state named `name`.
    pub fn node_named(&self, name: &str) -> Option<NodeIdx> {
        self.nodes
            .iter()
            .position(|node| node.kind == NodeKind::State && node.name == name)
    }

    /// The number of ASL states (markers excluded).
    pub fn state_count(&self) -> usize {
        self.nodes
            .iter()
            .filter(|node| node.kind == NodeKind::State)
            .count()
    }

    /// The model as JSON, for the console: states with their type and container, blocks
    /// with their owner, and edges with their kind and label.
    pub fn to_json(&self) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|node| {
                let mut value = json!({
                    "name": node.name,
                    "type": node.state_type,
                    "block": node.block,
                });
                if !node.children.is_empty() {
                    value["children"] = json!(node.children);
                }
                if let Some(resource) = &node.resource {
                    value["resource"] = json!(resource);
                }
                if let Some((error, cause)) = &node.fail {
                    value["error"] = json!(error);
                    value["cause"] = json!(cause);
                }
                value
            })
            .collect();
        let blocks: Vec<Value> = self
            .blocks
            .iter()
            .map(|block| {
                let (kind, index) = match block.kind {
                    BlockKind::Machine => ("machine", None),
                    BlockKind::Branch(index) => ("branch", Some(index)),
                    BlockKind::ItemProcessor => ("itemProcessor", None),
                };
                json!({
                    "kind": kind,
                    "index": index,
                    "owner": block.owner.map(|owner| self.nodes[owner].name.clone()),
                    "nodes": block.nodes,
                })
            })
            .collect();
        let edges: Vec<Value> = self
            .edges
            .iter()
            .map(|edge| {
                json!({
                    "from": edge.from,
                    "to": edge.to,
                    "kind": edge.kind.as_str(),
                    "label": edge.label,
                })
            })
            .collect();
        json!({"nodes": nodes, "blocks": blocks, "edges": edges})
    }
}

/// A Fail field's text when it is a literal.
fn literal(field: &Option<FailField>) -> Option<String> {
    match field {
        Some(FailField::Literal(text)) => Some(text.clone()),
        _ => None,
    }
}

struct Builder<'a> {
    definition: &'a Definition,
    graph: Graph,
    node_of_state: Vec<Option<NodeIdx>>,
    states_by_block: Vec<Vec<StateId>>,
    /// The ASL block of each graph block.
    block_ids: Vec<BlockId>,
}

impl Builder<'_> {
    /// Adds a block, its markers and its states, then its states' child blocks, depth first.
    fn block(&mut self, id: BlockId, kind: BlockKind, owner: Option<NodeIdx>) -> BlockIdx {
        let block_idx = self.graph.blocks.len();
        let start = self.marker(NodeKind::Start, block_idx);
        let mut nodes = vec![start];
        let states = self
            .states_by_block
            .get(id.0 as usize)
            .cloned()
            .unwrap_or_default();
        self.block_ids.push(id);
        self.graph.blocks.push(Block {
            kind,
            owner,
            nodes: Vec::new(),
            start,
            end: start,
        });
        for &state_id in &states {
            let state = self.definition.state(state_id);
            let resource = match &state.kind {
                Kind::Task(task) => Some(task.resource.clone()),
                _ => None,
            };
            let fail = match &state.kind {
                Kind::Fail(fail) => Some((literal(&fail.error), literal(&fail.cause))),
                _ => None,
            };
            let node = self.graph.nodes.len();
            self.graph.nodes.push(Node {
                kind: NodeKind::State,
                name: state.name.clone(),
                state_type: state.kind.type_name(),
                block: block_idx,
                children: Vec::new(),
                resource,
                fail,
            });
            self.node_of_state[state_id.0 as usize] = Some(node);
            nodes.push(node);
        }
        let end = self.marker(NodeKind::End, block_idx);
        nodes.push(end);
        let block = &mut self.graph.blocks[block_idx];
        block.nodes = nodes;
        block.end = end;
        for &state_id in &states {
            let Some(node) = self.node_of_state[state_id.0 as usize] else {
                continue;
            };
            let children = match &self.definition.state(state_id).kind {
                Kind::Parallel(parallel) => parallel
                    .branches
                    .iter()
                    .enumerate()
                    .map(|(index, &branch)| {
                        self.block(branch, BlockKind::Branch(index), Some(node))
                    })
                    .collect(),
                Kind::Map(map) => {
                    vec![self.block(map.processor, BlockKind::ItemProcessor, Some(node))]
                }
                _ => Vec::new(),
            };
            self.graph.nodes[node].children = children;
        }
        block_idx
    }

    fn marker(&mut self, kind: NodeKind, block: BlockIdx) -> NodeIdx {
        let name = if kind == NodeKind::Start {
            "Start"
        } else {
            "End"
        };
        self.graph.nodes.push(Node {
            kind,
            name: name.to_string(),
            state_type: name,
            block,
            children: Vec::new(),
            resource: None,
            fail: None,
        });
        self.graph.nodes.len() - 1
    }

    /// Adds every block's edges: start, then each state's transitions in definition order.
    fn edges(&mut self) {
        for block_idx in 0..self.graph.blocks.len() {
            let block = &self.graph.blocks[block_idx];
            let block_start = block.start;
            let start_at = self.definition.block(self.block_ids[block_idx]).start_at;
            if let Some(target) = self.node(start_at) {
                self.push(block_start, target, EdgeKind::Start, None);
            }
        }
        for (state_id, state) in self.definition.states() {
            let Some(from) = self.node(state_id) else {
                continue;
            };
            let end = self.graph.blocks[self.graph.nodes[from].block].end;
            match (&state.kind, state.transition) {
                (Kind::Choice(choice), _) => {
                    for (index, rule) in choice.rules.iter().enumerate() {
                        if let Some(to) = self.node(rule.next) {
                            let text = label::rule(&rule.test);
                            self.push(from, to, EdgeKind::Choice(index), Some(text));
                        }
                    }
                    if let Some(to) = choice.default.and_then(|id| self.node(id)) {
                        self.push(from, to, EdgeKind::Default, Some("Default".to_string()));
                    }
                }
                (_, Transition::Next(next)) => {
                    if let Some(to) = self.node(next) {
                        self.push(from, to, EdgeKind::Next, None);
                    }
                }
                (_, Transition::End) => self.push(from, end, EdgeKind::End, None),
                (_, Transition::Choice) => {}
            }
            for catcher in &state.catch {
                if let Some(to) = self.node(catcher.next) {
                    let text = label::catch(&catcher.error_equals);
                    let kind = EdgeKind::Catch(catcher.error_equals.clone());
                    self.push(from, to, kind, Some(text));
                }
            }
        }
    }

    fn node(&self, id: StateId) -> Option<NodeIdx> {
        self.node_of_state.get(id.0 as usize).copied().flatten()
    }

    fn push(&mut self, from: NodeIdx, to: NodeIdx, kind: EdgeKind, label: Option<String>) {
        // Both ends share a block in every valid definition; anything else is not drawn.
        if self.graph.nodes[from].block == self.graph.nodes[to].block {
            self.graph.edges.push(Edge {
                from,
                to,
                kind,
                label,
            });
        }
    }
}
