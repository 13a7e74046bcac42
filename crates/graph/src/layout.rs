//! A layered (Sugiyama-style) layout with nested containers.
//!
//! Each block is laid out on its own, innermost first: a Parallel or Map node is sized to
//! hold its laid-out branches or item processor, and its parent block then treats it as one
//! big node. Because ASL edges never leave their block, no edge crosses a container border,
//! and the layered steps stay the textbook ones per block:
//!
//! 1. break cycles by reversing DFS back edges (Choice loops, retry-by-hand loops);
//! 2. assign layers by longest path, labelled edges spanning two layers so that their label
//!    sits on a dummy node: the one next to the edge's source, so that a Choice's rules sit
//!    by the Choice (dagre puts them halfway);
//! 3. split long edges into dummy nodes;
//! 4. order each layer by barycenter sweeps, keeping the order with the fewest crossings;
//! 5. place x by repeated least-squares alignment to neighbours under the no-overlap
//!    constraints (pool-adjacent-violators), so edges run straight where they can;
//! 6. route each edge through its dummies.
//!
//! Everything is deterministic and linear or near-linear per sweep; see the crate docs for
//! the measured time of a 100-state nested machine.

use crate::label;
use crate::model::{BlockIdx, Graph, NodeIdx, NodeKind};

/// The most vertices (states, markers and the dummy vertices that long edges pass through)
/// one layout places, over all its blocks. Every step is near-linear in them, so this bounds
/// the time and memory of a drawing: about 0.3 s and 15 MB at the limit. Real machines stay
/// far below it (a 100-state nested machine has about 1,000); a dense machine whose Choice
/// rules jump across hundreds of layers does not, and is refused rather than drawn for minutes.
pub const LAYOUT_VERTICES_MAX: usize = 60_000;

/// A definition whose layout would place more than [`LAYOUT_VERTICES_MAX`] vertices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the state machine is too large to draw: its layout needs more than {LAYOUT_VERTICES_MAX} \
     vertices (its long edges cross many layers)"
)]
pub struct TooLarge;

/// A rectangle; `x`, `y` is the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl Rect {
    /// The horizontal centre.
    pub fn center_x(&self) -> f64 {
        self.x + self.width / 2.0
    }

    /// The vertical centre.
    pub fn center_y(&self) -> f64 {
        self.y + self.height / 2.0
    }

    fn shifted(self, dx: f64, dy: f64) -> Rect {
        Rect {
            x: self.x + dx,
            y: self.y + dy,
            ..self
        }
    }
}

/// How one edge is drawn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Route {
    /// The points the edge passes through, from its source to its target.
    pub points: Vec<(f64, f64)>,
    /// Where the label goes, when the edge has one.
    pub label: Option<Rect>,
    /// The edge goes from a state back to itself.
    pub self_loop: bool,
}

/// The laid-out graph, in absolute coordinates.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The drawing's width.
    pub width: f64,
    /// The drawing's height.
    pub height: f64,
    /// Each node's box, indexed like [`Graph::nodes`].
    pub nodes: Vec<Rect>,
    /// Each edge's route, indexed like [`Graph::edges`].
    pub edges: Vec<Route>,
    /// The frame of each nested block (branch or item processor), indexed like
    /// [`Graph::blocks`]; the machine's entry is the whole drawing.
    pub frames: Vec<Rect>,
}

