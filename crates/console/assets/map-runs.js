// steppe console: a distributed Map's Map Run: counts, settings and its child executions opened in place.
import { ListCursor, POLL_MS, ago, api, causeHtml, date, duration, esc, executionPath, jsonBlock, link, main, pageToken, params, ranFor, setLive, setParams, setPollTimer, statusBadge, toast } from "./core.js";
import { endOf, fetchHistory, renderSummary } from "./execution.js";
import { dialog } from "./dialogs.js";

// ---------- Map Runs (distributed Maps) ----------

export const MAP_RUN_COUNTS = ["pending", "running", "succeeded", "failed", "timedOut", "aborted", "total"];
export const CHILD_STATUSES = ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
export const PAGE_CHILDREN = 100; // child executions a page (ListExecutions' maxResults)

/// A distributed Map's Map Run: its status, settings and counts (DescribeMapRun), its
/// child executions filtered by status (ListExecutions with mapRunArn), each opened in
/// place (DescribeExecution); polls while it runs.
export async function mapRunPage(arn, token) {
  const initial = params();
  // The page and the tokens of the pages seen are kept across reloads and Back.
  const initialStatus = CHILD_STATUSES.includes(initial.get("status")) ? initial.get("status") : "";
  const cursor = new ListCursor("children", initialStatus);
  const childrenRequest = (status) => ({ mapRunArn: arn, maxResults: PAGE_CHILDREN, ...(status ? { statusFilter: status } : {}) });
  // The children's first page is asked for with the description: each reads the parent's
  // inputs again on the server, which for a Map Run of 10,000 children takes a while.
  let prefetched = null;
  if (cursor.tokens.length > cursor.page) {
    const request = { ...childrenRequest(initialStatus), ...(cursor.tokens[cursor.page] ? { nextToken: cursor.tokens[cursor.page] } : {}) };
    prefetched = { request: JSON.stringify(request), answer: api("ListExecutions", request) };
    prefetched.answer.catch(() => {});
  }
  let described = await api("DescribeMapRun", { mapRunArn: arn });
  if (token !== pageToken) return;
  const label = arn.split(":").slice(-2, -1)[0] || "Map Run"; // "machine/Label"
  document.title = `Map Run ${label} · steppe`;
  main.innerHTML = `<h1>Map Run <span class="muted">${esc(label)}</span> <span id="map-run-status"></span></h1>
    <div class="toolbar"><span id="map-run-execution">Execution: ${link(executionPath(described.executionArn), described.executionArn.split(":").pop())}</span>
      <button id="map-run-update" hidden>Change settings</button></div>
    <div class="row"><div class="grow panel" id="map-run-summary"></div><div class="side panel" id="map-run-counts"></div></div>
    <h2>Child executions <span class="muted count" id="children-total"></span></h2>
    <div class="toolbar" role="search"><label>Status <select id="child-status">${CHILD_STATUSES.map((s) =>
      `<option value="${s}"${(initial.get("status") || "") === s ? " selected" : ""}>${s || "All"}</option>`).join("")}</select></label>
      <button id="refresh-children">Refresh</button></div>
    <div id="children"></div>`;
  const select = document.getElementById("child-status");
  const opened = new Set();
  function renderSummary() {
    document.getElementById("map-run-status").innerHTML = statusBadge(described.status, "map-run-status-badge");
    document.getElementById("map-run-update").hidden = described.status !== "RUNNING";
    document.getElementById("map-run-summary").innerHTML = `<div class="kv" id="map-run-settings">
      <span>Started</span><span>${esc(date(described.startDate))}</span>
      <span>Stopped</span><span>${esc(date(described.stopDate)) || "—"}</span>
      <span>Duration</span><span id="map-run-duration">${esc(ranFor(described))}${described.stopDate ? "" : " so far"}</span>
      <span>Max concurrency</span><span id="map-run-concurrency">${described.maxConcurrency ? esc(described.maxConcurrency) : "no limit (0)"}</span>
      <span>Tolerated failures</span><span id="map-run-tolerated">${esc(described.toleratedFailurePercentage)} % or ${esc(described.toleratedFailureCount)} items</span>
      ${described.redriveCount ? `<span>Redrives</span><span>${esc(described.redriveCount)} (last ${esc(date(described.redriveDate))})</span>` : ""}
      <span>ARN</span><code>${esc(arn)}</code></div>`;
    const items = described.itemCounts || {}, runs = described.executionCounts || {};
    const total = runs.total || 0;
    const bar = MAP_RUN_COUNTS.filter((k) => k !== "total" && runs[k]).map((k) =>
      `<span class="bar-${esc(k)}" style="width:${((runs[k] / Math.max(total, 1)) * 100).toFixed(2)}%" title="${esc(`${runs[k]} ${k}`)}"></span>`).join("");
    document.getElementById("map-run-counts").innerHTML = `<div class="progress" aria-hidden="true">${bar}</div>
      <div class="table-wrap"><table id="map-run-count-table"><thead><tr><th></th><th class="num">Items</th><th class="num">Executions</th></tr></thead><tbody>${MAP_RUN_COUNTS.map((k) =>
        `<tr data-count="${k}"><td>${esc(k === "timedOut" ? "timed out" : k)}</td><td class="num">${esc(items[k] ?? 0)}</td><td class="num">${esc(runs[k] ?? 0)}</td></tr>`).join("")}
        ${items.resultsWritten ? `<tr><td>results written</td><td class="num">${esc(items.resultsWritten)}</td><td></td></tr>` : ""}</tbody></table></div>`;
  }
  let loads = 0; // only the newest load draws: a poll may still be on its way after Next
  async function loadChildren() {
    const loadId = ++loads;
    const stale = () => token !== pageToken || loadId !== loads;
    setParams({ status: select.value });
    const request = childrenRequest(select.value);
    const listToken = await cursor.token(async (before) => (await api("ListExecutions", { ...request, nextToken: before })).nextToken);
    if (stale()) return;
    const page = cursor.page;
    if (listToken) request.nextToken = listToken;
    const early = prefetched && prefetched.request === JSON.stringify(request) ? prefetched.answer : null;
    prefetched = null;
    const value = await (early || api("ListExecutions", request));
    if (stale()) return;
    cursor.shown(value.nextToken);
    const list = value.executions || [];
    const counts = described.executionCounts || {};
    const key = { RUNNING: "running", SUCCEEDED: "succeeded", FAILED: "failed", TIMED_OUT: "timedOut", ABORTED: "aborted" }[select.value];
    document.getElementById("children-total").textContent = `(${key ? `${counts[key] ?? 0} ${select.value}` : `${counts.total ?? 0} in all`})`;
    const container = document.getElementById("children");
    container.innerHTML = (list.length === 0 ? `<p class="muted" id="no-children">No child executions${select.value ? ` with status ${esc(select.value)}` : ""}.</p>`
      : `<div class="table-wrap"><table id="children-table" class="cards"><thead><tr><th>Name</th><th>Status</th><th class="num">Items</th><th>Started</th><th>Duration</th></tr></thead><tbody>${list.map((child, i) =>
        `<tr class="clickable" data-child="${i}" tabindex="0"><td><button type="button" class="linkish" aria-expanded="${opened.has(child.executionArn)}">${esc(child.name)}</button></td><td>${statusBadge(child.status)}</td><td data-label="Items" class="num">${esc(child.itemCount ?? "")}</td>
        <td data-label="Started">${ago(child.startDate)}</td><td data-label="Duration" class="duration">${esc(ranFor(child))}${child.stopDate ? "" : " so far"}</td></tr>
        <tr class="child-details" data-child-details="${i}" hidden><td colspan="5"></td></tr>`).join("")}</tbody></table></div>`)
      + `<div class="pager"><button id="children-prev" ${page === 0 ? "disabled" : ""}>Previous</button><span>Page ${page + 1}</span><button id="children-next" ${value.nextToken ? "" : "disabled"}>Next</button></div>`;
    document.getElementById("children-prev").onclick = () => { cursor.page -= 1; loadChildren(); };
    document.getElementById("children-next").onclick = () => { cursor.page += 1; loadChildren(); };
    const open = async (i) => {
      const child = list[i];
      const row = container.querySelector(`[data-child-details="${i}"]`);
      const wasOpen = !row.hidden;
      row.hidden = wasOpen;
      container.querySelector(`[data-child="${i}"] button`).setAttribute("aria-expanded", String(!wasOpen));
      if (wasOpen) { opened.delete(child.executionArn); return; }
      opened.add(child.executionArn);
      const cell = row.firstElementChild;
      cell.innerHTML = `<p class="muted">Loading…</p>`;
      try {
        // A child's own history (issue 16) tells what each of its states did.
        const [d, events] = await Promise.all([
          api("DescribeExecution", { executionArn: child.executionArn }),
          fetchHistory(child.executionArn, 0, token).catch(() => null),
        ]);
        if (token !== pageToken) return;
        cell.innerHTML = `<div class="kv child-execution">
          ${d.error !== undefined ? `<span>Error</span><strong class="child-error">${esc(d.error)}</strong>` : ""}
          ${d.cause !== undefined ? `<span>Cause</span>${causeHtml(d.cause)}` : ""}
          ${d.input !== undefined ? `<span>Input</span>${jsonBlock(d.input, "input")}` : ""}
          ${d.output !== undefined ? `<span>Output</span>${jsonBlock(d.output, "output")}` : ""}
          ${events ? `<span>States</span>${childRunsHtml(events)}` : ""}
          <span>ARN</span><span><code>${esc(d.executionArn)}</code> ${link(executionPath(d.executionArn), "its page")}</span></div>`;
      } catch (error) {
        cell.innerHTML = `<div class="error-box">${esc(error.type || "Error")}: ${esc(error.message)}</div>`;
      }
    };
    container.querySelectorAll("tr[data-child]").forEach((row) => {
      row.onclick = () => open(Number(row.dataset.child));
      row.onkeydown = (event) => { if (event.key === "Enter" && event.target === row) { event.preventDefault(); open(Number(row.dataset.child)); } };
    });
    for (const [i, child] of list.entries()) if (opened.has(child.executionArn)) { opened.delete(child.executionArn); open(i); }
  }
  select.onchange = () => { cursor.reset(select.value); loadChildren(); };
  document.getElementById("refresh-children").onclick = () => loadChildren();
  document.getElementById("map-run-update").onclick = () => updateMapRunDialog(described, async () => {
    described = await api("DescribeMapRun", { mapRunArn: arn });
    renderSummary();
  });
  renderSummary();
  await loadChildren();
  async function poll() {
    if (token !== pageToken || described.status !== "RUNNING") return;
    try {
      described = await api("DescribeMapRun", { mapRunArn: arn });
      if (token !== pageToken) return;
      renderSummary();
      if (cursor.page === 0) await loadChildren();
    } catch (error) {
      toast(`${error.type || "Error"}: ${error.message}`, true);
    }
    setLive(described.status === "RUNNING");
    if (described.status === "RUNNING" && token === pageToken) setPollTimer(setTimeout(poll, POLL_MS));
  }
  setLive(described.status === "RUNNING");
  if (described.status === "RUNNING") setPollTimer(setTimeout(poll, POLL_MS));
}

