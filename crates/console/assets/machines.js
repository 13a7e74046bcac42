// steppe console: the list of state machines, one state machine's page, and the lists of executions.
import { LIST_REFRESH_MS, ListCursor, PAGE_EXECUTIONS, PAGE_MACHINES, ago, api, consoleApi, duration, esc, executionPath, link, machinePath, main, millisOf, pageToken, params, pretty, ranFor, setParams, statusBadge } from "./core.js";
import { drawDiagram } from "./diagram.js";
import { deleteMachineDialog, versionsAndAliases } from "./authoring.js";
import { startDialog } from "./dialogs.js";

// ---------- state machines ----------

/// Every state machine, with its running and failed executions counted by the server
/// (ListStateMachines when the server has no console list): searched, filtered by type and
/// sorted here, the choice kept in the URL.
export async function machinesPage(token) {
  document.title = "State machines · steppe";
  const machines = [];
  let nextToken;
  let counted = true;
  do {
    const query = `api/state-machines?maxResults=100${nextToken ? `&nextToken=${encodeURIComponent(nextToken)}` : ""}`;
    const answer = counted ? await consoleApi(query) : { ok: false };
    let page;
    if (answer.ok) page = answer.value;
    else {
      counted = false;
      page = await api("ListStateMachines", { maxResults: 1000, nextToken });
    }
    machines.push(...(page.stateMachines || []));
    nextToken = page.nextToken;
  } while (nextToken && token === pageToken);
  if (token !== pageToken) return;
  const create = `<a class="button primary" href="create" data-link id="create-machine">Create state machine</a>`;
  if (machines.length === 0) {
    main.innerHTML = `<h1>State machines</h1><p class="muted">No state machines yet.</p>${create}`;
    return;
  }
  const initial = params();
  main.innerHTML = `<h1>State machines <span class="muted count" id="machine-count"></span></h1>
    <div class="toolbar">${create}</div>
    <div class="toolbar" role="search">
      <label>Search <input type="search" id="machine-search" placeholder="Name" value="${esc(initial.get("q") || "")}"></label>
      <label>Type <select id="machine-type">${["", "STANDARD", "EXPRESS"].map((t) => `<option value="${t}"${initial.get("type") === t ? " selected" : ""}>${t || "All"}</option>`).join("")}</select></label>
      <label>Sort <select id="machine-sort">${[["name", "Name"], ["created", "Newest"], ["running", "Most running"], ["failed", "Most failed"]].map(([v, l]) =>
        `<option value="${v}"${(initial.get("sort") || "name") === v ? " selected" : ""}>${l}</option>`).join("")}</select></label>
    </div>
    <div id="machine-list"></div>`;
  const count = (m, key) => m[key] === undefined ? "—" : `${m[key]}${m[`${key}IsLowerBound`] ? "+" : ""}`;
  // Pages of PAGE_MACHINES, the page kept in the URL with the search, type and sort.
  let page = Math.max(1, parseInt(initial.get("page"), 10) || 1) - 1;
  const draw = () => {
    const q = document.getElementById("machine-search").value.trim().toLowerCase();
    const type = document.getElementById("machine-type").value;
    const sort = document.getElementById("machine-sort").value;
    const shown = machines.filter((m) => (!q || m.name.toLowerCase().includes(q)) && (!type || m.type === type));
    const by = {
      name: (a, b) => a.name.localeCompare(b.name),
      created: (a, b) => millisOf(b.creationDate) - millisOf(a.creationDate),
      running: (a, b) => (b.running || 0) - (a.running || 0) || a.name.localeCompare(b.name),
      failed: (a, b) => (b.failed || 0) - (a.failed || 0) || a.name.localeCompare(b.name),
    }[sort] || ((a, b) => a.name.localeCompare(b.name));
    shown.sort(by);
    document.getElementById("machine-count").textContent = `(${shown.length === machines.length ? machines.length : `${shown.length} of ${machines.length}`})`;
    const pages = Math.max(1, Math.ceil(shown.length / PAGE_MACHINES));
    page = Math.min(page, pages - 1);
    setParams({ q, type, sort: sort === "name" ? "" : sort, page: page > 0 ? String(page + 1) : "" });
    const rows = shown.slice(page * PAGE_MACHINES, (page + 1) * PAGE_MACHINES);
    document.getElementById("machine-list").innerHTML = shown.length === 0 ? `<p class="muted" id="no-machines">No state machine matches.</p>`
      : `<div class="table-wrap"><table id="machines" class="cards"><thead><tr><th>Name</th><th>Type</th><th class="num">Running</th><th class="num">Failed</th><th>Created</th></tr></thead><tbody>${rows.map((m) =>
        `<tr data-machine="${esc(m.name)}"><td>${link(machinePath(m.stateMachineArn), m.name)}</td><td data-label="Type">${esc(m.type)}</td>
        <td data-label="Running" class="num">${m.running ? `<span class="status status-RUNNING">${count(m, "running")}</span>` : count(m, "running")}</td>
        <td data-label="Failed" class="num">${m.failed ? `<span class="status status-FAILED">${count(m, "failed")}</span>` : count(m, "failed")}</td>
        <td data-label="Created">${ago(m.creationDate)}</td></tr>`).join("")}</tbody></table></div>
        ${pages > 1 ? `<div class="pager"><button id="machines-prev" ${page === 0 ? "disabled" : ""}>Previous</button><span>Page ${page + 1} of ${pages}</span><button id="machines-next" ${page + 1 >= pages ? "disabled" : ""}>Next</button></div>` : ""}
        ${counted ? "" : `<p class="muted">This server does not count executions per machine.</p>`}`;
    if (pages > 1) {
      document.getElementById("machines-prev").onclick = () => { page -= 1; draw(); };
      document.getElementById("machines-next").onclick = () => { page += 1; draw(); };
    }
  };
  const first = () => { page = 0; draw(); };
  document.getElementById("machine-search").oninput = first;
  document.getElementById("machine-type").onchange = first;
  document.getElementById("machine-sort").onchange = first;
  draw();
}