/// Sizes of the drawing, in SVG user units (pixels at zoom 1).
pub mod metrics {
    /// Margin around the whole drawing.
    pub const MARGIN: f64 = 16.0;
    /// Height of a state box.
    pub const STATE_HEIGHT: f64 = 44.0;
    /// Smallest width of a state box.
    pub const STATE_WIDTH_MIN: f64 = 96.0;
    /// Diameter of the start and end markers.
    pub const MARKER: f64 = 22.0;
    /// Height of a container's header (its name and type).
    pub const HEADER: f64 = 34.0;
    /// Padding inside a container and between its frames.
    pub const PAD: f64 = 12.0;
    /// Height of a frame's title (`Branch 1`, `Item processor`).
    pub const FRAME_TITLE: f64 = 18.0;
    /// Vertical space between layers.
    pub const RANK_SEP: f64 = 34.0;
    /// Horizontal space between neighbours in a layer.
    pub const NODE_SEP: f64 = 22.0;
    /// Width a long edge takes in each layer it crosses.
    pub const DUMMY_WIDTH: f64 = 10.0;
    /// Height of an edge label.
    pub const LABEL_HEIGHT: f64 = 16.0;
    /// Longest label drawn, in characters; the full text goes in the tooltip.
    pub const LABEL_CHARS_MAX: usize = 34;
    /// Longest state name drawn, in characters.
    pub const NAME_CHARS_MAX: usize = 32;
    /// Font size of state names.
    pub const NAME_FONT: f64 = 13.0;
    /// Font size of types, captions and labels: 12 px, readable at 1:1.
    pub const SMALL_FONT: f64 = 12.0;
    /// Room kept right of a state that loops to itself.
    pub const SELF_LOOP: f64 = 28.0;
}

use metrics::*;

/// An estimate of a text's width; renderers use the same fonts so that boxes fit.
pub fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | 'I' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 0.32,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '[' | ']' => 0.42,
            'm' | 'w' | 'M' | 'W' | '@' => 0.88,
            c if c.is_ascii_uppercase() => 0.68,
            c if c.is_ascii() => 0.56,
            _ => 1.0,
        })
        .sum::<f64>()
        * font_size
        * 1.1
}

/// Lays out `graph`, unless it needs more than [`LAYOUT_VERTICES_MAX`] vertices.
pub fn layout(graph: &Graph) -> Result<Layout, TooLarge> {
    let mut edges_by_block: Vec<Vec<usize>> = vec![Vec::new(); graph.blocks.len()];
    for (edge_idx, edge) in graph.edges.iter().enumerate() {
        edges_by_block[graph.nodes[edge.from].block].push(edge_idx);
    }
    let mut state = State {
        graph,
        edges_by_block,
        blocks: vec![None; graph.blocks.len()],
        inner: vec![Vec::new(); graph.nodes.len()],
        sizes: vec![(0.0, 0.0); graph.nodes.len()],
        vertices_left: LAYOUT_VERTICES_MAX,
    };
    if graph.blocks.is_empty() {
        return Ok(Layout::default());
    }
    state.block(0)?;
    let mut result = Layout {
        width: 0.0,
        height: 0.0,
        nodes: vec![Rect::default(); graph.nodes.len()],
        edges: vec![Route::default(); graph.edges.len()],
        frames: vec![Rect::default(); graph.blocks.len()],
    };
    state.place(0, MARGIN, MARGIN, &mut result);
    if let Some(root) = &state.blocks[0] {
        result.width = root.width + 2.0 * MARGIN;
        result.height = root.height + 2.0 * MARGIN;
    }
    result.frames[0] = Rect {
        x: 0.0,
        y: 0.0,
        width: result.width,
        height: result.height,
    };
    Ok(result)
}

/// One block laid out in its own coordinates.
#[derive(Debug, Clone)]
struct BlockLayout {
    width: f64,
    height: f64,
    /// Node boxes, by graph node index.
    nodes: Vec<(NodeIdx, Rect)>,
    /// Edge routes, by graph edge index.
    edges: Vec<(usize, Route)>,
}

/// Where a child block sits inside its container node.
#[derive(Debug, Clone, Copy)]
struct Inner {
    block: BlockIdx,
    /// The frame, relative to the container's top-left corner.
    frame: Rect,
    /// The block's origin, relative to the container's top-left corner.
    origin: (f64, f64),
}

struct State<'a> {
    graph: &'a Graph,
    edges_by_block: Vec<Vec<usize>>,
    blocks: Vec<Option<BlockLayout>>,
    inner: Vec<Vec<Inner>>,
    sizes: Vec<(f64, f64)>,
    /// What is left of [`LAYOUT_VERTICES_MAX`].
    vertices_left: usize,
}

