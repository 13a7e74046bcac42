// steppe console: one execution: coloured diagram, table of states, timeline, state panel, Map iterations and
// the event history.
import { ApiError, PAGE_EVENTS, PAGE_ITERATIONS, PAGE_ROWS, POLL_MS, api, causeHtml, consoleApi, copyButton, date, duration, esc, jsonBlock, link, machinePath, main, mapRunPath, pageToken, params, ranFor, setLive, setParams, setPollTimer, statusBadge, toast } from "./core.js";
import { colour, drawDiagram, focusableStates, onStateClick } from "./diagram.js";
import { redriveDialog, startDialog, stopDialog } from "./dialogs.js";
import { approveDialog, rejectDialog } from "./tasks.js";

// ---------- executions ----------

/// The whole history on load, from the server's history endpoint (a 25,000-event history
/// in one request, where GetExecutionHistory takes 25 one after another); then, while the
/// execution runs, what is new since `afterId`, newest first from GetExecutionHistory.
export async function fetchHistory(arn, afterId, token) {
  const fresh = [];
  if (afterId === 0) {
    let nextToken;
    do {
      const query = new URLSearchParams({ executionArn: arn });
      if (nextToken) query.set("nextToken", nextToken);
      const { ok, status, value } = await consoleApi(`api/history?${query}`);
      if (!ok) throw new ApiError(status === 400 ? "ExecutionDoesNotExist" : "Error", value.message || `HTTP ${status}`, status);
      for (const event of value.events || []) fresh.push(event);
      nextToken = value.nextToken;
    } while (nextToken && token === pageToken);
    return fresh;
  }
  // Newest first until we reach what we have.
  let nextToken;
  outer: do {
    const page = await api("GetExecutionHistory", { executionArn: arn, maxResults: 200, reverseOrder: true, nextToken, includeExecutionData: true });
    const events = page.events || [];
    if (events.length > 1 && events[0].id < events[events.length - 1].id) {
      // The server ignored reverseOrder: read everything and keep the new events.
      return (await fetchHistory(arn, 0, token)).filter((event) => event.id > afterId);
    }
    for (const event of events) {
      if (event.id <= afterId) break outer;
      fresh.push(event);
    }
    nextToken = page.nextToken;
  } while (nextToken && token === pageToken);
  return fresh.reverse();
}

export async function definitionFor(execution) {
  // Express executions: the server keeps no version with them; the machine's will do.
  if (!String(execution.executionArn).includes(":express:")) try {
    const result = await api("DescribeStateMachineForExecution", { executionArn: execution.executionArn });
    if (result.definition) return result.definition;
  } catch (_) { /* older servers: fall back to the machine's current definition */ }
  const machine = await api("DescribeStateMachine", { stateMachineArn: execution.stateMachineArn });
  return machine.definition;
}

/// An ended Express execution as the server keeps it: DescribeExecution's shape, and its
/// events in GetExecutionHistory's.
export async function expressExecution(arn) {
  const { ok, status, value } = await consoleApi(`api/express-executions?executionArn=${encodeURIComponent(arn)}`);
  if (!ok) throw new ApiError(status === 404 ? "ExecutionDoesNotExist" : "Error", value.message || `HTTP ${status}`, status);
  return value;
}