export async function machinePage(arn, token) {
  // The first page of executions is asked for with the description (it is what a machine
  // with many executions waits for); an Express machine's answer is not used.
  const initial = params();
  const early = executionsRequest(arn, initial.get("status") || "", (initial.get("q") || "").trim(), undefined);
  const prefetched = { path: early, answer: consoleApi(early) };
  prefetched.answer.catch(() => {});
  const machine = await api("DescribeStateMachine", { stateMachineArn: arn });
  if (token !== pageToken) return;
  document.title = `${machine.name} · steppe`;
  main.innerHTML = `
    <h1>${esc(machine.name)} <span class="muted" style="font-size:13px">${esc(machine.type || "")}</span></h1>
    <div class="toolbar"><button class="primary" id="start-execution">Start execution</button>
      <a class="button" href="${esc(`edit/${encodeURIComponent(arn)}`)}" data-link id="edit-machine">Edit</a>
      <button class="danger" id="delete-machine">Delete</button>
      <span class="muted">${esc(arn)}</span></div>
    <div class="row">
      <div class="grow"><div class="diagram" id="diagram"></div></div>
      <div class="side panel" id="definition-panel">
        <h2 style="margin-top:0">Definition</h2>
        <div id="diagnostics" class="muted">Validating…</div>
        <pre class="definition" id="definition">${esc(pretty(machine.definition))}</pre>
      </div>
    </div>
    <h2>Executions <span class="muted count" id="executions-total"></span></h2>
    ${executionsToolbar(machine.type === "EXPRESS")}
    <div id="executions"></div>
    <div id="versions-aliases"></div>`;
  document.getElementById("start-execution").onclick = () => startDialog(arn, "{}");
  document.getElementById("delete-machine").onclick = () => deleteMachineDialog(machine);
  await Promise.all([
    drawDiagram(document.getElementById("diagram"), machine.definition, token),
    validate(machine.definition, token),
    versionsAndAliases(machine, token).catch((error) => {
      if (token !== pageToken) return;
      document.getElementById("versions-aliases").innerHTML = `<div class="error-box">Versions and aliases could not be listed: ${esc(error.type || "Error")}: ${esc(error.message)}</div>`;
    }),
    machine.type === "EXPRESS" ? expressList(arn, token) : executionsList(arn, token, false, prefetched),
  ]);
}

