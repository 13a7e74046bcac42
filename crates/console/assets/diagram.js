// steppe console: drawing a definition (the server's SVG), zoom and pan, keyboard access to states, and
// colouring an execution onto it.
import { api, consoleApi, esc, pageToken } from "./core.js";

// ---------- diagram ----------

/// Draws a definition into `element` (zoom and pan included); resolves to the graph model.
export async function drawDiagram(element, definition, token) {
  const { ok, value } = await graphOf(definition);
  if (token !== pageToken) return null;
  if (!ok) {
    element.innerHTML = (value.diagnostics || [{ message: value.message || "cannot draw" }]).map((d) =>
      `<div class="diagnostic">${esc(d.code || "")} ${esc(d.message)} ${esc(d.location || "")}</div>`).join("");
    return null;
  }
  showDiagram(element, value.svg);
  return value.graph;
}

/// The server's drawing of a definition: `{ok, value: {svg, graph} or {diagnostics}}`.
export function graphOf(definition) {
  return consoleApi("api/graph", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ definition }),
  });
}

/// Puts a drawing in `element` with its zoom buttons, fitted.
export function showDiagram(element, svgText) {
  element.innerHTML = `<div class="zoom"><button data-zoom="in" title="Zoom in">+</button><button data-zoom="out" title="Zoom out">−</button><button data-zoom="fit" title="Fit">Fit</button></div>` + svgText;
  enableZoomPan(element, element.querySelector("svg"));
}