impl State<'_> {
    /// Lays out block `block_idx` after its containers' children.
    fn block(&mut self, block_idx: BlockIdx) -> Result<(), TooLarge> {
        let graph = self.graph;
        let block = &graph.blocks[block_idx];
        for &node in &block.nodes {
            self.sizes[node] = self.node_size(node)?;
        }
        let local: Vec<NodeIdx> = block.nodes.clone();
        let mut position = vec![usize::MAX; graph.nodes.len()];
        for (local_idx, &node) in local.iter().enumerate() {
            position[node] = local_idx;
        }
        let mut has_self_loop = vec![false; local.len()];
        let mut edges = Vec::new();
        for &edge_idx in &self.edges_by_block[block_idx] {
            let edge = &graph.edges[edge_idx];
            let (from, to) = (position[edge.from], position[edge.to]);
            if from == usize::MAX || to == usize::MAX {
                continue;
            }
            if from == to {
                has_self_loop[from] = true;
            }
            let label = edge.label.as_deref().map(|text| {
                let shown = label::truncate(text, LABEL_CHARS_MAX);
                (text_width(&shown, SMALL_FONT) + 10.0, LABEL_HEIGHT)
            });
            edges.push(LayerEdge {
                id: edge_idx,
                from,
                to,
                label,
            });
        }
        let sizes: Vec<(f64, f64)> = local
            .iter()
            .enumerate()
            .map(|(local_idx, &node)| {
                let (width, height) = self.sizes[node];
                let extra = if has_self_loop[local_idx] {
                    SELF_LOOP
                } else {
                    0.0
                };
                (width + extra, height)
            })
            .collect();
        let layered = layered(&sizes, &edges, 0, &mut self.vertices_left)?;
        let nodes = local
            .iter()
            .enumerate()
            .map(|(local_idx, &node)| {
                let (x, y) = layered.centers[local_idx];
                let (width, height) = self.sizes[node];
                let extra = if has_self_loop[local_idx] {
                    SELF_LOOP
                } else {
                    0.0
                };
                let rect = Rect {
                    x: x - (width + extra) / 2.0,
                    y: y - height / 2.0,
                    width,
                    height,
                };
                (node, rect)
            })
            .collect();
        self.blocks[block_idx] = Some(BlockLayout {
            width: layered.width,
            height: layered.height,
            nodes,
            edges: layered.routes,
        });
        Ok(())
    }

    /// A node's size; a container's children are laid out first.
    fn node_size(&mut self, node_idx: NodeIdx) -> Result<(f64, f64), TooLarge> {
        let node = &self.graph.nodes[node_idx];
        match node.kind {
            NodeKind::Start | NodeKind::End => return Ok((MARKER, MARKER)),
            NodeKind::State => {}
        }
        let name = label::truncate(&node.name, NAME_CHARS_MAX);
        let name_width = text_width(&name, NAME_FONT * 1.05);
        let caption_width = text_width(&node.caption(), SMALL_FONT);
        if node.children.is_empty() {
            // The name over the caption; a callback's mark takes the top right corner.
            let extra = match node.state_type {
                "Choice" => 28.0,
                _ if node.is_callback() => 40.0,
                _ => 24.0,
            };
            return Ok((
                (name_width.max(caption_width) + extra).max(STATE_WIDTH_MIN),
                STATE_HEIGHT,
            ));
        }
        // A container's header has its name at the left and its type at the right: both fit,
        // side by side, so they never overprint.
        let box_width = (name_width + caption_width + 36.0).max(STATE_WIDTH_MIN);
        let children = node.children.clone();
        let mut inner = Vec::new();
        let mut x = PAD;
        let mut frame_height: f64 = 0.0;
        for &child in &children {
            self.block(child)?;
            let (width, height) = self.blocks[child]
                .as_ref()
                .map_or((0.0, 0.0), |layout| (layout.width, layout.height));
            let title = frame_title(self.graph, child);
            let frame_width = (width + 2.0 * PAD).max(text_width(&title, SMALL_FONT) + 2.0 * PAD);
            inner.push(Inner {
                block: child,
                frame: Rect {
                    x,
                    y: HEADER,
                    width: frame_width,
                    height: FRAME_TITLE + height + 2.0 * PAD,
                },
                origin: (x + (frame_width - width) / 2.0, HEADER + FRAME_TITLE + PAD),
            });
            frame_height = frame_height.max(FRAME_TITLE + height + 2.0 * PAD);
            x += frame_width + PAD;
        }
        for entry in &mut inner {
            entry.frame.height = frame_height;
        }
        let width = x.max(box_width);
        // Centre the frames when the header is wider than they are.
        let slack = (width - x) / 2.0;
        for entry in &mut inner {
            entry.frame.x += slack;
            entry.origin.0 += slack;
        }
        self.inner[node_idx] = inner;
        Ok((width, HEADER + frame_height + PAD))
    }

    /// Writes block `block_idx`'s nodes, edges and frames at `(dx, dy)`, recursively.
    fn place(&self, block_idx: BlockIdx, dx: f64, dy: f64, out: &mut Layout) {
        let Some(block) = &self.blocks[block_idx] else {
            return;
        };
        for &(node, rect) in &block.nodes {
            let rect = rect.shifted(dx, dy);
            out.nodes[node] = rect;
            for inner in &self.inner[node] {
                out.frames[inner.block] = inner.frame.shifted(rect.x, rect.y);
                self.place(
                    inner.block,
                    rect.x + inner.origin.0,
                    rect.y + inner.origin.1,
                    out,
                );
            }
        }
        for (edge, route) in &block.edges {
            out.edges[*edge] = Route {
                points: route
                    .points
                    .iter()
                    .map(|&(x, y)| (x + dx, y + dy))
                    .collect(),
                label: route.label.map(|label| label.shifted(dx, dy)),
                self_loop: route.self_loop,
            };
        }
    }
}