export async function executionPage(arn, token) {
  const isExpress = arn.includes(":express:");
  const kept = isExpress ? await expressExecution(arn) : null;
  let execution = isExpress ? kept.execution : await api("DescribeExecution", { executionArn: arn });
  if (token !== pageToken) return;
  document.title = `${execution.name} · steppe`;
  const initial = params();
  const VIEWS = ["graph", "table", "timeline"];
  const state = {
    events: [], lastId: 0, analysis: null, model: null, selected: initial.get("state") || null, run: null,
    scope: initial.get("scope") || "", iterationFilter: initial.get("iterations") || "", eventPage: pageParam(initial, "epage", -1), eventFilter: (initial.get("events") || "").toLowerCase(), iterationPage: pageParam(initial, "ipage", 0),
    view: VIEWS.includes(initial.get("view")) ? initial.get("view") : "graph",
    sort: { key: initial.get("sort") || "started", descending: initial.get("order") === "desc" }, tablePage: pageParam(initial, "tpage", 0), timelinePage: pageParam(initial, "lpage", 0),
  };
  main.innerHTML = `
    <h1>${esc(execution.name)} <span id="status-slot"></span></h1>
    <div class="toolbar">
      <span>State machine: ${link(machinePath(execution.stateMachineArn), execution.stateMachineArn.split(":").pop())}</span>
      <button id="stop-execution" class="danger" hidden>Stop</button>
      <button id="redrive-execution" hidden>Redrive</button>
      <button id="rerun-execution">New execution with this input</button>
    </div>
    <div id="execution-summary"></div>
    <div id="execution-tasks"></div>
    <div class="row">
      <div class="grow">
        <div class="toolbar legend">
          <span style="--c:#2e9b57">succeeded</span><span style="--c:#c93c3c">failed</span><span style="--c:#c93c3c" class="dashed">aborted</span><span style="--c:#d9822b">caught</span>
          <span style="--c:#c9a412">retried</span><span style="--c:#8a6fd8">retrying</span><span style="--c:#2f7fd8">running</span><span style="--c:#c3cad3">not reached</span>
          <span id="scope-label" class="muted"></span>
        </div>
        <div class="tabs" role="tablist" aria-label="View">${VIEWS.map((v) =>
          `<button type="button" role="tab" id="tab-${v}" data-view="${v}" aria-controls="view-${v}">${{ graph: "Graph", table: "Table", timeline: "Timeline" }[v]}</button>`).join("")}</div>
        <div id="view-graph" role="tabpanel" aria-labelledby="tab-graph"><div class="diagram" id="diagram"></div></div>
        <div id="view-table" role="tabpanel" aria-labelledby="tab-table" hidden></div>
        <div id="view-timeline" role="tabpanel" aria-labelledby="tab-timeline" hidden></div>
      </div>
      <div class="side panel" id="state-panel"><p class="muted">Click a state to see its input, output, error and cause.</p></div>
    </div>
    <h2>Event history <span class="muted" id="event-count"></span></h2>
    <div class="toolbar"><input type="text" id="event-filter" placeholder="Filter by type or state" aria-label="Filter events by type or state" value="${esc(state.eventFilter)}"></div>
    <div id="events"></div>`;
  const diagram = document.getElementById("diagram");
  document.getElementById("rerun-execution").onclick = () => startDialog(execution.stateMachineArn, execution.input || "{}");
  document.getElementById("stop-execution").onclick = () => stopDialog(arn, () => refresh());
  document.getElementById("redrive-execution").onclick = () => redriveDialog(arn, () => refresh());
  document.getElementById("event-filter").oninput = (event) => {
    state.eventFilter = event.target.value.toLowerCase(); state.eventPage = 0; setParams({ events: event.target.value }); renderEvents(state);
  };
  const select = (name, run) => { state.selected = name; state.run = run || null; state.iterationPage = 0; render(); };
  onStateClick(diagram, (name) => select(name));
  const showView = (view) => {
    state.view = view;
    for (const v of VIEWS) {
      document.getElementById(`view-${v}`).hidden = v !== view;
      const tab = document.getElementById(`tab-${v}`);
      tab.setAttribute("aria-selected", String(v === view));
      tab.classList.toggle("active", v === view);
    }
    renderView();
  };
  document.querySelectorAll("[data-view]").forEach((tab) => { tab.onclick = () => showView(tab.dataset.view); });
  const views = { table: document.getElementById("view-table"), timeline: document.getElementById("view-timeline") };
  onRunPick(views.table, state, select, renderView);
  onRunPick(views.timeline, state, select, renderView);

  // The history comes while the definition is read and drawn.
  let firstHistory = isExpress ? null : fetchHistory(arn, 0, token);
  firstHistory?.catch(() => {}); // awaited (and reported) by the first refresh
  const definition = await definitionFor(execution);
  state.model = await drawDiagram(diagram, definition, token);
  focusableStates(diagram);
  showView(state.view);

  function render() {
    renderSummary(execution);
    if (!state.analysis) return;
    // The problem first: a failure (or a caught one) opens selected, in view, unless the
    // user has picked a state already.
    let reveal = null;
    if (!state.selected) {
      const problem = SteppeHistory.problemRun(state.analysis);
      if (problem) {
        state.selected = problem.name;
        state.run = problem;
        reveal = problem.name;
      }
    }
    markRetrying(state.analysis, definition, execution.status);
    const summary = SteppeHistory.summarise(state.analysis, state.scope);
    colour(diagram, summary, state.selected, SteppeHistory.takenEdges(state.analysis, state.scope));
    if (reveal && diagram.diagram) diagram.diagram.reveal(reveal);
    document.getElementById("scope-label").innerHTML = state.scope
      ? `Showing ${esc(state.scope)} <a href="#" id="clear-scope">show all</a>` : "";
    const clear = document.getElementById("clear-scope");
    if (clear) clear.onclick = (event) => { event.preventDefault(); state.scope = ""; render(); };
    renderStatePanel(state, summary, render);
    renderView();
    renderEvents(state);
  }

  /// The table or the timeline alone (sorting and paging them redraws nothing else), and
  /// the view's state in the URL.
  function renderView() {
    if (state.view === "table") renderTable(state, views.table);
    if (state.view === "timeline") renderTimeline(state, views.timeline);
    // After drawing, which keeps each page within its view's pages.
    setParams({ view: state.view === "graph" ? "" : state.view, state: state.selected, scope: state.scope,
      sort: state.sort.key === "started" ? "" : state.sort.key, order: state.sort.descending ? "desc" : "",
      tpage: state.analysis && state.tablePage > 0 ? String(state.tablePage + 1) : "",
      lpage: state.analysis && state.timelinePage > 0 ? String(state.timelinePage + 1) : "" });
  }

  async function refresh() {
    if (token !== pageToken) return;
    const first = firstHistory;
    firstHistory = null;
    try {
      const [described, fresh] = isExpress ? [kept.execution, state.analysis ? [] : kept.events] : await Promise.all([
        first ? execution : api("DescribeExecution", { executionArn: arn }),
        first || fetchHistory(arn, state.lastId, token),
      ]);
      if (token !== pageToken) return;
      execution = described;
      if (fresh.length > 0 || !state.analysis) {
        for (const event of fresh) state.events.push(event);
        state.lastId = state.events.length ? state.events[state.events.length - 1].id : 0;
        state.analysis = SteppeHistory.analyse(state.events, state.model);
        const tails = await consoleApi(`api/stderr?executionArn=${encodeURIComponent(arn)}`).catch(() => ({ ok: false }));
        if (tails.ok) state.stderr = tails.value;
      }
      render();
    } catch (error) {
      toast(`${error.type || "Error"}: ${error.message}`, true);
    }
    const running = execution.status === "RUNNING";
    await renderExecutionTasks(arn, running, token);
    setLive(running);
    if (running && token === pageToken) setPollTimer(setTimeout(refresh, POLL_MS));
  }
  await refresh();
}