export const CHILD_RUNS_SHOWN = 50;

/// What each state of a Map Run child did, read from its own history: name, status, how
/// long it took and its error (the last CHILD_RUNS_SHOWN runs).
export function childRunsHtml(events) {
  const analysis = SteppeHistory.analyse(events, null);
  const runs = analysis.runs.slice(-CHILD_RUNS_SHOWN);
  if (runs.length === 0) return `<span class="muted">No state has run.</span>`;
  return `<div class="table-wrap"><table class="child-runs"><thead><tr><th>State</th><th>Status</th><th>Took</th><th>Error</th></tr></thead><tbody>${runs.map((run) =>
    `<tr data-child-run="${esc(run.name)}"><td>${esc(run.name)}${run.scopeKey ? ` <span class="muted">${esc(run.scopeKey)}</span>` : ""}</td><td>${statusBadge(run.status)}</td>
    <td class="num">${Number.isFinite(run.startedAt) ? esc(duration(endOf(run) - run.startedAt)) : ""}</td><td>${esc(run.error ?? "")}</td></tr>`).join("")}</tbody></table></div>
    ${analysis.runs.length > runs.length ? `<p class="muted">The last ${runs.length} of ${analysis.runs.length} runs.</p>` : ""}`;
}

/// UpdateMapRun: a running Map Run's concurrency and tolerated failures.
export function updateMapRunDialog(described, after) {
  dialog(`<h2 style="margin-top:0">Change this Map Run's settings</h2>
    <label for="map-run-max">Max concurrency (0: no limit)</label><input type="number" min="0" id="map-run-max" name="max" value="${esc(described.maxConcurrency)}">
    <label for="map-run-percentage">Tolerated failure percentage</label><input type="number" min="0" max="100" step="any" id="map-run-percentage" name="percentage" value="${esc(described.toleratedFailurePercentage)}">
    <label for="map-run-count">Tolerated failure count</label><input type="number" min="0" id="map-run-count" name="count" value="${esc(described.toleratedFailureCount)}">`, async (form) => {
    await api("UpdateMapRun", {
      mapRunArn: described.mapRunArn,
      maxConcurrency: Number(form.elements.max.value),
      toleratedFailurePercentage: Number(form.elements.percentage.value),
      toleratedFailureCount: Number(form.elements.count.value),
    });
    toast("Map Run updated");
    await after();
  }, "Update");
}