/// The title of a nested block's frame.
pub fn frame_title(graph: &Graph, block: BlockIdx) -> String {
    match graph.blocks[block].kind {
        crate::model::BlockKind::Machine => String::new(),
        crate::model::BlockKind::Branch(index) => format!("Branch {}", index + 1),
        crate::model::BlockKind::ItemProcessor => "Item processor".to_string(),
    }
}

/// An edge of one block, in the block's local node numbering.
struct LayerEdge {
    id: usize,
    from: usize,
    to: usize,
    /// The label's size.
    label: Option<(f64, f64)>,
}

struct Layered {
    width: f64,
    height: f64,
    centers: Vec<(f64, f64)>,
    routes: Vec<(usize, Route)>,
}

/// A node of the layered graph: a real node or a dummy on a long edge.
struct Vertex {
    width: f64,
    height: f64,
    layer: usize,
    /// For dummies: the edge (index into `edges`) they belong to.
    dummy_of: Option<usize>,
}

/// Lays out one block: `sizes` per local node, `edges` between them; `start` is the root. Its
/// vertices, dummies included, are taken from `vertices_left` before any is made.
fn layered(
    sizes: &[(f64, f64)],
    edges: &[LayerEdge],
    start: usize,
    vertices_left: &mut usize,
) -> Result<Layered, TooLarge> {
    let n = sizes.len();
    let reversed = back_edges(n, edges, start);
    let layer = assign_layers(n, edges, &reversed);
    let dummies = edges.iter().map(|edge| {
        let span = layer[edge.from].abs_diff(layer[edge.to]);
        span.saturating_sub(1)
    });
    let vertices = dummies.fold(n, usize::saturating_add);
    *vertices_left = vertices_left.checked_sub(vertices).ok_or(TooLarge)?;
    // Build vertices and the chain of each edge (source, dummies..., target) in DAG direction.
    let mut vertices: Vec<Vertex> = sizes
        .iter()
        .zip(&layer)
        .map(|(&(width, height), &layer)| Vertex {
            width,
            height,
            layer,
            dummy_of: None,
        })
        .collect();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    let mut label_vertex: Vec<Option<usize>> = vec![None; edges.len()];
    for (edge_idx, edge) in edges.iter().enumerate() {
        if edge.from == edge.to {
            chains.push(Vec::new());
            continue;
        }
        let (top, bottom) = if reversed[edge_idx] {
            (edge.to, edge.from)
        } else {
            (edge.from, edge.to)
        };
        let mut chain = vec![top];
        let span = layer[bottom].saturating_sub(layer[top]);
        // The label sits on the dummy next to the edge's source (a Choice, a catching state),
        // so that it reads as that state's rule however far the edge goes.
        let label_step = if reversed[edge_idx] {
            span.saturating_sub(1).max(1)
        } else {
            1
        };
        for step in 1..span {
            let (width, height) = match edge.label {
                Some(size) if step == label_step => {
                    label_vertex[edge_idx] = Some(vertices.len());
                    size
                }
                _ => (DUMMY_WIDTH, 0.0),
            };
            chain.push(vertices.len());
            vertices.push(Vertex {
                width,
                height,
                layer: layer[top] + step,
                dummy_of: Some(edge_idx),
            });
        }
        chain.push(bottom);
        chains.push(chain);
    }
    let n_layers = vertices.iter().map(|v| v.layer + 1).max().unwrap_or(0);
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); vertices.len()];
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); vertices.len()];
    for chain in &chains {
        for pair in chain.windows(2) {
            down[pair[0]].push(pair[1]);
            up[pair[1]].push(pair[0]);
        }
    }
    let mut layers = initial_order(&vertices, &down, start, n_layers);
    order_layers(&mut layers, &down, &up, vertices.len());
    let xs = place_x(&layers, &vertices, &down, &up);
    // Layer heights and y positions.
    let mut layer_top = vec![0.0; n_layers];
    let mut layer_height = vec![0.0f64; n_layers];
    for vertex in &vertices {
        layer_height[vertex.layer] = layer_height[vertex.layer].max(vertex.height);
    }
    let mut y = 0.0;
    for l in 0..n_layers {
        layer_top[l] = y;
        y += layer_height[l] + RANK_SEP;
    }
    let height = (y - RANK_SEP).max(0.0);
    let center_y = |v: usize| layer_top[vertices[v].layer] + layer_height[vertices[v].layer] / 2.0;
    // Shift so that the leftmost box starts at 0.
    let min_x = (0..vertices.len())
        .map(|v| xs[v] - vertices[v].width / 2.0)
        .fold(f64::INFINITY, f64::min);
    let max_x = (0..vertices.len())
        .map(|v| xs[v] + vertices[v].width / 2.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let (min_x, width) = if min_x.is_finite() {
        (min_x, max_x - min_x)
    } else {
        (0.0, 0.0)
    };
    let x = |v: usize| xs[v] - min_x;
    let centers: Vec<(f64, f64)> = (0..n).map(|v| (x(v), center_y(v))).collect();
    let routes = edges
        .iter()
        .enumerate()
        .map(|(edge_idx, edge)| {
            let route = if edge.from == edge.to {
                self_loop_route(sizes[edge.from], centers[edge.from], edge.label)
            } else {
                let chain = &chains[edge_idx];
                let mut points: Vec<(f64, f64)> = Vec::with_capacity(chain.len());
                for (i, &v) in chain.iter().enumerate() {
                    let (cx, cy) = (x(v), center_y(v));
                    let half = vertices[v].height / 2.0;
                    if i == 0 {
                        points.push((cx, cy + half));
                    } else if i + 1 == chain.len() {
                        points.push((cx, cy - half));
                    } else {
                        points.push((cx, cy));
                    }
                }
                if reversed[edge_idx] {
                    points.reverse();
                }
                let label = label_vertex[edge_idx].map(|v| Rect {
                    x: x(v) - vertices[v].width / 2.0,
                    y: center_y(v) - vertices[v].height / 2.0,
                    width: vertices[v].width,
                    height: vertices[v].height,
                });
                Route {
                    points,
                    label,
                    self_loop: false,
                }
            };
            (edge.id, route)
        })
        .collect();
    Ok(Layered {
        width,
        height,
        centers,
        routes,
    })
}