/// Zoom and pan by viewBox. Fit shows the whole drawing at any size (never past 1:1);
/// the wheel zooms about the cursor, the buttons about the centre; a drawing too large to
/// read whole gets a minimap. Leaves `element.diagram = {fit, reveal(name), minimap}` for
/// the page to use.
export function enableZoomPan(element, svg) {
  // A redraw (the editor redraws as you type) replaces the previous drawing's listeners.
  if (element.zoomListeners) element.zoomListeners.abort();
  if (element.zoomResize) element.zoomResize.disconnect();
  const listeners = element.zoomListeners = new AbortController();
  const signal = listeners.signal;
  const full = { x: 0, y: 0, w: parseFloat(svg.getAttribute("width")) || 100, h: parseFloat(svg.getAttribute("height")) || 100 };
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  // The viewBox always has the element's aspect, so one unit is the same size both ways.
  let view = { ...full };
  const size = () => {
    const box = element.getBoundingClientRect();
    return { box, width: Math.max(box.width, 1), height: Math.max(box.height, 1) };
  };
  const MARGIN = 12; // pixels around the drawing after Fit
  // The scale at which the whole drawing fits `area` (pixels), never past 1:1.
  const scaleFor = (area) => Math.min(1, (area.w - 2 * MARGIN) / full.w, (area.h - 2 * MARGIN) / full.h);
  const minimap = createMinimap(element, svg, full, () => view, (x, y) => {
    view = { ...view, x: x - view.w / 2, y: y - view.h / 2 };
    apply();
  });
  const apply = () => {
    svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
    minimap.moved();
  };
  // A drawing that does not fit at READABLE_SCALE gets the minimap, and Fit keeps the
  // drawing out of the minimap's corner: beside it or above it, whichever is larger.
  const fit = () => {
    const { box, width, height } = size();
    const whole = { x: 0, y: 0, w: width, h: height };
    // A hidden diagram (another view's tab is open) is fitted again when it is shown.
    const shown = minimap.show(scaleFor(whole) < READABLE_SCALE && box.width > 0);
    let area = whole;
    if (shown) {
      const beside = { x: 0, y: 0, w: width - shown.width - MINIMAP_GAP, h: height };
      const above = { x: 0, y: 0, w: width, h: height - shown.height - MINIMAP_GAP };
      area = scaleFor(beside) >= scaleFor(above) ? beside : above;
    }
    const scale = Math.max(scaleFor(area), 1e-3);
    const w = width / scale, h = height / scale;
    view = { x: full.w / 2 - (area.x + area.w / 2) / scale, y: full.h / 2 - (area.y + area.h / 2) / scale, w, h };
    apply();
  };
  const zoom = (factor, cx, cy) => {
    const w = Math.min(Math.max(view.w * factor, 50), Math.max(full.w, full.h) * 20);
    const k = w / view.w;
    view = { x: cx - (cx - view.x) * k, y: cy - (cy - view.y) * k, w, h: view.h * k };
    apply();
  };
  const unitsPerPixel = () => view.w / size().width;
  const toSvg = (clientX, clientY) => {
    const { box } = size();
    const k = unitsPerPixel();
    return { x: view.x + (clientX - box.left) * k, y: view.y + (clientY - box.top) * k };
  };
  // Centres a state if any part of it is out of view (zooming out if it is larger).
  const reveal = (name) => {
    const g = svg.querySelector(`.sg-state[data-state="${CSS.escape(name)}"]`);
    const shape = g && (g.querySelector(".sg-shape") || g);
    if (!shape) return;
    const b = shape.getBBox();
    const inside = b.x >= view.x && b.y >= view.y && b.x + b.width <= view.x + view.w && b.y + b.height <= view.y + view.h;
    if (inside) return;
    const k = Math.max(1, (b.width * 1.2) / view.w, (b.height * 1.2) / view.h);
    const w = view.w * k, h = view.h * k;
    view = { x: b.x + b.width / 2 - w / 2, y: b.y + b.height / 2 - h / 2, w, h };
    apply();
  };
  element.addEventListener("wheel", (event) => {
    event.preventDefault();
    const point = toSvg(event.clientX, event.clientY);
    zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15, point.x, point.y);
  }, { passive: false, signal });
  // One pointer pans; two (a pinch) zoom about their midpoint.
  const pointers = new Map();
  let drag = null, pinch = null;
  element.addEventListener("pointerdown", (event) => {
    if (event.target.closest(".zoom, .minimap")) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1 };
      drag = null;
    } else {
      drag = { x: event.clientX, y: event.clientY, view: { ...view }, moved: false };
    }
  }, { signal });
  window.addEventListener("pointermove", (event) => {
    if (pointers.has(event.pointerId)) pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pinch && pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const distance = Math.hypot(a.x - b.x, a.y - b.y) || 1;
      const middle = toSvg((a.x + b.x) / 2, (a.y + b.y) / 2);
      zoom(pinch.distance / distance, middle.x, middle.y);
      pinch.distance = distance;
      element.dataset.justDragged = "1";
      return;
    }
    if (!drag) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) { drag.moved = true; element.classList.add("dragging"); }
    if (!drag.moved) return;
    const k = unitsPerPixel();
    view = { ...drag.view, x: drag.view.x - dx * k, y: drag.view.y - dy * k };
    apply();
  }, { signal });
  const release = (event) => {
    pointers.delete(event.pointerId);
    if (pointers.size < 2) pinch = null;
    if (drag && drag.moved) element.dataset.justDragged = "1";
    drag = null;
    element.classList.remove("dragging");
  };
  window.addEventListener("pointerup", release, { signal });
  window.addEventListener("pointercancel", release, { signal });
  element.querySelector(".zoom").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const center = { x: view.x + view.w / 2, y: view.y + view.h / 2 };
    if (button.dataset.zoom === "in") zoom(1 / 1.25, center.x, center.y);
    else if (button.dataset.zoom === "out") zoom(1.25, center.x, center.y);
    else fit();
  });
  // Re-fit when the element changes size (a phone turned, a window narrowed) until the
  // user zooms or pans by hand.
  let fitted = true;
  const keep = () => { fitted = false; };
  element.addEventListener("wheel", keep, { signal });
  element.addEventListener("pointerdown", (event) => { if (!event.target.closest(".zoom")) keep(); }, { signal });
  minimap.onMove(keep);
  element.querySelector(".zoom").addEventListener("click", (event) => { fitted = event.target.closest("[data-zoom=fit]") !== null; });
  if (window.ResizeObserver) {
    // (observe() answers nothing: the observer itself is kept, for the next redraw to disconnect.)
    (element.zoomResize = new ResizeObserver(() => {
      if (fitted) return fit();
      const { box, width, height } = size();
      view.h = view.w * (height / width);
      minimap.show(scaleFor({ w: width, h: height }) < READABLE_SCALE && box.width > 0);
      apply();
    })).observe(element);
  }
  fit();
  element.diagram = { fit, reveal, minimap };
}

