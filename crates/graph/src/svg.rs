//! SVG rendering of a laid-out graph.
//!
//! The drawing is self-contained (its own `<style>`, no external fonts or scripts) and is also
//! what the console shows: every state is a `<g class="sg-state" data-state="NAME">` and every
//! edge a `<path class="sg-edge sg-edge-KIND" data-from="..." data-to="...">`, so the console
//! colours states and highlights edges with CSS classes alone.

use crate::label;
use crate::layout::{self, metrics, Layout, Rect, Route};
use crate::model::{EdgeKind, Graph, NodeKind};
use std::fmt::Write;

/// The stylesheet embedded in each drawing. The console overrides the fills per outcome.
pub const STYLE: &str = r#"
.steppe-graph { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; }
.sg-state > .sg-shape { fill: #ffffff; stroke: #5b6b7f; stroke-width: 1.4; }
.sg-state .sg-name { font-size: 13px; font-weight: 600; fill: #1d2733; }
.sg-state .sg-type { font-size: 12px; fill: #56657a; }
.sg-callback-mark { font-size: 14px; font-weight: 700; fill: #3b6fd1; }
.sg-type-Task > .sg-shape { fill: #eef4ff; stroke: #3b6fd1; }
.sg-type-Pass > .sg-shape { fill: #f5f6f8; stroke: #8a96a6; stroke-dasharray: 5 3; }
.sg-type-Choice > .sg-shape { fill: #fff6e5; stroke: #c98a12; }
.sg-type-Wait > .sg-shape { fill: #f3efff; stroke: #7a5bd1; }
.sg-type-Succeed > .sg-shape { fill: #eaf8ef; stroke: #2e9b57; }
.sg-type-Fail > .sg-shape { fill: #fdeeee; stroke: #c93c3c; }
.sg-container > .sg-shape { fill: #fbfcfe; stroke-width: 1.6; }
.sg-type-Parallel > .sg-shape { stroke: #2a8c8c; }
.sg-type-Map > .sg-shape { stroke: #b0558f; }
.sg-container > .sg-header { fill: #eef2f7; }
.sg-type-Parallel > .sg-header { fill: #e3f3f3; }
.sg-type-Map > .sg-header { fill: #f7e8f1; }
.sg-frame > rect { fill: #ffffff; fill-opacity: 0.6; stroke: #aab4c0; stroke-dasharray: 4 3; }
.sg-frame > text { font-size: 12px; fill: #66768a; font-style: italic; }
.sg-marker circle { fill: #3a4655; }
.sg-marker .sg-ring { fill: #ffffff; stroke: #3a4655; stroke-width: 2; }
.sg-edge { fill: none; stroke: #7b8794; stroke-width: 1.4; }
.sg-edge-default { stroke-dasharray: 6 3; stroke: #c98a12; }
.sg-edge-choice { stroke: #c98a12; }
.sg-edge-catch { stroke: #d9622b; stroke-dasharray: 2 3; stroke-width: 1.6; }
.sg-edge-start, .sg-edge-end { stroke: #a4adb8; }
.sg-label rect { fill: #ffffff; stroke: #d5dbe2; }
.sg-label text { font-size: 12px; fill: #44505e; }
.sg-label-default text { font-weight: 600; fill: #9a6a0c; }
.sg-label-catch text { fill: #b34a17; }
"#;

/// Renders `graph` laid out as `layout` to an SVG document.
pub fn render(graph: &Graph, layout: &Layout) -> String {
    let mut out = String::with_capacity(256 + graph.nodes.len() * 600);
    let (width, height) = (layout.width.ceil(), layout.height.ceil());
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="steppe-graph" viewBox="0 0 {width} {height}" width="{width}" height="{height}">"#
    );
    let _ = write!(out, "<style>{STYLE}</style>");
    out.push_str(concat!(
        "<defs>",
        r##"<marker id="sg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#7b8794"/></marker>"##,
        r##"<marker id="sg-arrow-choice" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c98a12"/></marker>"##,
        r##"<marker id="sg-arrow-catch" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#d9622b"/></marker>"##,
        "</defs>"
    ));
    // Containers and frames first (outer before inner), then edges, then states on top.
    out.push_str(r#"<g class="sg-containers">"#);
    for (node_idx, node) in graph.nodes.iter().enumerate() {
        if node.children.is_empty() {
            continue;
        }
        container(
            &mut out,
            &node.name,
            node.state_type,
            layout.nodes[node_idx],
        );
        for &child in &node.children {
            frame(
                &mut out,
                child,
                &layout::frame_title(graph, child),
                layout.frames[child],
            );
        }
    }
    out.push_str("</g><g class=\"sg-edges\">");
    for (edge_idx, edge) in graph.edges.iter().enumerate() {
        let route = &layout.edges[edge_idx];
        let from = &graph.nodes[edge.from];
        let to = &graph.nodes[edge.to];
        edge_path(
            &mut out,
            &edge.kind,
            (&node_key(graph, edge.from), &node_key(graph, edge.to)),
            route,
        );
        if let (Some(text), Some(rect)) = (&edge.label, route.label) {
            edge_label(&mut out, &edge.kind, text, rect, (&from.name, &to.name));
        }
    }
    out.push_str("</g><g class=\"sg-states\">");
    for (node_idx, node) in graph.nodes.iter().enumerate() {
        let rect = layout.nodes[node_idx];
        match node.kind {
            NodeKind::Start | NodeKind::End => marker(&mut out, node.kind, node.block, rect),
            NodeKind::State if node.children.is_empty() => state(&mut out, node, rect),
            NodeKind::State => {}
        }
    }
    out.push_str("</g></svg>\n");
    out
}

/// The `data-from`/`data-to` key of a node: the state name, or `start:N`/`end:N`.
fn node_key(graph: &Graph, node_idx: usize) -> String {
    let node = &graph.nodes[node_idx];
    match node.kind {
        NodeKind::State => node.name.clone(),
        NodeKind::Start => format!("start:{}", node.block),
        NodeKind::End => format!("end:{}", node.block),
    }
}

fn state(out: &mut String, node: &crate::Node, rect: Rect) {
    let (name, state_type) = (&node.name, node.state_type);
    let name_attr = escape(name);
    let callback = node.is_callback();
    let _ = write!(
        out,
        r#"<g class="sg-state sg-type-{state_type}{}" data-state="{name_attr}" data-type="{state_type}"><title>{name_attr} ({state_type}){}</title>"#,
        if callback { " sg-callback" } else { "" },
        node.resource
            .as_deref()
            .map(|r| format!("\n{}", escape(r)))
            .unwrap_or_default()
    );
    let (x, y, w, h) = (rect.x, rect.y, rect.width, rect.height);
    match state_type {
        "Choice" => {
            let inset = 12.0;
            let _ = write!(
                out,
                r#"<polygon class="sg-shape" points="{},{} {},{} {},{} {},{} {},{} {},{}"/>"#,
                x + inset,
                y,
                x + w - inset,
                y,
                x + w,
                y + h / 2.0,
                x + w - inset,
                y + h,
                x + inset,
                y + h,
                x,
                y + h / 2.0
            );
        }
        "Succeed" | "Fail" => {
            let _ = write!(
                out,
                r#"<rect class="sg-shape" x="{x}" y="{y}" width="{w}" height="{h}" rx="{}"/>"#,
                h / 2.0
            );
        }
        "Wait" => {
            let _ = write!(
                out,
                r##"<rect class="sg-shape" x="{x}" y="{y}" width="{w}" height="{h}" rx="4"/><path class="sg-accent" d="M{} {} v{}" stroke="#7a5bd1" stroke-width="3"/>"##,
                x + 5.0,
                y + 8.0,
                h - 16.0
            );
        }
        _ => {
            let _ = write!(
                out,
                r#"<rect class="sg-shape" x="{x}" y="{y}" width="{w}" height="{h}" rx="6"/>"#
            );
        }
    }
    if callback {
        // A callback waits for SendTaskSuccess/Failure with its token: a return arrow.
        let _ = write!(
            out,
            r#"<text class="sg-callback-mark" x="{}" y="{}" text-anchor="end"><title>waits for a task token (.waitForTaskToken)</title>↩</text>"#,
            x + w - 6.0,
            y + 15.0
        );
    }
    let shown = escape(&label::truncate(name, metrics::NAME_CHARS_MAX));
    let cx = x + w / 2.0;
    let _ = write!(
        out,
        r#"<text class="sg-name" x="{cx}" y="{}" text-anchor="middle">{shown}</text><text class="sg-type" x="{cx}" y="{}" text-anchor="middle">{}</text></g>"#,
        y + h / 2.0 - 2.0,
        y + h / 2.0 + 13.0,
        escape(&node.caption())
    );
}

fn container(out: &mut String, name: &str, state_type: &str, rect: Rect) {
    let name_attr = escape(name);
    let (x, y, w, h) = (rect.x, rect.y, rect.width, rect.height);
    let shown = escape(&label::truncate(name, metrics::NAME_CHARS_MAX));
    let _ = write!(
        out,
        concat!(
            r#"<g class="sg-state sg-container sg-type-{t}" data-state="{n}" data-type="{t}"><title>{n} ({t})</title>"#,
            r#"<rect class="sg-shape" x="{x}" y="{y}" width="{w}" height="{h}" rx="8"/>"#,
            r#"<rect class="sg-header" x="{hx}" y="{hy}" width="{hw}" height="{hh}" rx="6"/>"#,
            r#"<text class="sg-name" x="{tx}" y="{ty}">{s}</text><text class="sg-type" x="{kx}" y="{ty}" text-anchor="end">{t}</text></g>"#
        ),
        t = state_type,
        n = name_attr,
        x = x,
        y = y,
        w = w,
        h = h,
        hx = x + 2.0,
        hy = y + 2.0,
        hw = (w - 4.0).max(0.0),
        hh = metrics::HEADER - 8.0,
        tx = x + 10.0,
        ty = y + 20.0,
        kx = x + w - 10.0,
        s = shown,
    );
}

fn frame(out: &mut String, block: usize, title: &str, rect: Rect) {
    let _ = write!(
        out,
        r#"<g class="sg-frame" data-block="{block}"><rect x="{}" y="{}" width="{}" height="{}" rx="6"/><text x="{}" y="{}">{}</text></g>"#,
        rect.x,
        rect.y,
        rect.width,
        rect.height,
        rect.x + 8.0,
        rect.y + 13.0,
        escape(title)
    );
}

fn marker(out: &mut String, kind: NodeKind, block: usize, rect: Rect) {
    let (cx, cy, r) = (rect.center_x(), rect.center_y(), rect.width / 2.0);
    match kind {
        NodeKind::Start => {
            let _ = write!(
                out,
                r#"<g class="sg-marker sg-start" data-marker="start:{block}"><title>Start</title><circle cx="{cx}" cy="{cy}" r="{r}"/></g>"#
            );
        }
        _ => {
            let _ = write!(
                out,
                r#"<g class="sg-marker sg-end" data-marker="end:{block}"><title>End</title><circle class="sg-ring" cx="{cx}" cy="{cy}" r="{r}"/><circle cx="{cx}" cy="{cy}" r="{}"/></g>"#,
                r * 0.55
            );
        }
    }
}

fn edge_path(out: &mut String, kind: &EdgeKind, ends: (&str, &str), route: &Route) {
    let Some(&(x0, y0)) = route.points.first() else {
        return;
    };
    let mut d = format!("M{x0:.1},{y0:.1}");
    if route.self_loop && route.points.len() == 4 {
        let p = &route.points;
        let _ = write!(
            d,
            " C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
            p[1].0, p[1].1, p[2].0, p[2].1, p[3].0, p[3].1
        );
    } else {
        for pair in route.points.windows(2) {
            let ((ax, ay), (bx, by)) = (pair[0], pair[1]);
            let my = (ay + by) / 2.0;
            let _ = write!(d, " C{ax:.1},{my:.1} {bx:.1},{my:.1} {bx:.1},{by:.1}");
        }
    }
    let arrow = match kind {
        EdgeKind::Catch(_) => "sg-arrow-catch",
        EdgeKind::Choice(_) | EdgeKind::Default => "sg-arrow-choice",
        _ => "sg-arrow",
    };
    let errors = match kind {
        EdgeKind::Catch(errors) => format!(r#" data-errors="{}""#, escape(&errors.join(","))),
        EdgeKind::Choice(index) => format!(r#" data-rule="{index}""#),
        _ => String::new(),
    };
    let _ = write!(
        out,
        r#"<path class="sg-edge sg-edge-{}" data-from="{}" data-to="{}"{errors} d="{d}" marker-end="url(#{arrow})"/>"#,
        kind.as_str(),
        escape(ends.0),
        escape(ends.1),
    );
}

fn edge_label(out: &mut String, kind: &EdgeKind, text: &str, rect: Rect, ends: (&str, &str)) {
    let shown = escape(&label::truncate(text, metrics::LABEL_CHARS_MAX));
    let _ = write!(
        out,
        r#"<g class="sg-label sg-label-{}"><title>{} → {}: {}</title><rect x="{}" y="{}" width="{}" height="{}" rx="3"/><text x="{}" y="{}" text-anchor="middle">{shown}</text></g>"#,
        kind.as_str(),
        escape(ends.0),
        escape(ends.1),
        escape(text),
        rect.x,
        rect.y,
        rect.width,
        rect.height,
        rect.center_x(),
        rect.y + rect.height - 4.0,
    );
}

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}