fn self_loop_route(size: (f64, f64), center: (f64, f64), label: Option<(f64, f64)>) -> Route {
    let (width, height) = size;
    let right = center.0 + width / 2.0;
    let points = vec![
        (right, center.1 - height / 4.0),
        (right + SELF_LOOP, center.1 - height / 2.0),
        (right + SELF_LOOP, center.1 + height / 2.0),
        (right, center.1 + height / 4.0),
    ];
    let label = label.map(|(label_width, label_height)| Rect {
        x: right + 4.0,
        y: center.1 - label_height / 2.0,
        width: label_width,
        height: label_height,
    });
    Route {
        points,
        label,
        self_loop: true,
    }
}

/// Which edges a DFS from `start` finds going back up its stack (and self-loops).
fn back_edges(n: usize, edges: &[LayerEdge], start: usize) -> Vec<bool> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (edge_idx, edge) in edges.iter().enumerate() {
        out[edge.from].push(edge_idx);
    }
    let mut reversed = vec![false; edges.len()];
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut mark = vec![0u8; n];
    let roots = std::iter::once(start).chain(0..n);
    for root in roots {
        if root >= n || mark[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&edge_idx) = out[node].get(*next) {
                *next += 1;
                let target = edges[edge_idx].to;
                match mark[target] {
                    0 => {
                        mark[target] = 1;
                        stack.push((target, 0));
                    }
                    1 => reversed[edge_idx] = true,
                    _ => {}
                }
            } else {
                mark[node] = 2;
                stack.pop();
            }
        }
    }
    reversed
}