export async function validate(definition, token) {
  const target = () => document.getElementById("diagnostics");
  try {
    const result = await api("ValidateStateMachineDefinition", { definition });
    if (token !== pageToken) return;
    const diagnostics = result.diagnostics || [];
    target().className = "";
    target().innerHTML = diagnostics.length === 0
      ? `<div class="diagnostic ok">Valid definition: no diagnostics</div>`
      : diagnostics.map((d) => `<div class="diagnostic"><strong>${esc(d.severity)} ${esc(d.code)}</strong> ${esc(d.message)} <span class="muted">${esc(d.location || "")}</span></div>`).join("");
  } catch (error) {
    if (token === pageToken) target().textContent = `Validation unavailable: ${error.message}`;
  }
}

export const STATUSES = ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];

/// Status filter, name search, Refresh and Auto-refresh, as the URL has them (an Express
/// machine's recent executions: status and Refresh only).
export function executionsToolbar(express) {
  const initial = params();
  return `<div class="toolbar" role="search">
      <label>Status <select id="status-filter">${STATUSES.map((s) =>
        `<option value="${s}"${(initial.get("status") || "") === s ? " selected" : ""}>${s || "All"}</option>`).join("")}</select></label>
      ${express ? "" : `<label>Name <input type="search" id="execution-search" placeholder="Part of the name" maxlength="80" value="${esc(initial.get("q") || "")}"></label>`}
      <button id="refresh-executions">Refresh</button>
      ${express ? "" : `<label class="check"><input type="checkbox" id="auto-refresh"${initial.get("auto") === "0" ? "" : " checked"}> Auto-refresh</label>`}
    </div>`;
}

/// The console list's path for one page of executions.
export function executionsRequest(arn, status, name, nextToken) {
  const query = new URLSearchParams({ maxResults: String(PAGE_EXECUTIONS) });
  if (arn) query.set("stateMachineArn", arn);
  if (status) query.set("statusFilter", status);
  if (name) query.set("name", name);
  if (nextToken) query.set("nextToken", nextToken);
  return `api/executions?${query}`;
}

/// Executions, newest first, from the server's console list (a name search and a total
/// that ListExecutions lacks); across every state machine when `arn` is null. Refreshes
/// itself every LIST_REFRESH_MS while the box is ticked and the first page is shown.
/// `prefetched` ({path, answer}) is a request already on its way, used if it is the
/// first one this list makes.
export async function executionsList(arn, token, showMachine, prefetched) {
  const container = document.getElementById("executions");
  const select = document.getElementById("status-filter");
  const search = document.getElementById("execution-search");
  const auto = document.getElementById("auto-refresh");
  // The page and the tokens of the pages seen are kept across reloads and Back.
  const filterOf = () => JSON.stringify([arn, select.value, search.value.trim()]);
  const cursor = new ListCursor("executions", filterOf());
  let timer = null;
  let loads = 0; // only the newest load draws: a refresh may still be on its way after Next
  async function load() {
    clearTimeout(timer);
    if (token !== pageToken) return;
    const loadId = ++loads;
    const stale = () => token !== pageToken || loadId !== loads;
    const name = search.value.trim();
    setParams({ status: select.value, q: name, auto: auto.checked ? "" : "0" });
    const listToken = await cursor.token(async (before) => {
      const { ok, value } = await consoleApi(executionsRequest(arn, select.value, name, before));
      return ok ? value.nextToken : undefined;
    });
    if (stale()) return;
    const page = cursor.page;
    const path = executionsRequest(arn, select.value, name, listToken);
    const early = prefetched && prefetched.path === path ? prefetched.answer : null;
    prefetched = null;
    const { ok, status, value } = await (early || consoleApi(path));
    if (stale()) return;
    if (!ok) {
      container.innerHTML = `<div class="error-box">The executions could not be listed: ${esc(value.message || `HTTP ${status}`)}</div>`;
      return;
    }
    cursor.shown(value.nextToken);
    document.getElementById("executions-total").textContent = `(${value.total}${value.totalIsLowerBound ? "+" : ""}${select.value || name ? " matching" : ""})`;
    const expressTag = (e) => String(e.executionArn).includes(":express:") ? ` <span class="tag" title="An Express execution this server keeps in memory">Express</span>` : "";
    const rows = (value.executions || []).map((e) => `<tr><td>${link(executionPath(e.executionArn), e.name)}${expressTag(e)}</td>${showMachine ? `<td data-label="State machine">${link(machinePath(e.stateMachineArn), e.stateMachineName || e.stateMachineArn.split(":").pop())}</td>` : ""}<td>${statusBadge(e.status)}</td><td data-label="Started">${ago(e.startDate)}</td><td data-label="Duration" class="duration">${esc(ranFor(e))}${e.stopDate ? "" : " so far"}</td></tr>`).join("");
    container.innerHTML = (rows ? `<div class="table-wrap"><table id="executions-table" class="cards"><thead><tr><th>Name</th>${showMachine ? "<th>State machine</th>" : ""}<th>Status</th><th>Started</th><th>Duration</th></tr></thead><tbody>${rows}</tbody></table></div>`
      : `<p class="muted" id="no-executions">No executions${select.value ? ` with status ${esc(select.value)}` : ""}${name ? ` named like “${esc(name)}”` : ""}.</p>`)
      + (value.searchIsPartial ? `<p class="muted">The search read the newest 10,000 executions of each state machine: older ones may match too.</p>` : "")
      + `<div class="pager"><button id="executions-prev" ${page === 0 ? "disabled" : ""}>Previous</button><span>Page ${page + 1}</span><button id="executions-next" ${value.nextToken ? "" : "disabled"}>Next</button></div>`;
    document.getElementById("executions-prev").onclick = () => { cursor.page -= 1; load(); };
    document.getElementById("executions-next").onclick = () => { cursor.page += 1; load(); };
    if (auto.checked && page === 0) timer = setTimeout(load, LIST_REFRESH_MS);
  }
  const restart = () => { cursor.reset(filterOf()); load(); };
  select.onchange = restart;
  let typing = null;
  search.oninput = () => { clearTimeout(typing); typing = setTimeout(restart, 250); };
  auto.onchange = () => load();
  document.getElementById("refresh-executions").onclick = () => load();
  await load();
}