/// Below this scale a Fit drawing's 12 px captions are under 7 px: too small to read, so a
/// minimap of the whole drawing is shown to find one's way once zoomed in.
export const READABLE_SCALE = 0.6;
export const MINIMAP_WIDTH_MAX = 180; // pixels; a third of the diagram's width at most
export const MINIMAP_HEIGHT_MAX = 220; // pixels; 40 % of the diagram's height at most
export const MINIMAP_GAP = 16; // pixels between the fitted drawing and the minimap

/// The minimap: every state's box and every edge of the drawing, small, coloured like
/// the states, with the visible part drawn on it; a click or a drag there moves the view.
/// `show(wanted)` answers its size in pixels when shown, else null; `moved()` redraws
/// the visible part; `recolour()` copies the states' outcome classes.
function createMinimap(element, svg, full, currentView, centreOn) {
  const ns = "http://www.w3.org/2000/svg";
  const box = document.createElement("div");
  box.className = "minimap";
  box.hidden = true;
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", "Minimap of the whole diagram: click or drag to move the view");
  const map = document.createElementNS(ns, "svg");
  map.setAttribute("viewBox", `0 0 ${full.w} ${full.h}`);
  map.setAttribute("preserveAspectRatio", "xMidYMid meet");
  box.appendChild(map);
  element.appendChild(box);
  const frame = document.createElementNS(ns, "rect");
  frame.setAttribute("class", "mm-view");
  let built = false;
  const boxes = []; // [minimap rect, its state's g]
  const listeners = [];
  // Built on first show: a box per state (from its laid-out shape) and a copy of each edge.
  const build = () => {
    built = true;
    for (const path of svg.querySelectorAll(".sg-edge")) {
      const copy = document.createElementNS(ns, "path");
      copy.setAttribute("d", path.getAttribute("d") || "");
      copy.setAttribute("class", "mm-edge");
      map.appendChild(copy);
    }
    for (const g of svg.querySelectorAll(".sg-state")) {
      const shape = g.querySelector(".sg-shape") || g;
      const b = shape.getBBox();
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", b.x); rect.setAttribute("y", b.y);
      rect.setAttribute("width", b.width); rect.setAttribute("height", b.height);
      rect.setAttribute("class", `mm-box${g.classList.contains("sg-container") ? " mm-container" : ""}`);
      rect.dataset.mmState = g.dataset.state;
      map.appendChild(rect);
      boxes.push([rect, g]);
    }
    map.appendChild(frame);
    recolour();
  };
  const recolour = () => {
    for (const [rect, g] of boxes) {
      const outcome = [...g.classList].find((c) => c.startsWith("st-"));
      rect.setAttribute("class", `mm-box${g.classList.contains("sg-container") ? " mm-container" : ""}${outcome ? ` ${outcome}` : ""}${g.classList.contains("selected") ? " selected" : ""}`);
    }
  };
  const moved = () => {
    if (box.hidden || !built) return;
    const view = currentView();
    frame.setAttribute("x", view.x); frame.setAttribute("y", view.y);
    frame.setAttribute("width", view.w); frame.setAttribute("height", view.h);
  };
  const show = (wanted) => {
    if (!wanted) { box.hidden = true; return null; }
    const frame = element.getBoundingClientRect();
    const heightMax = Math.min(MINIMAP_HEIGHT_MAX, frame.height * 0.4);
    const width = Math.max(48, Math.min(MINIMAP_WIDTH_MAX, frame.width / 3, (heightMax * full.w) / full.h));
    const height = Math.min(heightMax, Math.max(36, (width * full.h) / full.w));
    box.style.width = `${Math.round(width)}px`;
    box.style.height = `${Math.round(height)}px`;
    box.hidden = false;
    if (!built) build();
    moved();
    return { width, height };
  };
  // A point of the minimap, in the drawing's units (the map keeps the drawing's aspect).
  const toDrawing = (event) => {
    const rect = map.getBoundingClientRect();
    const k = Math.max(full.w / rect.width, full.h / rect.height);
    const left = rect.left + (rect.width - full.w / k) / 2, top = rect.top + (rect.height - full.h / k) / 2;
    return { x: (event.clientX - left) * k, y: (event.clientY - top) * k };
  };
  let dragging = null;
  box.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    event.stopPropagation();
    dragging = event.pointerId;
    box.setPointerCapture?.(event.pointerId);
    const point = toDrawing(event);
    listeners.forEach((listener) => listener());
    centreOn(point.x, point.y);
  });
  box.addEventListener("pointermove", (event) => {
    if (dragging !== event.pointerId) return;
    const point = toDrawing(event);
    centreOn(point.x, point.y);
  });
  const release = (event) => { if (dragging === event.pointerId) dragging = null; };
  box.addEventListener("pointerup", release);
  box.addEventListener("pointercancel", release);
  // A click on the minimap selects no state.
  box.addEventListener("click", (event) => event.stopPropagation());
  box.addEventListener("wheel", (event) => event.stopPropagation());
  return { show, moved, recolour, onMove: (listener) => listeners.push(listener), element: box };
}