/// Longest-path layers over the DAG; labelled edges span at least two layers.
fn assign_layers(n: usize, edges: &[LayerEdge], reversed: &[bool]) -> Vec<usize> {
    let mut out: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    let mut in_degree = vec![0usize; n];
    for (edge_idx, edge) in edges.iter().enumerate() {
        if edge.from == edge.to {
            continue;
        }
        let (top, bottom) = if reversed[edge_idx] {
            (edge.to, edge.from)
        } else {
            (edge.from, edge.to)
        };
        let min_len = if edge.label.is_some() { 2 } else { 1 };
        out[top].push((bottom, min_len));
        in_degree[bottom] += 1;
    }
    let mut layer = vec![0usize; n];
    let mut queue: std::collections::VecDeque<usize> =
        (0..n).filter(|&v| in_degree[v] == 0).collect();
    while let Some(v) = queue.pop_front() {
        for &(w, min_len) in &out[v] {
            layer[w] = layer[w].max(layer[v] + min_len);
            in_degree[w] -= 1;
            if in_degree[w] == 0 {
                queue.push_back(w);
            }
        }
    }
    layer
}

/// Layers in breadth-first order from `start`, so Choice rules start in their written order.
fn initial_order(
    vertices: &[Vertex],
    down: &[Vec<usize>],
    start: usize,
    n_layers: usize,
) -> Vec<Vec<usize>> {
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); n_layers];
    let mut seen = vec![false; vertices.len()];
    let roots = std::iter::once(start).chain(0..vertices.len());
    for root in roots {
        if root >= vertices.len() || seen[root] {
            continue;
        }
        let mut queue = std::collections::VecDeque::from([root]);
        seen[root] = true;
        while let Some(v) = queue.pop_front() {
            layers[vertices[v].layer].push(v);
            for &w in &down[v] {
                if !seen[w] {
                    seen[w] = true;
                    queue.push_back(w);
                }
            }
        }
    }
    layers
}