// ---------- time: the table of states and the timeline ----------

/// The runs shown under the page's scope filter, each with its index in analysis.runs.
export function scopedRuns(state) {
  const analysis = state.analysis;
  const list = [];
  analysis.runs.forEach((run, index) => {
    if (!state.scope || SteppeHistory.inScope(run, state.scope, analysis)) list.push({ run, index });
  });
  return list;
}

/// When a run ended, or now while it runs.
/// Whether a run is still going: running, or waiting out a Retry back-off.
export const ongoing = (run) => run.status === "retrying" || run.endedAt === undefined;
export const endOf = (run) => (ongoing(run) ? Date.now() : run.endedAt);
export const attemptsOf = (run) => Math.max(1, run.attempts ? run.attempts.length : 1);

export const TABLE_COLUMNS = [
  ["name", "Name", (r) => r.name],
  ["type", "Type", (r) => r.type || ""],
  ["status", "Status", (r) => r.status],
  ["scope", "Iteration / branch", (r) => r.scopeKey],
  ["started", "Started after", (r) => r.startedAt],
  ["duration", "Duration", (r) => endOf(r) - r.startedAt],
  ["attempts", "Attempts", attemptsOf],
];

export function pagerHtml(attribute, page, pages) {
  if (pages <= 1) return "";
  return `<div class="pager"><button ${attribute}="0" ${page === 0 ? "disabled" : ""}>First</button><button ${attribute}="${page - 1}" ${page === 0 ? "disabled" : ""}>Previous</button>
    <span>Page ${page + 1} of ${pages}</span><button ${attribute}="${page + 1}" ${page + 1 >= pages ? "disabled" : ""}>Next</button><button ${attribute}="${pages - 1}" ${page + 1 >= pages ? "disabled" : ""}>Last</button></div>`;
}

/// Every run of every state (one row per entry, per iteration and branch), sortable by
/// any column; one page of PAGE_ROWS rows in the DOM.
export function renderTable(state, container) {
  if (!state.analysis) return;
  const started = performance.now();
  const t0 = state.analysis.startMillis;
  const rows = scopedRuns(state);
  const column = TABLE_COLUMNS.find(([key]) => key === state.sort.key) || TABLE_COLUMNS[4];
  const value = column[2];
  const sign = state.sort.descending ? -1 : 1;
  rows.sort((a, b) => {
    const x = value(a.run), y = value(b.run);
    const order = typeof x === "string" ? x.localeCompare(y) : (x ?? Infinity) - (y ?? Infinity);
    return sign * order || a.index - b.index;
  });
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
  const page = state.tablePage = Math.min(state.tablePage, pages - 1);
  const body = rows.slice(page * PAGE_ROWS, (page + 1) * PAGE_ROWS).map(({ run, index }) => {
    const label = run.retrying ? `retrying (${run.retrying.attempt} of ${run.retrying.of})` : run.status;
    return `<tr class="clickable${run.name === state.selected && (!state.run || state.run === run) ? " current" : ""}" data-run="${index}" tabindex="0">
      <td>${esc(run.name)}</td><td>${esc(run.type || "")}</td><td><span class="status status-${esc(run.status)}">${esc(label)}</span></td>
      <td>${esc(run.scopeKey || "")}</td><td class="num">+${esc(duration(run.startedAt - t0))}</td>
      <td class="num">${esc(duration(endOf(run) - run.startedAt))}${ongoing(run) ? " so far" : ""}</td><td class="num">${attemptsOf(run)}</td></tr>`;
  }).join("");
  container.innerHTML = `<p class="muted" id="states-table-count">${rows.length} run${rows.length === 1 ? "" : "s"} of states${state.scope ? ` in ${esc(state.scope)}` : ""}; the time since the execution started, how long each took and how many attempts.</p>
    <div class="table-wrap"><table id="states-table"><thead><tr>${TABLE_COLUMNS.map(([key, title]) => {
      const sorted = key === state.sort.key;
      return `<th aria-sort="${sorted ? (state.sort.descending ? "descending" : "ascending") : "none"}"><button type="button" class="sort" data-sort="${key}">${esc(title)}${sorted ? (state.sort.descending ? " ▼" : " ▲") : ""}</button></th>`;
    }).join("")}</tr></thead><tbody>${body}</tbody></table></div>${pagerHtml("data-table-page", page, pages)}`;
  container.dataset.renderMillis = String(Math.round(performance.now() - started));
}