/// Calls `onSelect(name)` when a state of the diagram is clicked (not dragged), or focused
/// by keyboard (Tab) and opened with Enter or Space.
export function onStateClick(element, onSelect) {
  element.addEventListener("click", (event) => {
    if (element.dataset.justDragged) { delete element.dataset.justDragged; return; }
    const state = event.target.closest(".sg-state");
    if (state) onSelect(state.dataset.state);
  });
  element.addEventListener("keydown", (event) => {
    const state = event.target.closest && event.target.closest(".sg-state");
    if (!state || (event.key !== "Enter" && event.key !== " ")) return;
    event.preventDefault();
    onSelect(state.dataset.state);
  });
}

/// Makes every state of a drawn diagram reachable by Tab, named for screen readers.
export function focusableStates(element) {
  for (const g of element.querySelectorAll(".sg-state")) {
    g.setAttribute("tabindex", "0");
    g.setAttribute("role", "button");
    g.setAttribute("aria-label", `${g.dataset.state} (${g.dataset.type || "state"}): open its details`);
  }
}

export const OUTCOMES = ["succeeded", "failed", "aborted", "caught", "retried", "retrying", "running", "notreached"];

export function colour(element, summary, selected, taken) {
  const svg = element.querySelector("svg");
  if (!svg) return;
  svg.classList.add("sg-execution");
  for (const path of svg.querySelectorAll(".sg-edge")) {
    path.classList.toggle("sg-taken", taken.has(`${path.dataset.from}>${path.dataset.to}`));
  }
  svg.querySelectorAll(".sg-badges").forEach((g) => g.remove());
  const badges = document.createElementNS("http://www.w3.org/2000/svg", "g");
  badges.setAttribute("class", "sg-badges");
  for (const g of svg.querySelectorAll(".sg-state")) {
    const entry = summary.get(g.dataset.state);
    for (const outcome of OUTCOMES) g.classList.remove(`st-${outcome}`);
    g.classList.add(`st-${entry ? entry.status : "notreached"}`);
    g.classList.toggle("selected", g.dataset.state === selected);
    if (entry && entry.runs > 1) {
      const shape = g.querySelector(".sg-shape");
      const box = shape.getBBox();
      const parts = [];
      if (entry.counts.succeeded) parts.push(`✓${entry.counts.succeeded}`);
      if (entry.counts.retried) parts.push(`↻${entry.counts.retried}`);
      if (entry.counts.caught) parts.push(`⚑${entry.counts.caught}`);
      if (entry.counts.failed) parts.push(`✗${entry.counts.failed}`);
      if (entry.counts.retrying) parts.push(`↻…${entry.counts.retrying}`);
      if (entry.counts.running) parts.push(`▶${entry.counts.running}`);
      const text = parts.join(" ");
      const width = text.length * 7.4 + 10;
      const x = box.x + box.width - width + 6, y = box.y - 9;
      badges.insertAdjacentHTML("beforeend", `<rect class="sg-badge-bg" x="${x}" y="${y}" width="${width}" height="15" rx="7"/><text class="sg-badge" x="${x + 4}" y="${y + 11}">${esc(text)}</text>`);
    }
  }
  svg.appendChild(badges);
  if (element.diagram) element.diagram.minimap.recolour();
}