/// Barycenter sweeps; keeps the ordering with the fewest crossings.
fn order_layers(layers: &mut [Vec<usize>], down: &[Vec<usize>], up: &[Vec<usize>], n: usize) {
    const SWEEPS: usize = 12;
    let mut rank = vec![0.0f64; n];
    let set_ranks = |layers: &[Vec<usize>], rank: &mut [f64]| {
        for layer in layers {
            for (i, &v) in layer.iter().enumerate() {
                rank[v] = i as f64;
            }
        }
    };
    set_ranks(layers, &mut rank);
    let mut best = layers.to_vec();
    let mut best_crossings = crossings(layers, down, &rank);
    for sweep in 0..SWEEPS {
        let downward = sweep % 2 == 0;
        let order: Vec<usize> = if downward {
            (1..layers.len()).collect()
        } else {
            (0..layers.len().saturating_sub(1)).rev().collect()
        };
        for l in order {
            let neighbours = if downward { up } else { down };
            let mut keyed: Vec<(f64, usize)> = layers[l]
                .iter()
                .map(|&v| {
                    let adjacent = &neighbours[v];
                    let key = if adjacent.is_empty() {
                        rank[v]
                    } else {
                        adjacent.iter().map(|&w| rank[w]).sum::<f64>() / adjacent.len() as f64
                    };
                    (key, v)
                })
                .collect();
            // Stable: ties keep their current order.
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            layers[l] = keyed.into_iter().map(|(_, v)| v).collect();
            for (i, &v) in layers[l].iter().enumerate() {
                rank[v] = i as f64;
            }
        }
        let count = crossings(layers, down, &rank);
        if count < best_crossings {
            best_crossings = count;
            best = layers.to_vec();
        }
    }
    layers.clone_from_slice(&best);
}

/// The number of edge crossings between consecutive layers: for segments sorted by their
/// upper end, the inversions among their lower ends (counted with a Fenwick tree).
fn crossings(layers: &[Vec<usize>], down: &[Vec<usize>], rank: &[f64]) -> usize {
    let mut total = 0;
    let mut segments: Vec<(usize, usize)> = Vec::new();
    for (l, layer) in layers.iter().enumerate() {
        let Some(below) = layers.get(l + 1) else {
            break;
        };
        segments.clear();
        for &v in layer {
            for &w in &down[v] {
                segments.push((rank[v] as usize, rank[w] as usize));
            }
        }
        segments.sort_unstable();
        let mut tree = vec![0usize; below.len() + 1];
        for (seen, &(_, lower)) in segments.iter().enumerate() {
            // Segments already seen whose lower end is strictly right of this one cross it.
            let mut not_right = 0;
            let mut i = lower + 1;
            while i > 0 {
                not_right += tree[i];
                i -= i & i.wrapping_neg();
            }
            total += seen - not_right;
            let mut i = lower + 1;
            while i < tree.len() {
                tree[i] += 1;
                i += i & i.wrapping_neg();
            }
        }
    }
    total
}

/// x coordinates: alternate sweeps pull each node towards its neighbours' mean, then
/// resolve overlaps optimally for the layer's order (least squares, pool adjacent violators).
fn place_x(
    layers: &[Vec<usize>],
    vertices: &[Vertex],
    down: &[Vec<usize>],
    up: &[Vec<usize>],
) -> Vec<f64> {
    const SWEEPS: usize = 10;
    let mut xs = vec![0.0; vertices.len()];
    for layer in layers {
        let total: f64 = layer.iter().map(|&v| vertices[v].width + NODE_SEP).sum();
        let mut x = -total / 2.0;
        for &v in layer {
            xs[v] = x + vertices[v].width / 2.0;
            x += vertices[v].width + NODE_SEP;
        }
    }
    for sweep in 0..SWEEPS {
        let downward = sweep % 2 == 0;
        let order: Vec<usize> = if downward {
            (0..layers.len()).collect()
        } else {
            (0..layers.len()).rev().collect()
        };
        for l in order {
            let layer = &layers[l];
            let targets: Vec<f64> = layer
                .iter()
                .map(|&v| {
                    let adjacent: Vec<usize> = if sweep + 1 == SWEEPS {
                        up[v].iter().chain(&down[v]).copied().collect()
                    } else if downward {
                        up[v].clone()
                    } else {
                        down[v].clone()
                    };
                    if adjacent.is_empty() {
                        xs[v]
                    } else {
                        adjacent.iter().map(|&w| xs[w]).sum::<f64>() / adjacent.len() as f64
                    }
                })
                .collect();
            let weights: Vec<f64> = layer
                .iter()
                .map(|&v| {
                    if vertices[v].dummy_of.is_some() {
                        2.0
                    } else {
                        1.0
                    }
                })
                .collect();
            let gaps: Vec<f64> = layer
                .windows(2)
                .map(|pair| (vertices[pair[0]].width + vertices[pair[1]].width) / 2.0 + NODE_SEP)
                .collect();
            let placed = fit_ordered(&targets, &weights, &gaps);
            for (&v, x) in layer.iter().zip(placed) {
                xs[v] = x;
            }
        }
    }
    xs
}