/// Every Standard execution of every state machine, newest first.
export async function allExecutionsPage(token) {
  document.title = "Executions · steppe";
  main.innerHTML = `<h1>Executions <span class="muted count" id="executions-total"></span></h1>
    <p class="muted">The executions of every state machine, newest first: Standard ones, and the Express ones that ended recently on this server (kept in its memory).</p>
    ${executionsToolbar(false)}
    <div id="executions"></div>`;
  await executionsList(null, token, true);
}

/// An Express machine's executions: AWS keeps none a client can list, so this is the
/// server's own bounded record of the ones that ended recently on this node.
export async function expressList(arn, token) {
  const container = document.getElementById("executions");
  const select = document.getElementById("status-filter");
  select.querySelector('option[value="PENDING_REDRIVE"]')?.remove();
  async function load() {
    const { ok, status, value } = await consoleApi(`api/express-executions?stateMachineArn=${encodeURIComponent(arn)}`);
    if (token !== pageToken) return;
    if (!ok) {
      container.innerHTML = `<div class="error-box">The server does not list Express executions (${esc(status)}).</div>`;
      return;
    }
    const list = (value.executions || []).filter((e) => !select.value || e.status === select.value);
    setParams({ status: select.value });
    document.getElementById("executions-total").textContent = `(${list.length} kept)`;
    const rows = list.map((e) => `<tr><td>${link(executionPath(e.executionArn), e.name)}</td><td>${statusBadge(e.status)}</td><td data-label="Started">${ago(e.startDate)}</td><td data-label="Duration" class="duration">${esc(ranFor(e))}</td></tr>`).join("");
    container.innerHTML = `<p class="muted" id="express-note">Express executions keep no history in AWS; this server keeps the last ${esc(value.keptMax ?? "")} that ended on it, in memory (in a cluster, each node shows those it ran), and rebuilds their events when you open one.</p>`
      + (rows ? `<div class="table-wrap"><table id="executions-table" class="cards"><thead><tr><th>Name</th><th>Status</th><th>Started</th><th>Duration</th></tr></thead><tbody>${rows}</tbody></table></div>` : `<p class="muted">No recent Express executions${select.value ? ` with status ${esc(select.value)}` : ""}.</p>`);
  }
  select.onchange = () => load();
  document.getElementById("refresh-executions").onclick = () => load();
  await load();
}