/// A Gantt chart of the runs on one time axis from the execution's start: each attempt a
/// bar coloured by its outcome, the back-off gaps between retries hatched, iterations and
/// branches indented under their Map or Parallel. One page of PAGE_ROWS rows in the DOM.
export function renderTimeline(state, container) {
  if (!state.analysis) return;
  const started = performance.now();
  const t0 = state.analysis.startMillis;
  const rows = scopedRuns(state).sort((a, b) => a.run.startedAt - b.run.startedAt || a.index - b.index);
  let tEnd = t0 + 1;
  for (const { run } of rows) tEnd = Math.max(tEnd, endOf(run));
  const span = tEnd - t0;
  const x = (t) => `${(((t - t0) / span) * 100).toFixed(3)}%`;
  const w = (a, b) => `max(2px, ${(((b - a) / span) * 100).toFixed(3)}%)`;
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
  const page = state.timelinePage = Math.min(state.timelinePage, pages - 1);
  const bars = (run) => {
    const end = endOf(run);
    const whole = `<span class="tl-span" style="left:${x(run.startedAt)};width:${w(run.startedAt, end)}"></span>`;
    if (!run.attempts || run.attempts.length === 0) {
      return whole + `<span class="tl-bar st-${esc(run.status)}" style="left:${x(run.startedAt)};width:${w(run.startedAt, end)}" title="${esc(`${run.name}: ${run.status}, ${duration(end - run.startedAt)}`)}"></span>`;
    }
    let html = whole;
    run.attempts.forEach((attempt, i) => {
      const stop = attempt.end ?? end;
      const outcome = attempt.error !== undefined ? "failed" : attempt.end === undefined ? run.status : i + 1 === run.attempts.length ? run.status : "succeeded";
      html += `<span class="tl-bar st-${esc(outcome)}" style="left:${x(attempt.start)};width:${w(attempt.start, stop)}" title="${esc(`attempt ${i + 1}${attempt.error ? `: ${attempt.error}` : ""}, ${duration(stop - attempt.start)}`)}"></span>`;
      const next = run.attempts[i + 1];
      const gapEnd = next ? next.start : (run.status === "retrying" ? end : undefined);
      if (attempt.end !== undefined && gapEnd !== undefined && gapEnd > attempt.end) {
        html += `<span class="tl-backoff" style="left:${x(attempt.end)};width:${w(attempt.end, gapEnd)}" title="${esc(`back-off before attempt ${i + 2}: ${duration(gapEnd - attempt.end)}`)}"></span>`;
      }
    });
    return html;
  };
  const body = rows.slice(page * PAGE_ROWS, (page + 1) * PAGE_ROWS).map(({ run, index }) => {
    const depth = run.scopeKey ? run.scopeKey.split("/").length : 0;
    return `<div class="tl-row${run.name === state.selected && (!state.run || state.run === run) ? " current" : ""}" data-run="${index}" tabindex="0" role="button"
      aria-label="${esc(`${run.name}${run.scopeKey ? ` in ${run.scopeKey}` : ""}: ${run.status}, started after ${duration(run.startedAt - t0)}, took ${duration(endOf(run) - run.startedAt)}`)}">
      <div class="tl-label" style="padding-left:${4 + depth * 12}px"><span>${esc(run.name)}</span>${run.scopeKey ? ` <span class="muted">${esc(run.scopeKey.split("/").pop())}</span>` : ""}</div>
      <div class="tl-track">${bars(run)}</div></div>`;
  }).join("");
  const tick = (millis) => (span < 10 ? `${millis.toFixed(1)} ms` : duration(millis));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<span style="left:${f * 100}%">${esc(tick(span * f))}</span>`).join("");
  container.innerHTML = `<div class="toolbar legend"><span style="--c:var(--ok)">succeeded</span><span style="--c:var(--bad)">failed attempt</span><span class="hatched" style="--c:#8a6fd8">back-off</span><span style="--c:var(--run)">running</span>
      <span class="muted" id="timeline-count">${rows.length} run${rows.length === 1 ? "" : "s"} over ${esc(duration(span))}</span></div>
    <div class="timeline" id="timeline"><div class="tl-row tl-axis" aria-hidden="true"><div class="tl-label"></div><div class="tl-track">${ticks}</div></div>${body}</div>
    ${pagerHtml("data-timeline-page", page, pages)}`;
  container.dataset.renderMillis = String(Math.round(performance.now() - started));
}

/// Clicks and Enter on a run (a table row, a timeline row) select it; sort headers and
/// pagers of the table and the timeline.
export function onRunPick(container, state, select, rerender) {
  const pick = (target) => {
    const row = target.closest("[data-run]");
    if (!row) return false;
    const run = state.analysis.runs[Number(row.dataset.run)];
    if (run) select(run.name, run);
    container.querySelector(`[data-run="${row.dataset.run}"]`)?.focus();
    return true;
  };
  container.addEventListener("click", (event) => {
    const sort = event.target.closest("[data-sort]");
    if (sort) {
      const key = sort.dataset.sort;
      state.sort = { key, descending: state.sort.key === key ? !state.sort.descending : false };
      state.tablePage = 0;
      rerender();
      container.querySelector(`[data-sort="${key}"]`)?.focus();
      return;
    }
    const pager = event.target.closest("[data-table-page], [data-timeline-page]");
    if (pager) {
      if (pager.dataset.tablePage !== undefined) state.tablePage = Number(pager.dataset.tablePage);
      else state.timelinePage = Number(pager.dataset.timelinePage);
      rerender();
      return;
    }
    pick(event.target);
  });
  container.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target.matches("[data-run]") && pick(event.target)) event.preventDefault();
  });
}

/// A failed state of a running execution that a Retrier will start again is "retrying"
/// (with attempt n of m and the seconds to the next), not failed: checked on every render,
/// so the countdown moves while the page polls.
export function markRetrying(analysis, definition, executionStatus) {
  for (const run of analysis.runs) {
    if (run.status !== "failed" && run.status !== "retrying") continue;
    const retriers = executionStatus === "RUNNING" && run.type !== "Fail"
      ? (SteppeHistory.stateDefinition(definition, run.name) || {}).Retry : undefined;
    const info = retriers ? SteppeHistory.retrying({ ...run, status: "failed" }, retriers, Date.now()) : null;
    run.status = info ? "retrying" : "failed";
    run.retrying = info;
  }
}

/// The execution's pending tasks, with Approve and Reject, while it runs.
export async function renderExecutionTasks(arn, running, token) {
  const container = document.getElementById("execution-tasks");
  if (!container) return;
  let list = [];
  if (running) {
    const answer = await consoleApi(`api/tasks?executionArn=${encodeURIComponent(arn)}`).catch(() => ({ ok: false }));
    list = answer.ok ? (answer.value.tasks || []).filter((task) => task.executionArn === arn) : [];
  }
  if (token !== pageToken) return;
  const key = list.map((task) => task.taskToken).join(",");
  if (container.dataset.key === key) return;
  container.dataset.key = key;
  container.innerHTML = list.map((task, i) => `<div class="panel toolbar" style="margin-top:8px">
    <strong>Waiting for an answer:</strong> ${esc(task.stateName)} <code>${esc(task.activityArn || task.resource || "")}</code>
    <button class="primary" data-execution-approve="${i}">Approve</button><button class="danger" data-execution-reject="${i}">Reject</button></div>`).join("");
  container.querySelectorAll("[data-execution-approve]").forEach((button) => {
    button.onclick = () => approveDialog(list[Number(button.dataset.executionApprove)], null);
  });
  container.querySelectorAll("[data-execution-reject]").forEach((button) => {
    button.onclick = () => rejectDialog(list[Number(button.dataset.executionReject)], null);
  });
}

export function renderSummary(execution) {
  document.getElementById("status-slot").innerHTML = statusBadge(execution.status, "execution-status");
  const running = execution.status === "RUNNING";
  document.getElementById("stop-execution").hidden = !running;
  const express = String(execution.executionArn).includes(":express:");
  document.getElementById("redrive-execution").hidden = express || !["FAILED", "TIMED_OUT", "ABORTED"].includes(execution.status);
  // Re-render only on change, so that opened <details> stay open while polling.
  const container = document.getElementById("execution-summary");
  const key = `${execution.status}|${execution.redriveCount}|${execution.stopDate}`;
  if (container.dataset.key === key) return;
  container.dataset.key = key;
  const failure = execution.error || execution.cause
    ? `<div class="error-box" id="execution-error"><strong>${esc(execution.error || "")}</strong>${causeHtml(execution.cause || "", "execution-cause")}</div>` : "";
  const open = (id) => (document.getElementById(id) || {}).open ? " open" : "";
  container.innerHTML = `${failure}
    <div class="kv panel">${express ? `<span>Type</span><span id="express-kept">Express: kept in this server's memory${execution.eventsKept === false ? "; it ran too many steps for its events to be kept" : ""}${execution.eventsDropped ? `; ${esc(execution.eventsDropped)} later events are not shown` : ""}</span>` : ""}<span>Started</span><span>${esc(date(execution.startDate))}</span>
    <span>Stopped</span><span>${esc(date(execution.stopDate)) || "—"}</span>
    <span>Duration</span><span id="execution-duration">${esc(ranFor(execution))}${execution.stopDate ? "" : " so far"}</span>
    ${execution.redriveCount ? `<span>Redrives</span><span>${esc(execution.redriveCount)}</span>` : ""}
    <span>Input</span><details id="execution-input-details"${open("execution-input-details")}><summary>${esc(String(execution.input || "").slice(0, 120))}</summary></details>
    ${execution.output !== undefined ? `<span>Output</span><details id="execution-output-details"${open("execution-output-details")}><summary>${esc(String(execution.output).slice(0, 120))}</summary></details>` : ""}</div>`;
  // The trees are drawn when opened: a large input's is much of a page's first draw.
  const lazyTree = (id, text, label, blockId) => {
    const details = document.getElementById(id);
    if (!details) return;
    const draw = () => {
      if (!details.open || details.dataset.drawn) return;
      details.dataset.drawn = "1";
      details.insertAdjacentHTML("beforeend", jsonBlock(text, label, blockId));
    };
    details.addEventListener("toggle", draw);
    draw();
  };
  lazyTree("execution-input-details", execution.input, "input");
  lazyTree("execution-output-details", execution.output, "output", "execution-output");
}

export function renderStatePanel(state, summary, rerender) {
  const panel = document.getElementById("state-panel");
  const name = state.selected;
  if (!name) return;
  const analysis = state.analysis;
  const type = analysis.index.typeOf.get(name) || "";
  const entry = summary.get(name);
  const runs = analysis.runs.filter((run) => run.name === name && (!state.scope || run.scopeKey === state.scope || run.scopeKey.startsWith(state.scope + "/") || !run.scopeKey));
  const run = state.run && state.run.name === name ? state.run : runs[runs.length - 1];
  let html = `<h2 style="margin-top:0" id="panel-state-name">${esc(name)} <span class="muted" style="font-size:12px">${esc(type)}</span></h2>`;
  html += entry ? `<p>${statusBadge(entry.status, "panel-state-status")} <span class="muted">${entry.runs} run${entry.runs === 1 ? "" : "s"}</span></p>` : `<p>${statusBadge("not reached", "panel-state-status")}</p>`;
  if (type !== "Map") setParams({ iterations: "", ipage: "" });
  // A Map's Map Runs and iterations come first: they are what one opens a Map for.
  if (type === "Map") html += mapRunsHtml(state, name) + iterationsHtml(state, name);
  if (run) {
    html += `<div class="kv">${run.scopeKey ? `<span>Scope</span><span>${esc(run.scopeKey)}</span>` : ""}
      <span>Status</span><span id="panel-run-status">${run.retrying
        ? `retrying: attempt ${run.retrying.attempt} of ${run.retrying.of}, next in ${run.retrying.nextInSeconds} s`
        : `${esc(run.status)}${run.retries ? ` after ${run.retries} retr${run.retries === 1 ? "y" : "ies"}` : ""}`}</span>
      ${Number.isFinite(run.startedAt) ? `<span>Started</span><span id="panel-started">+${esc(duration(run.startedAt - analysis.startMillis))} <span class="muted">(${esc(date(run.startedAt))})</span></span>
      <span>Duration</span><span id="panel-duration">${esc(duration(endOf(run) - run.startedAt))}${ongoing(run) ? " so far" : ""}</span>` : ""}
      ${run.error !== undefined && run.error !== null ? `<span>Error</span><strong id="panel-error">${esc(run.error)}</strong>` : ""}
      ${run.cause !== undefined && run.cause !== null ? `<span>Cause</span>${causeHtml(run.cause, "panel-cause")}` : ""}
      <span>Input</span>${jsonBlock(run.input ?? "null", "input", "panel-input")}
      ${run.output !== undefined ? `<span>Output</span>${jsonBlock(run.output, "output", "panel-output")}` : ""}</div>`;
    if (run.attempts && run.attempts.length > 1) {
      html += `<h2>Attempts (${run.attempts.length})</h2><div class="table-wrap"><table id="panel-attempts"><thead><tr><th>#</th><th>Started</th><th>Took</th><th>Error</th><th>Back-off</th></tr></thead><tbody>${run.attempts.map((a, i) => {
        const next = run.attempts[i + 1];
        return `<tr><td>${i + 1}</td><td class="num">+${esc(duration(a.start - analysis.startMillis))}</td><td class="num">${esc(duration((a.end ?? Date.now()) - a.start))}</td><td>${esc(a.error || "")}</td><td class="num">${next && a.end !== undefined ? esc(duration(next.start - a.end)) : ""}</td></tr>`;
      }).join("")}</tbody></table></div>`;
    }
    html += stderrHtml(state, name, run);
    if (run.variables) {
      const names = Object.keys(run.variables);
      html += `<h2>Variables</h2><div id="panel-variables">${names.length === 0 ? `<p class="muted">None assigned.</p>` : `<div class="kv">${names.map((name) =>
        `<span class="var-name">${esc(name)}</span>${jsonBlock(run.variables[name], name)}`).join("")}</div>`}
        ${run.variablesTruncated ? `<p class="muted">AWS truncated these values in the history (assignedVariablesDetails.truncated).</p>` : ""}</div>`;
    } else if (run.endedAt !== undefined && run.status !== "failed") {
      html += `<h2>Variables</h2><p class="muted" id="panel-variables">This state assigned no variables.</p>`;
    }
  }
  if (runs.length > 1) {
    const shown = runs.slice(-50);
    html += `<h2>Runs (${runs.length}${runs.length > 50 ? ", last 50" : ""})</h2><div class="table-wrap"><table><tbody>${shown.map((r, i) =>
      `<tr class="clickable" data-run="${runs.length - shown.length + i}"><td>${esc(r.scopeKey || "top")}</td><td>${statusBadge(r.status)}</td></tr>`).join("")}</tbody></table></div>`;
  }
  if (type === "Parallel" && state.model) html += branchesHtml(state, name, summary);
  panel.innerHTML = html;
  panel.querySelectorAll("tr[data-run]").forEach((row) => {
    row.onclick = () => { state.run = runs[Number(row.dataset.run)]; rerender(); };
  });
  panel.querySelectorAll("[data-iteration-scope]").forEach((a) => {
    a.onclick = (event) => { event.preventDefault(); state.scope = a.dataset.iterationScope; state.run = null; rerender(); };
  });
  panel.querySelectorAll("[data-iteration-page]").forEach((button) => {
    button.onclick = () => { state.iterationPage = Number(button.dataset.iterationPage); rerender(); };
  });
  panel.querySelectorAll("[data-iteration-filter]").forEach((button) => {
    button.onclick = () => { state.iterationFilter = button.dataset.iterationFilter; state.iterationPage = 0; rerender(); };
  });
}

/// What a Lambda command wrote to stderr during this run's attempts, as the server kept
/// it: each attempt's task is the state's nth Scheduled event, n its `invocation`.
export function stderrHtml(state, name, run) {
  const tails = (state.stderr && state.stderr.tails || []).filter((tail) => tail.stateName === name);
  if (tails.length === 0 || !run.attempts) return "";
  const invocations = new Map();
  for (const event of state.events) {
    if (!/^(Task|Activity|LambdaFunction)Scheduled$/.test(event.type)) continue;
    const context = state.analysis.contexts.get(event.id);
    if (context && context.owner === name) invocations.set(event.id, invocations.size);
  }
  const shown = [];
  run.attempts.forEach((attempt, i) => {
    const invocation = invocations.get(attempt.eventId);
    const tail = tails.find((t) => t.invocation === invocation);
    if (tail) shown.push({ attempt: i + 1, tail });
  });
  if (shown.length === 0) return "";
  return `<h2>stderr</h2><div id="panel-stderr">${shown.map(({ attempt, tail }) =>
    `<p class="muted">${run.attempts.length > 1 ? `Attempt ${attempt}: ` : ""}${esc(tail.functionName)}${tail.truncated ? `, its last ${esc(state.stderr.tailBytesMax)} bytes` : ""}</p>
    <div class="json-block">${copyButton(tail.stderr, "stderr")}<pre class="stderr">${esc(tail.stderr)}</pre></div>`).join("")}
    <p class="muted">The server keeps what the last ${esc(state.stderr.keptMax)} Lambda command runs wrote to stderr, in memory.</p></div>`;
}

/// The Map Runs a distributed Map started (MapRunStarted, MapRunRedriven), each a link
/// to its page.
export function mapRunsHtml(state, mapName) {
  // Read once per analysis (a new one comes with new events), not on every render.
  const analysis = state.analysis;
  if (!analysis.mapRunArns) {
    analysis.mapRunArns = new Map();
    for (const event of state.events) {
      const details = event.mapRunStartedEventDetails || event.mapRunRedrivenEventDetails;
      const context = details && details.mapRunArn && analysis.contexts.get(event.id);
      if (!context || !context.owner) continue;
      const list = analysis.mapRunArns.get(context.owner) || [];
      if (!list.includes(details.mapRunArn)) list.push(details.mapRunArn);
      analysis.mapRunArns.set(context.owner, list);
    }
  }
  const arns = analysis.mapRunArns.get(mapName) || [];
  if (arns.length === 0) return "";
  return `<h2>Map Run${arns.length === 1 ? "" : "s"}</h2><ul class="map-runs" id="panel-map-runs">${arns.map((arn) =>
    `<li>${link(mapRunPath(arn), `Open the Map Run ${arn.split(":").pop().slice(0, 8)}`)} <span class="muted">its child executions, counts and settings</span></li>`).join("")}</ul>`;
}

export const ITERATION_STATUSES = ["succeeded", "failed", "aborted", "caught", "running", "retrying"];

/// A Map's iterations as a grid, filtered by status (the filter kept in the URL).
export function iterationsHtml(state, mapName) {
  const all = [];
  for (const [key, list] of state.analysis.iterations) {
    if (key.endsWith(`|${mapName}`)) for (const item of list) if (item) all.push(item);
  }
  if (all.length === 0) return "";
  const counts = {};
  for (const item of all) counts[item.status] = (counts[item.status] || 0) + 1;
  const filter = counts[state.iterationFilter] ? state.iterationFilter : "";
  setParams({ iterations: filter });
  const matching = filter ? all.filter((item) => item.status === filter) : all;
  const pages = Math.ceil(matching.length / PAGE_ITERATIONS);
  const page = Math.max(0, Math.min(state.iterationPage, pages - 1));
  setParams({ ipage: page > 0 ? String(page + 1) : "" });
  const shown = matching.slice(page * PAGE_ITERATIONS, (page + 1) * PAGE_ITERATIONS);
  const statuses = [...ITERATION_STATUSES, ...Object.keys(counts).filter((s) => !ITERATION_STATUSES.includes(s))].filter((s) => counts[s]);
  const chip = (value, text) => `<button type="button" class="chip${filter === value ? " active" : ""}" data-iteration-filter="${esc(value)}" aria-pressed="${filter === value}">${esc(text)}</button>`;
  return `<h2 id="iterations-title">Iterations (${all.length})</h2>
    <div class="toolbar chips" id="iteration-filter" role="group" aria-label="Show iterations by status">${chip("", `all ${all.length}`)}${statuses.map((s) => chip(s, `${s} ${counts[s]}`)).join("")}</div>
    <div class="iterations"><div class="iteration-grid" id="iterations">${shown.map((item) =>
      `<a href="#" class="${esc(item.status)}${item.scopeKey === state.scope ? " current" : ""}" data-iteration-scope="${esc(item.scopeKey)}" title="${esc(item.scopeKey)}: ${esc(item.status)}">${item.index}</a>`).join("")}</div></div>
    ${pages > 1 ? `<div class="pager"><button data-iteration-page="${page - 1}" ${page === 0 ? "disabled" : ""}>Previous</button><span>${page + 1} / ${pages}</span><button data-iteration-page="${page + 1}" ${page + 1 >= pages ? "disabled" : ""}>Next</button></div>` : ""}`;
}

export function branchesHtml(state, parallelName, summary) {
  const model = state.model;
  const owner = model.nodes.findIndex((node) => node.name === parallelName && node.type === "Parallel");
  if (owner < 0) return "";
  const rows = (model.nodes[owner].children || []).map((blockIdx, i) => {
    const names = model.blocks[blockIdx].nodes.map((n) => model.nodes[n]).filter((n) => n.type !== "Start" && n.type !== "End");
    return `<tr><td>Branch ${i + 1}</td><td>${names.map((n) => `${esc(n.name)} ${statusBadge((summary.get(n.name) || { status: "not reached" }).status)}`).join("<br>")}</td></tr>`;
  }).join("");
  return `<h2>Branches</h2><div class="table-wrap"><table><tbody>${rows}</tbody></table></div>`;
}

/// A 1-based page number from the URL as a 0-based index, or `fallback`.
export function pageParam(query, key, fallback) {
  const page = parseInt(query.get(key), 10);
  return Number.isFinite(page) && page >= 1 ? page - 1 : fallback;
}

export function renderEvents(state) {
  const container = document.getElementById("events");
  if (!container || !state.analysis) return;
  const contexts = state.analysis.contexts;
  const filter = state.eventFilter;
  const events = filter ? state.events.filter((event) => {
    const context = contexts.get(event.id);
    return event.type.toLowerCase().includes(filter) || (context && context.owner && context.owner.toLowerCase().includes(filter));
  }) : state.events;
  document.getElementById("event-count").textContent = `(${state.events.length} events)`;
  const pages = Math.max(1, Math.ceil(events.length / PAGE_EVENTS));
  // Follow the newest page while the execution runs, unless the user moved away.
  if (state.eventPage < 0 || state.eventPage >= pages) state.eventPage = state.eventPage < 0 ? 0 : pages - 1;
  const page = state.eventPage;
  setParams({ epage: page > 0 ? String(page + 1) : "" });
  const rows = events.slice(page * PAGE_EVENTS, (page + 1) * PAGE_EVENTS).map((event) => {
    const context = contexts.get(event.id) || {};
    const d = SteppeHistory.details(event);
    const text = Object.keys(d).length ? JSON.stringify(d) : "";
    return `<tr data-event-id="${event.id}"><td>${event.id}</td><td>${esc(event.type)}</td><td>${esc(context.owner || "")}</td><td>${esc(context.scope ? context.scope.key : "")}</td><td>${event.previousEventId ?? ""}</td><td>${esc(date(event.timestamp))}</td><td><details data-event-details="${event.id}"><summary>${esc(text.slice(0, 90))}${text.length > 90 ? "…" : ""}</summary></details></td></tr>`;
  }).join("");
  container.innerHTML = `<div class="table-wrap"><table id="events-table"><thead><tr><th>ID</th><th>Type</th><th>State</th><th>Iteration / branch</th><th>After</th><th>Timestamp</th><th>Details</th></tr></thead><tbody>${rows}</tbody></table></div>
    <div class="pager"><button data-page="0" ${page === 0 ? "disabled" : ""}>First</button><button data-page="${page - 1}" ${page === 0 ? "disabled" : ""}>Previous</button>
    <span>Page ${page + 1} of ${pages}</span><button data-page="${page + 1}" ${page + 1 >= pages ? "disabled" : ""}>Next</button><button data-page="${pages - 1}" ${page + 1 >= pages ? "disabled" : ""}>Last</button></div>`;
  container.querySelectorAll("button[data-page]").forEach((button) => {
    button.onclick = () => { state.eventPage = Number(button.dataset.page); renderEvents(state); };
  });
  // An event's details become a tree (JSON strings inside decoded) when opened.
  container.querySelectorAll("details[data-event-details]").forEach((element) => {
    element.addEventListener("toggle", () => {
      if (!element.open || element.dataset.drawn) return;
      const id = Number(element.dataset.eventDetails);
      const event = state.events[id - 1] && state.events[id - 1].id === id ? state.events[id - 1] : state.events.find((e) => e.id === id);
      element.dataset.drawn = "1";
      element.insertAdjacentHTML("beforeend", jsonBlock(SteppeHistory.details(event || {}), `event ${id}`));
    });
  });
}