/// Minimises Σ wᵢ(xᵢ − tᵢ)² subject to xᵢ₊₁ − xᵢ ≥ gapᵢ (pool adjacent violators).
fn fit_ordered(targets: &[f64], weights: &[f64], gaps: &[f64]) -> Vec<f64> {
    let n = targets.len();
    // Substitute yᵢ = xᵢ − offsetᵢ: the constraint becomes yᵢ₊₁ ≥ yᵢ.
    let mut offsets = vec![0.0; n];
    for i in 1..n {
        offsets[i] = offsets[i - 1] + gaps[i - 1];
    }
    // Each pool: (weighted mean, total weight, count).
    let mut pools: Vec<(f64, f64, usize)> = Vec::with_capacity(n);
    for i in 0..n {
        let mut pool = (targets[i] - offsets[i], weights[i], 1usize);
        while let Some(&(mean, weight, count)) = pools.last() {
            if mean <= pool.0 {
                break;
            }
            pools.pop();
            let total = weight + pool.1;
            pool = (
                (mean * weight + pool.0 * pool.1) / total,
                total,
                count + pool.2,
            );
        }
        pools.push(pool);
    }
    let mut result = Vec::with_capacity(n);
    for (mean, _, count) in pools {
        for _ in 0..count {
            let i = result.len();
            result.push(mean + offsets[i]);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_ordered_keeps_order_and_gaps() {
        let placed = fit_ordered(&[0.0, 0.0, 0.0], &[1.0, 1.0, 1.0], &[10.0, 10.0]);
        assert_eq!(placed, vec![-10.0, 0.0, 10.0]);
        let free = fit_ordered(&[0.0, 50.0], &[1.0, 1.0], &[10.0]);
        assert_eq!(free, vec![0.0, 50.0]);
    }

    #[test]
    fn labelled_edges_get_a_label_box_between_layers() {
        // A labelled edge spans two layers, so it gets a label box on its one dummy.
        let sizes = vec![(20.0, 20.0), (100.0, 44.0), (100.0, 44.0)];
        let edges = vec![
            LayerEdge {
                id: 0,
                from: 0,
                to: 1,
                label: None,
            },
            LayerEdge {
                id: 1,
                from: 1,
                to: 2,
                label: Some((40.0, 16.0)),
            },
        ];
        let layered = layered(&sizes, &edges, 0, &mut LAYOUT_VERTICES_MAX.clone()).unwrap();
        let (_, labelled) = &layered.routes[1];
        assert_eq!(labelled.points.len(), 3);
        assert!(labelled.label.is_some());
        assert!(layered.centers[2].1 > layered.centers[1].1 + 44.0);
    }

    /// Issue 17, item 9: a rule's label sits next to its Choice, not halfway down a long edge.
    #[test]
    fn a_long_labelled_edges_label_sits_next_to_its_source() {
        // 0 → 1 → 2 → 3 → 4 in a chain, and a labelled edge from 0 straight to 4.
        let sizes = vec![(100.0, 44.0); 5];
        let mut edges: Vec<LayerEdge> = (0..4)
            .map(|i| LayerEdge {
                id: i,
                from: i,
                to: i + 1,
                label: None,
            })
            .collect();
        edges.push(LayerEdge {
            id: 4,
            from: 0,
            to: 4,
            label: Some((60.0, 16.0)),
        });
        let layered = layered(&sizes, &edges, 0, &mut LAYOUT_VERTICES_MAX.clone()).unwrap();
        let (_, long) = &layered.routes[4];
        let label = long.label.expect("a label box");
        // In the first layer below the source, not the middle one (layer 2).
        let middle_y = label.y + label.height / 2.0;
        assert!(
            (middle_y - layered.centers[1].1).abs() < 22.0,
            "the label's middle at y {middle_y} is not in the layer after the source (y {})",
            layered.centers[1].1
        );
    }
}
