// steppe console: a single-page app over the same-origin AWS JSON 1.0 API.
// Pages: state machines, one state machine (diagram, definition, diagnostics, executions),
// one execution (coloured diagram, state details, Map iterations, history), a distributed
// Map's Map Run (counts, settings, child executions), pending tasks, and the editor that
// creates and changes state machines (with their versions and aliases on the machine's page).
// No framework and no build step; history.js holds the pure history analysis.
(function () {
  "use strict";

  const BASE = new URL(document.baseURI).pathname; // "/console/"
  const API = window.STEPPE_API || "/";
  const main = document.getElementById("main");
  const PAGE_EVENTS = 100;
  const PAGE_ITERATIONS = 200;
  const PAGE_ROWS = 100; // rows of the states table and the timeline in the DOM at once
  const PAGE_EXECUTIONS = 25;
  const POLL_MS = 1000;
  const LIST_REFRESH_MS = 5000; // auto-refresh of execution lists
  const TREE_NODES_MAX = 1500; // nodes of one JSON tree drawn; the copy button has the rest
  const COPY_TEXTS_MAX = 2000; // texts kept for Copy buttons (a polling page draws new ones)
  let pageToken = 0; // bumped on navigation; stale async work checks it and stops
  let pollTimer = null;

  // ---------- API ----------

  class ApiError extends Error {
    constructor(type, message, status) {
      super(message || type || `HTTP ${status}`);
      this.type = type;
      this.status = status;
    }
  }

  // With --credentials, requests are signed with the key the user signed in with (sigv4.js).
  async function signed(method, url, headers, body) {
    const credentials = window.SteppeSigV4 && SteppeSigV4.credentials();
    if (!credentials) return headers;
    return { ...headers, ...(await SteppeSigV4.sign(credentials, method, url, headers, body)) };
  }

  const AUTH_ERRORS = ["MissingAuthenticationTokenException", "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException"];

  // Asks for an access key (once per tab) when the server wants signed requests.
  function signIn(type) {
    const dialog = document.getElementById("dialog");
    const form = document.getElementById("dialog-form");
    if (dialog.open) return;
    const secure = window.SteppeSigV4 && SteppeSigV4.available();
    form.innerHTML = `<h2>Sign in</h2>
      <p class="muted">This server wants requests signed with an access key from its --credentials file (${esc(type)}).</p>
      ${secure ? `<label>Access key id <input name="key" autocomplete="username" required></label>
      <label>Secret access key <input name="secret" type="password" autocomplete="current-password" required></label>
      <label>Region <input name="region" value="us-east-1" required></label>
      <menu><button value="cancel" formnovalidate>Cancel</button><button value="ok">Sign in</button></menu>`
      : `<p class="diagnostic">This browser cannot sign requests on a plain-http page other than localhost: serve steppe over TLS (--tls-cert, --tls-key) or open it on localhost.</p><menu><button value="cancel">Close</button></menu>`}`;
    dialog.onclose = () => {
      if (dialog.returnValue !== "ok") return;
      const data = new FormData(form);
      SteppeSigV4.save({ accessKeyId: data.get("key"), secretAccessKey: data.get("secret"), region: data.get("region") });
      route();
    };
    dialog.showModal();
  }

  async function api(operation, body) {
    const payload = JSON.stringify(body || {});
    const headers = await signed("POST", API, {
      "X-Amz-Target": `AWSStepFunctions.${operation}`,
      "Content-Type": "application/x-amz-json-1.0",
    }, payload);
    const response = await fetch(API, { method: "POST", headers, body: payload });
    const text = await response.text();
    let value = {};
    try { value = text ? JSON.parse(text) : {}; } catch (_) { value = { message: text }; }
    if (!response.ok) {
      const type = String(value.__type || "").split("#").pop();
      if (AUTH_ERRORS.includes(type)) signIn(type);
      throw new ApiError(type, value.message || value.Message, response.status);
    }
    return value;
  }

  async function consoleApi(path, options) {
    // The server refuses console POSTs without this header: other sites' pages cannot add it.
    const method = (options && options.method) || "GET";
    const headers = await signed(method, BASE + path,
      { ...(options && options.headers), "X-Steppe-Console": "1" }, (options && options.body) || "");
    const response = await fetch(BASE + path, { ...options, headers });
    const value = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, value };
  }

  // ---------- helpers ----------

  const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const link = (path, text) => `<a href="${esc(path)}" data-link>${esc(text)}</a>`;
  const machinePath = (arn) => `state-machines/${encodeURIComponent(arn)}`;
  const executionPath = (arn) => `executions/${encodeURIComponent(arn)}`;
  const mapRunPath = (arn) => `map-runs/${encodeURIComponent(arn)}`;
  const statusBadge = (status, id) => `<span class="status status-${esc(status)}"${id ? ` id="${id}"` : ""}>${esc(status)}</span>`;

  // One formatter for every date: toLocaleString makes a new one per call, which a page of
  // 100 events felt.
  const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric", hour12: false });
  function date(value) {
    if (value === undefined || value === null || value === "") return "";
    let millis = typeof value === "number" ? value : Date.parse(value);
    if (typeof value === "number" && value < 1e11) millis = value * 1000; // epoch seconds
    const d = new Date(millis);
    return isNaN(d) ? String(value) : DATE_FORMAT.format(d) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }

  /// "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min", "3 d 04 h".
  function duration(millis) {
    if (!Number.isFinite(millis) || millis < 0) return "";
    if (millis < 1000) return `${Math.round(millis)} ms`;
    const seconds = millis / 1000;
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
    const pad = (n) => String(Math.floor(n)).padStart(2, "0");
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${pad(seconds % 60)} s`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${pad((seconds % 3600) / 60)} min`;
    return `${Math.floor(seconds / 86400)} d ${pad((seconds % 86400) / 3600)} h`;
  }

  function millisOf(value) {
    if (value === undefined || value === null || value === "") return NaN;
    if (typeof value === "number") return value < 1e11 ? value * 1000 : value;
    return Date.parse(value);
  }

  /// "5 s ago", "3 min ago", ... with the exact time as its tooltip.
  function ago(value) {
    const millis = millisOf(value);
    if (!Number.isFinite(millis)) return "";
    const seconds = Math.max(0, (Date.now() - millis) / 1000);
    const text = seconds < 60 ? `${Math.floor(seconds)} s ago` : seconds < 3600 ? `${Math.floor(seconds / 60)} min ago`
      : seconds < 86400 ? `${Math.floor(seconds / 3600)} h ago` : `${Math.floor(seconds / 86400)} d ago`;
    return `<time datetime="${esc(new Date(millis).toISOString())}" title="${esc(date(value))}">${text}</time>`;
  }

  /// How long an execution (or anything with startDate/stopDate) ran, so far if it runs.
  const ranFor = (item) => duration((item.stopDate ? millisOf(item.stopDate) : Date.now()) - millisOf(item.startDate));

  // ---------- view state in the URL ----------

  const params = () => new URLSearchParams(location.search);
  /// Merges `changes` into the query (empty values removed) without a new history entry.
  function setParams(changes) {
    const query = params();
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined || value === null || value === "") query.delete(key); else query.set(key, value);
    }
    const text = query.toString();
    history.replaceState(null, "", location.pathname + (text ? `?${text}` : ""));
  }

  // ---------- JSON trees ----------

  // The text each copy button copies, by id; emptied on navigation.
  const copyTexts = new Map();
  let copyIds = 0;
  function copyButton(text, label) {
    if (copyTexts.size >= COPY_TEXTS_MAX) copyTexts.delete(copyTexts.keys().next().value); // long gone from the page
    const id = `copy-${++copyIds}`;
    copyTexts.set(id, String(text ?? ""));
    return `<button type="button" class="copy" data-copy="${id}" title="Copy ${esc(label || "")}" aria-label="Copy ${esc(label || "")}">Copy</button>`;
  }
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const text = copyTexts.get(button.dataset.copy) ?? "";
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) { // not a secure context: the old way
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 1200);
  });

  /// JSON text that holds an object or array, decoded; else undefined.
  function decodedJson(text) {
    if (typeof text !== "string") return undefined;
    const trimmed = text.trim();
    if (!(trimmed.startsWith("{") || trimmed.startsWith("["))) return undefined;
    try { return JSON.parse(trimmed); } catch (_) { return undefined; }
  }

  /// A value as a collapsible tree: objects and arrays fold (open two levels deep), and a
  /// string holding JSON is decoded into a tree of its own, marked "JSON text".
  function treeHtml(value) {
    const budget = { left: TREE_NODES_MAX };
    const key = (k) => k === null ? "" : `<span class="jt-key">${esc(k)}</span>: `;
    const node = (k, v, depth) => {
      if (budget.left <= 0) return "";
      budget.left -= 1;
      if (typeof v === "string") {
        const inner = decodedJson(v);
        if (inner !== undefined && typeof inner === "object" && inner !== null) return container(k, inner, depth, true);
        return `<div class="jt-leaf">${key(k)}<span class="jt-string">${esc(JSON.stringify(v))}</span></div>`;
      }
      if (v !== null && typeof v === "object") return container(k, v, depth, false);
      return `<div class="jt-leaf">${key(k)}<span class="jt-${v === null ? "null" : typeof v}">${esc(String(v))}</span></div>`;
    };
    const container = (k, v, depth, decoded) => {
      const entries = Array.isArray(v) ? v.map((item, i) => [String(i), item]) : Object.entries(v);
      const [open, close] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
      let children = "";
      let shown = 0;
      for (const [childKey, child] of entries) {
        if (budget.left <= 0) break;
        children += node(childKey, child, depth + 1);
        shown += 1;
      }
      if (shown < entries.length) children += `<div class="jt-more muted">… ${entries.length - shown} more (copy to see everything)</div>`;
      const tag = decoded ? ` <span class="jt-tag">JSON text</span>` : "";
      return `<details class="jt"${depth < 2 ? " open" : ""}><summary>${key(k)}${open}<span class="jt-count">${entries.length} ${Array.isArray(v) ? "item" : "key"}${entries.length === 1 ? "" : "s"}</span>${close}${tag}</summary><div class="jt-children">${children}</div></details>`;
    };
    return `<div class="json-tree">${node(null, value, 0)}</div>`;
  }

  /// JSON text as a tree with a Copy button (pretty text when it is not JSON).
  function jsonBlock(text, label, id) {
    if (text === undefined || text === null) return "";
    let value;
    try { value = typeof text === "string" ? JSON.parse(text) : text; } catch (_) {
      return `<div class="json-block"${id ? ` id="${id}"` : ""}>${copyButton(text, label)}<pre>${esc(text)}</pre></div>`;
    }
    const raw = typeof text === "string" ? text : JSON.stringify(text);
    return `<div class="json-block"${id ? ` id="${id}"` : ""}>${copyButton(JSON.stringify(value, null, 2) ?? raw, label)}${treeHtml(value)}</div>`;
  }

  /// A cause: JSON pretty-printed as a tree, other text as it is.
  function causeHtml(cause, id) {
    const decoded = decodedJson(cause);
    if (decoded === undefined) return `<pre${id ? ` id="${id}"` : ""}>${esc(cause)}</pre>`;
    return jsonBlock(cause, "cause", id);
  }

  function pretty(text) {
    if (text === undefined || text === null) return "";
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return String(text); }
  }

  function toast(message, isError) {
    const element = document.getElementById("toast");
    element.textContent = message;
    element.className = "toast" + (isError ? " error" : "");
    element.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { element.hidden = true; }, isError ? 8000 : 3500);
  }

  function showError(error) {
    main.innerHTML = `<div class="error-box"><strong>${esc(error.type || "Error")}</strong>: ${esc(error.message)}</div>`;
  }

  function setLive(on) { document.getElementById("live").hidden = !on; }

  // ---------- routing ----------

  function navigate(path, replace) {
    const url = BASE + path;
    if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
    route();
  }

  document.addEventListener("click", (event) => {
    const anchor = event.target.closest("a[data-link]");
    if (!anchor || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(anchor.getAttribute("href"));
  });
  window.addEventListener("popstate", route);

  function route() {
    pageToken += 1;
    clearTimeout(pollTimer);
    copyTexts.clear();
    setLive(false);
    const path = decodeURIComponent(location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "");
    const [section, ...rest] = path.split("/");
    const arn = rest.join("/");
    const nav = section === "tasks" ? "tasks" : section === "executions" && !arn ? "executions" : "machines";
    document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
    const token = pageToken;
    let page;
    if (section === "state-machines" && arn) page = machinePage(arn, token);
    else if (section === "executions" && arn) page = executionPage(arn, token);
    else if (section === "executions") page = allExecutionsPage(token);
    else if (section === "map-runs" && arn) page = mapRunPage(arn, token);
    else if (section === "create") page = editorPage(null, token);
    else if (section === "edit" && arn) page = editorPage(arn, token);
    else if (section === "tasks") page = tasksPage(token);
    else page = machinesPage(token);
    page.catch((error) => { if (token === pageToken) showError(error); });
  }

  // ---------- state machines ----------

  /// Every state machine, with its running and failed executions counted by the server
  /// (ListStateMachines when the server has no console list): searched, filtered by type and
  /// sorted here, the choice kept in the URL.
  async function machinesPage(token) {
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
    const draw = () => {
      const q = document.getElementById("machine-search").value.trim().toLowerCase();
      const type = document.getElementById("machine-type").value;
      const sort = document.getElementById("machine-sort").value;
      setParams({ q, type, sort: sort === "name" ? "" : sort });
      const shown = machines.filter((m) => (!q || m.name.toLowerCase().includes(q)) && (!type || m.type === type));
      const by = {
        name: (a, b) => a.name.localeCompare(b.name),
        created: (a, b) => millisOf(b.creationDate) - millisOf(a.creationDate),
        running: (a, b) => (b.running || 0) - (a.running || 0) || a.name.localeCompare(b.name),
        failed: (a, b) => (b.failed || 0) - (a.failed || 0) || a.name.localeCompare(b.name),
      }[sort] || ((a, b) => a.name.localeCompare(b.name));
      shown.sort(by);
      document.getElementById("machine-count").textContent = `(${shown.length === machines.length ? machines.length : `${shown.length} of ${machines.length}`})`;
      const rows = shown.slice(0, 500);
      document.getElementById("machine-list").innerHTML = shown.length === 0 ? `<p class="muted" id="no-machines">No state machine matches.</p>`
        : `<div class="table-wrap"><table id="machines" class="cards"><thead><tr><th>Name</th><th>Type</th><th class="num">Running</th><th class="num">Failed</th><th>Created</th></tr></thead><tbody>${rows.map((m) =>
          `<tr data-machine="${esc(m.name)}"><td>${link(machinePath(m.stateMachineArn), m.name)}</td><td data-label="Type">${esc(m.type)}</td>
          <td data-label="Running" class="num">${m.running ? `<span class="status status-RUNNING">${count(m, "running")}</span>` : count(m, "running")}</td>
          <td data-label="Failed" class="num">${m.failed ? `<span class="status status-FAILED">${count(m, "failed")}</span>` : count(m, "failed")}</td>
          <td data-label="Created">${ago(m.creationDate)}</td></tr>`).join("")}</tbody></table></div>
          ${shown.length > rows.length ? `<p class="muted">The first ${rows.length} are shown: search to find the others.</p>` : ""}
          ${counted ? "" : `<p class="muted">This server does not count executions per machine.</p>`}`;
    };
    document.getElementById("machine-search").oninput = draw;
    document.getElementById("machine-type").onchange = draw;
    document.getElementById("machine-sort").onchange = draw;
    draw();
  }

  async function machinePage(arn, token) {
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

  async function validate(definition, token) {
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

  const STATUSES = ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];

  /// Status filter, name search, Refresh and Auto-refresh, as the URL has them (an Express
  /// machine's recent executions: status and Refresh only).
  function executionsToolbar(express) {
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
  function executionsRequest(arn, status, name, nextToken) {
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
  async function executionsList(arn, token, showMachine, prefetched) {
    const container = document.getElementById("executions");
    const select = document.getElementById("status-filter");
    const search = document.getElementById("execution-search");
    const auto = document.getElementById("auto-refresh");
    const tokens = [undefined]; // nextToken of each page we have seen
    let page = 0;
    let timer = null;
    async function load() {
      clearTimeout(timer);
      if (token !== pageToken) return;
      const name = search.value.trim();
      setParams({ status: select.value, q: name, auto: auto.checked ? "" : "0" });
      const path = executionsRequest(arn, select.value, name, tokens[page]);
      const early = prefetched && prefetched.path === path ? prefetched.answer : null;
      prefetched = null;
      const { ok, status, value } = await (early || consoleApi(path));
      if (token !== pageToken) return;
      if (!ok) {
        container.innerHTML = `<div class="error-box">The executions could not be listed: ${esc(value.message || `HTTP ${status}`)}</div>`;
        return;
      }
      tokens[page + 1] = value.nextToken;
      document.getElementById("executions-total").textContent = `(${value.total}${value.totalIsLowerBound ? "+" : ""}${select.value || name ? " matching" : ""})`;
      const expressTag = (e) => String(e.executionArn).includes(":express:") ? ` <span class="tag" title="An Express execution this server keeps in memory">Express</span>` : "";
      const rows = (value.executions || []).map((e) => `<tr><td>${link(executionPath(e.executionArn), e.name)}${expressTag(e)}</td>${showMachine ? `<td data-label="State machine">${link(machinePath(e.stateMachineArn), e.stateMachineName || e.stateMachineArn.split(":").pop())}</td>` : ""}<td>${statusBadge(e.status)}</td><td data-label="Started">${ago(e.startDate)}</td><td data-label="Duration" class="duration">${esc(ranFor(e))}${e.stopDate ? "" : " so far"}</td></tr>`).join("");
      container.innerHTML = (rows ? `<div class="table-wrap"><table id="executions-table" class="cards"><thead><tr><th>Name</th>${showMachine ? "<th>State machine</th>" : ""}<th>Status</th><th>Started</th><th>Duration</th></tr></thead><tbody>${rows}</tbody></table></div>`
        : `<p class="muted" id="no-executions">No executions${select.value ? ` with status ${esc(select.value)}` : ""}${name ? ` named like “${esc(name)}”` : ""}.</p>`)
        + (value.searchIsPartial ? `<p class="muted">The search read the newest 10,000 executions of each state machine: older ones may match too.</p>` : "")
        + `<div class="pager"><button id="executions-prev" ${page === 0 ? "disabled" : ""}>Previous</button><span>Page ${page + 1}</span><button id="executions-next" ${value.nextToken ? "" : "disabled"}>Next</button></div>`;
      document.getElementById("executions-prev").onclick = () => { page -= 1; load(); };
      document.getElementById("executions-next").onclick = () => { page += 1; load(); };
      if (auto.checked && page === 0) timer = setTimeout(load, LIST_REFRESH_MS);
    }
    const restart = () => { tokens.length = 1; page = 0; load(); };
    select.onchange = restart;
    let typing = null;
    search.oninput = () => { clearTimeout(typing); typing = setTimeout(restart, 250); };
    auto.onchange = () => load();
    document.getElementById("refresh-executions").onclick = () => load();
    await load();
  }

  /// Every Standard execution of every state machine, newest first.
  async function allExecutionsPage(token) {
    document.title = "Executions · steppe";
    main.innerHTML = `<h1>Executions <span class="muted count" id="executions-total"></span></h1>
      <p class="muted">The executions of every state machine, newest first: Standard ones, and the Express ones that ended recently on this server (kept in its memory).</p>
      ${executionsToolbar(false)}
      <div id="executions"></div>`;
    await executionsList(null, token, true);
  }

  /// An Express machine's executions: AWS keeps none a client can list, so this is the
  /// server's own bounded record of the ones that ended recently on this node.
  async function expressList(arn, token) {
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
      container.innerHTML = `<p class="muted" id="express-note">Express executions keep no history in AWS; this server keeps the last ${esc(value.keptMax ?? "")} that ended on it, in memory, and rebuilds their events when you open one.</p>`
        + (rows ? `<div class="table-wrap"><table id="executions-table" class="cards"><thead><tr><th>Name</th><th>Status</th><th>Started</th><th>Duration</th></tr></thead><tbody>${rows}</tbody></table></div>` : `<p class="muted">No recent Express executions${select.value ? ` with status ${esc(select.value)}` : ""}.</p>`);
    }
    select.onchange = () => load();
    document.getElementById("refresh-executions").onclick = () => load();
    await load();
  }

  // ---------- diagram ----------

  /// Draws a definition into `element` (zoom and pan included); resolves to the graph model.
  async function drawDiagram(element, definition, token) {
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
  function graphOf(definition) {
    return consoleApi("api/graph", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ definition }),
    });
  }

  /// Puts a drawing in `element` with its zoom buttons, fitted.
  function showDiagram(element, svgText) {
    element.innerHTML = `<div class="zoom"><button data-zoom="in" title="Zoom in">+</button><button data-zoom="out" title="Zoom out">−</button><button data-zoom="fit" title="Fit">Fit</button></div>` + svgText;
    enableZoomPan(element, element.querySelector("svg"));
  }

  /// Zoom and pan by viewBox. Fit shows the whole drawing at any size (never past 1:1);
  /// the wheel zooms about the cursor, the buttons about the centre. Leaves
  /// `element.diagram = {fit, reveal(name)}` for the page to use.
  function enableZoomPan(element, svg) {
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
    const apply = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
    const size = () => {
      const box = element.getBoundingClientRect();
      return { box, width: Math.max(box.width, 1), height: Math.max(box.height, 1) };
    };
    const MARGIN = 12; // pixels around the drawing after Fit
    const fit = () => {
      const { width, height } = size();
      const scale = Math.min(1, (width - 2 * MARGIN) / full.w, (height - 2 * MARGIN) / full.h);
      const w = width / Math.max(scale, 1e-3), h = height / Math.max(scale, 1e-3);
      view = { x: (full.w - w) / 2, y: (full.h - h) / 2, w, h };
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
      if (event.target.closest(".zoom")) return;
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
    element.querySelector(".zoom").addEventListener("click", (event) => { fitted = event.target.closest("[data-zoom=fit]") !== null; });
    if (window.ResizeObserver) {
      element.zoomResize = new ResizeObserver(() => {
        if (fitted) return fit();
        const { width, height } = size();
        view.h = view.w * (height / width);
        apply();
      }).observe(element);
    }
    fit();
    element.diagram = { fit, reveal };
  }

  /// Calls `onSelect(name)` when a state of the diagram is clicked (not dragged), or focused
  /// by keyboard (Tab) and opened with Enter or Space.
  function onStateClick(element, onSelect) {
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
  function focusableStates(element) {
    for (const g of element.querySelectorAll(".sg-state")) {
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-label", `${g.dataset.state} (${g.dataset.type || "state"}): open its details`);
    }
  }

  const OUTCOMES = ["succeeded", "failed", "aborted", "caught", "retried", "retrying", "running", "notreached"];

  function colour(element, summary, selected, taken) {
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
  }

  // ---------- executions ----------

  /// The whole history on load, from the server's history endpoint (a 25,000-event history
  /// in one request, where GetExecutionHistory takes 25 one after another); then, while the
  /// execution runs, what is new since `afterId`, newest first from GetExecutionHistory.
  async function fetchHistory(arn, afterId, token) {
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

  async function definitionFor(execution) {
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
  async function expressExecution(arn) {
    const { ok, status, value } = await consoleApi(`api/express-executions?executionArn=${encodeURIComponent(arn)}`);
    if (!ok) throw new ApiError(status === 404 ? "ExecutionDoesNotExist" : "Error", value.message || `HTTP ${status}`, status);
    return value;
  }

  async function executionPage(arn, token) {
    const isExpress = arn.includes(":express:");
    const kept = isExpress ? await expressExecution(arn) : null;
    let execution = isExpress ? kept.execution : await api("DescribeExecution", { executionArn: arn });
    if (token !== pageToken) return;
    document.title = `${execution.name} · steppe`;
    const initial = params();
    const VIEWS = ["graph", "table", "timeline"];
    const state = {
      events: [], lastId: 0, analysis: null, model: null, selected: initial.get("state") || null, run: null,
      scope: initial.get("scope") || "", iterationFilter: initial.get("iterations") || "", eventPage: -1, eventFilter: (initial.get("events") || "").toLowerCase(), iterationPage: 0,
      view: VIEWS.includes(initial.get("view")) ? initial.get("view") : "graph",
      sort: { key: initial.get("sort") || "started", descending: initial.get("order") === "desc" }, tablePage: 0, timelinePage: 0,
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
      setParams({ view: state.view === "graph" ? "" : state.view, state: state.selected, scope: state.scope,
        sort: state.sort.key === "started" ? "" : state.sort.key, order: state.sort.descending ? "desc" : "" });
      if (state.view === "table") renderTable(state, views.table);
      if (state.view === "timeline") renderTimeline(state, views.timeline);
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
      if (running && token === pageToken) pollTimer = setTimeout(refresh, POLL_MS);
    }
    await refresh();
  }

  // ---------- time: the table of states and the timeline ----------

  /// The runs shown under the page's scope filter, each with its index in analysis.runs.
  function scopedRuns(state) {
    const analysis = state.analysis;
    const list = [];
    analysis.runs.forEach((run, index) => {
      if (!state.scope || SteppeHistory.inScope(run, state.scope, analysis)) list.push({ run, index });
    });
    return list;
  }

  /// When a run ended, or now while it runs.
  /// Whether a run is still going: running, or waiting out a Retry back-off.
  const ongoing = (run) => run.status === "retrying" || run.endedAt === undefined;
  const endOf = (run) => (ongoing(run) ? Date.now() : run.endedAt);
  const attemptsOf = (run) => Math.max(1, run.attempts ? run.attempts.length : 1);

  const TABLE_COLUMNS = [
    ["name", "Name", (r) => r.name],
    ["type", "Type", (r) => r.type || ""],
    ["status", "Status", (r) => r.status],
    ["scope", "Iteration / branch", (r) => r.scopeKey],
    ["started", "Started after", (r) => r.startedAt],
    ["duration", "Duration", (r) => endOf(r) - r.startedAt],
    ["attempts", "Attempts", attemptsOf],
  ];

  function pagerHtml(attribute, page, pages) {
    if (pages <= 1) return "";
    return `<div class="pager"><button ${attribute}="0" ${page === 0 ? "disabled" : ""}>First</button><button ${attribute}="${page - 1}" ${page === 0 ? "disabled" : ""}>Previous</button>
      <span>Page ${page + 1} of ${pages}</span><button ${attribute}="${page + 1}" ${page + 1 >= pages ? "disabled" : ""}>Next</button><button ${attribute}="${pages - 1}" ${page + 1 >= pages ? "disabled" : ""}>Last</button></div>`;
  }

  /// Every run of every state (one row per entry, per iteration and branch), sortable by
  /// any column; one page of PAGE_ROWS rows in the DOM.
  function renderTable(state, container) {
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
  function renderTimeline(state, container) {
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
  function onRunPick(container, state, select, rerender) {
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
  function markRetrying(analysis, definition, executionStatus) {
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
  async function renderExecutionTasks(arn, running, token) {
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

  function renderSummary(execution) {
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

  function renderStatePanel(state, summary, rerender) {
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
    if (type !== "Map") setParams({ iterations: "" });
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
  function stderrHtml(state, name, run) {
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
  function mapRunsHtml(state, mapName) {
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

  const ITERATION_STATUSES = ["succeeded", "failed", "aborted", "caught", "running", "retrying"];

  /// A Map's iterations as a grid, filtered by status (the filter kept in the URL).
  function iterationsHtml(state, mapName) {
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
    const page = Math.min(state.iterationPage, pages - 1);
    const shown = matching.slice(page * PAGE_ITERATIONS, (page + 1) * PAGE_ITERATIONS);
    const statuses = [...ITERATION_STATUSES, ...Object.keys(counts).filter((s) => !ITERATION_STATUSES.includes(s))].filter((s) => counts[s]);
    const chip = (value, text) => `<button type="button" class="chip${filter === value ? " active" : ""}" data-iteration-filter="${esc(value)}" aria-pressed="${filter === value}">${esc(text)}</button>`;
    return `<h2 id="iterations-title">Iterations (${all.length})</h2>
      <div class="toolbar chips" id="iteration-filter" role="group" aria-label="Show iterations by status">${chip("", `all ${all.length}`)}${statuses.map((s) => chip(s, `${s} ${counts[s]}`)).join("")}</div>
      <div class="iterations"><div class="iteration-grid" id="iterations">${shown.map((item) =>
        `<a href="#" class="${esc(item.status)}${item.scopeKey === state.scope ? " current" : ""}" data-iteration-scope="${esc(item.scopeKey)}" title="${esc(item.scopeKey)}: ${esc(item.status)}">${item.index}</a>`).join("")}</div></div>
      ${pages > 1 ? `<div class="pager"><button data-iteration-page="${page - 1}" ${page === 0 ? "disabled" : ""}>Previous</button><span>${page + 1} / ${pages}</span><button data-iteration-page="${page + 1}" ${page + 1 >= pages ? "disabled" : ""}>Next</button></div>` : ""}`;
  }

  function branchesHtml(state, parallelName, summary) {
    const model = state.model;
    const owner = model.nodes.findIndex((node) => node.name === parallelName && node.type === "Parallel");
    if (owner < 0) return "";
    const rows = (model.nodes[owner].children || []).map((blockIdx, i) => {
      const names = model.blocks[blockIdx].nodes.map((n) => model.nodes[n]).filter((n) => n.type !== "Start" && n.type !== "End");
      return `<tr><td>Branch ${i + 1}</td><td>${names.map((n) => `${esc(n.name)} ${statusBadge((summary.get(n.name) || { status: "not reached" }).status)}`).join("<br>")}</td></tr>`;
    }).join("");
    return `<h2>Branches</h2><div class="table-wrap"><table><tbody>${rows}</tbody></table></div>`;
  }

  function renderEvents(state) {
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

  // ---------- authoring ----------

  /// A code editor: a textarea beside a line-number gutter. No editor library is vendored
  /// (the page fetches nothing from the internet and has no build step).
  function codeEditorHtml(id, text, name, rows) {
    return `<div class="code-editor"><pre class="gutter" aria-hidden="true"></pre><textarea id="${id}" name="${esc(name)}" rows="${rows}" spellcheck="false" wrap="off" autocapitalize="off" autocomplete="off">${esc(text)}</textarea></div>`;
  }

  /// Keeps the gutter's numbers in step with the text and its scrolling; Tab indents.
  /// Leaves `textarea.markLines(lines)` (1-based line numbers drawn as problems in the
  /// gutter) and `textarea.showLine(n)` (selects line n and scrolls to it).
  function enableCodeEditor(textarea) {
    const gutter = textarea.previousElementSibling;
    let lines = 0;
    let marked = new Set();
    const draw = () => {
      gutter.innerHTML = Array.from({ length: lines }, (_, i) => marked.has(i + 1)
        ? `<span class="bad" data-gutter-line="${i + 1}" title="A diagnostic is about this line">${i + 1}</span>` : String(i + 1)).join("\n");
    };
    const number = () => {
      const count = textarea.value.split("\n").length;
      if (count !== lines) {
        lines = count;
        draw();
      }
      gutter.scrollTop = textarea.scrollTop;
    };
    textarea.markLines = (numbers) => {
      const next = new Set(numbers);
      if (next.size === marked.size && [...next].every((n) => marked.has(n))) return;
      marked = next;
      draw();
    };
    textarea.showLine = (n) => {
      const starts = [0];
      for (let i = 0; i < textarea.value.length && starts.length < n; i++) if (textarea.value[i] === "\n") starts.push(i + 1);
      const start = starts[Math.min(n, starts.length) - 1];
      const end = textarea.value.indexOf("\n", start);
      textarea.focus();
      textarea.setSelectionRange(start, end < 0 ? textarea.value.length : end);
      const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
      textarea.scrollTop = Math.max(0, (n - 3) * lineHeight);
      gutter.scrollTop = textarea.scrollTop;
    };
    textarea.addEventListener("input", number);
    textarea.addEventListener("scroll", () => { gutter.scrollTop = textarea.scrollTop; });
    textarea.addEventListener("keydown", (event) => {
      if (event.key !== "Tab" || event.shiftKey || event.ctrlKey || event.metaKey || event.altKey) return;
      event.preventDefault();
      textarea.setRangeText("  ", textarea.selectionStart, textarea.selectionEnd, "end");
      textarea.dispatchEvent(new Event("input"));
    });
    number();
  }

  function setEditorText(textarea, text) {
    textarea.value = text;
    textarea.dispatchEvent(new Event("input"));
  }

  /// The line and column of a JSON syntax error, when the browser says where: {line, column}.
  function jsonErrorPlace(text, error) {
    const match = /position (\d+)/.exec(error.message);
    const end = /end of JSON input/.test(error.message);
    if (!match && !end) return null;
    const before = text.slice(0, match ? Number(match[1]) : text.trimEnd().length).split("\n");
    return { line: before.length, column: before[before.length - 1].length + 1 };
  }

  /// The line (1-based) on which each member and item of a JSON text starts, by the
  /// location path ValidateStateMachineDefinition's diagnostics name it with
  /// ("/States/Call/Next", "/States/Map/ItemProcessor/States/0"; "" is the whole text). One
  /// pass over the text, which has parsed as JSON already.
  function jsonLocationLines(text) {
    const lines = new Map();
    const stack = []; // open containers: {array, path, key, index}
    let line = 1;
    /// Records where a value starts (an array item's; a member's line is its key's).
    const valueAt = () => {
      const top = stack[stack.length - 1];
      if (!top) { if (!lines.has("")) lines.set("", line); return ""; }
      if (top.array) { const path = `${top.path}/${top.index}`; lines.set(path, line); return path; }
      return `${top.path}/${top.key}`;
    };
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === "\n") line += 1;
      else if (c === '"') {
        let end = i + 1;
        while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
        const top = stack[stack.length - 1];
        if (top && !top.array && top.key === null) {
          let key;
          try { key = JSON.parse(text.slice(i, end + 1)); } catch (_) { key = text.slice(i + 1, end); }
          top.key = key.replace(/~/g, "~0").replace(/\//g, "~1"); // as a JSON Pointer spells it
          lines.set(`${top.path}/${top.key}`, line);
        } else valueAt();
        i = end;
      } else if (c === "{" || c === "[") {
        stack.push({ array: c === "[", path: valueAt(), key: null, index: 0 });
      } else if (c === "}" || c === "]") stack.pop();
      else if (c === ",") {
        const top = stack[stack.length - 1];
        if (top && top.array) top.index += 1; else if (top) top.key = null;
      } else if (c !== ":" && c !== " " && c !== "\t" && c !== "\r") {
        valueAt(); // a number, true, false or null
        while (i + 1 < text.length && !/[\s,\]}]/.test(text[i + 1])) i += 1;
      }
    }
    return lines;
  }

  /// The line a diagnostic's location names: its own, else its nearest enclosing member's
  /// (a missing field is about the object that lacks it).
  function locationLine(lines, location) {
    if (typeof location !== "string" || !location.startsWith("/")) return null;
    let path = location.replace(/\/$/, "");
    for (;;) {
      if (lines.has(path)) return lines.get(path);
      if (path === "") return null;
      path = path.slice(0, path.lastIndexOf("/"));
    }
  }

  const NEW_DEFINITION = JSON.stringify({
    Comment: "A new state machine",
    StartAt: "Hello",
    States: { Hello: { Type: "Pass", Result: { hello: "world" }, End: true } },
  }, null, 2);

  /// Create (arn null) or edit a state machine: the definition in a code editor, checked by
  /// ValidateStateMachineDefinition and drawn as you type; saving calls CreateStateMachine
  /// or UpdateStateMachine, optionally publishing a version.
  async function editorPage(arn, token) {
    const machine = arn ? await api("DescribeStateMachine", { stateMachineArn: arn }) : null;
    if (token !== pageToken) return;
    document.title = `${machine ? `Edit ${machine.name}` : "Create a state machine"} · steppe`;
    main.innerHTML = `<h1>${machine ? `Edit ${esc(machine.name)}` : "Create a state machine"}</h1>
      <form id="machine-form" class="editor-form">
        <div class="toolbar">
          ${machine ? `<span class="muted">${esc(machine.type)} · ${esc(arn)}</span>` : `<label>Name <input type="text" name="name" id="machine-name" required maxlength="80" placeholder="my-machine"></label>
          <label>Type <select name="type" id="machine-type-new"><option>STANDARD</option><option>EXPRESS</option></select></label>`}
          <label>Role ARN <input type="text" name="roleArn" id="machine-role" required value="${esc(machine ? machine.roleArn : "arn:aws:iam::123456789012:role/steppe")}"></label>
        </div>
        <div class="row editor-row">
          <div class="grow editor-side">
            ${codeEditorHtml("definition-editor", machine ? pretty(machine.definition) : NEW_DEFINITION, "definition", 28)}
            <div id="editor-diagnostics" aria-live="polite"></div>
          </div>
          <div class="grow"><div class="diagram" id="diagram"></div><p class="muted" id="diagram-note"></p></div>
        </div>
        <div class="toolbar">
          <label class="check"><input type="checkbox" name="publish" id="publish-version"> Publish a version</label>
          <label>Version description <input type="text" name="versionDescription" maxlength="256" id="version-description"></label>
          <button class="primary" id="save-machine">${machine ? "Save" : "Create"}</button>
          <a class="button" href="${esc(machine ? machinePath(arn) : "")}" data-link>Cancel</a>
        </div>
        <div id="save-error" class="diagnostic" hidden></div>
      </form>`;
    const textarea = document.getElementById("definition-editor");
    enableCodeEditor(textarea);
    const diagram = document.getElementById("diagram");
    const checker = definitionChecker(textarea, diagram, token);
    textarea.addEventListener("input", checker);
    document.getElementById("machine-form").onsubmit = async (event) => {
      event.preventDefault();
      const form = event.target;
      const problem = document.getElementById("save-error");
      problem.hidden = true;
      const request = { definition: textarea.value, roleArn: form.elements.roleArn.value.trim() };
      if (form.elements.publish.checked) {
        request.publish = true;
        if (form.elements.versionDescription.value) request.versionDescription = form.elements.versionDescription.value;
      }
      try {
        if (machine) {
          await api("UpdateStateMachine", { stateMachineArn: arn, ...request });
          toast(`Saved ${machine.name}${request.publish ? " and published a version" : ""}`);
          navigate(machinePath(arn));
        } else {
          const created = await api("CreateStateMachine", { name: form.elements.name.value.trim(), type: form.elements.type.value, ...request });
          toast(`Created ${form.elements.name.value.trim()}`);
          navigate(machinePath(created.stateMachineArn));
        }
      } catch (error) {
        problem.hidden = false;
        problem.textContent = `${error.type || "Error"}: ${error.message}`;
      }
    };
    await checker();
  }

  /// Checks and draws the editor's text whenever it changes: at most one drawing and one
  /// validation in flight, then the newest text; an invalid definition keeps the last
  /// drawing. Each redraw's time from the keystroke is left in diagram.dataset.redrawMillis.
  function definitionChecker(textarea, diagram, token) {
    let busy = false, again = false, changedAt = 0;
    const list = document.getElementById("editor-diagnostics");
    const note = document.getElementById("diagram-note");
    const once = async () => {
      const text = textarea.value;
      const since = changedAt;
      try { JSON.parse(text); } catch (error) {
        const place = jsonErrorPlace(text, error);
        list.innerHTML = `<div class="diagnostic"><strong>ERROR INVALID_JSON</strong> ${place ? `${lineLink(place.line)} ` : ""}${esc(error.message)}${place ? esc(` (line ${place.line}, column ${place.column})`) : ""}</div>`;
        textarea.markLines(place ? [place.line] : []);
        note.textContent = "The diagram shows the last definition that could be drawn.";
        return;
      }
      const [drawn, checked] = await Promise.all([
        graphOf(text),
        api("ValidateStateMachineDefinition", { definition: text }).catch((error) => ({ failed: error })),
      ]);
      if (token !== pageToken) return;
      if (drawn.ok) {
        showDiagram(diagram, drawn.value.svg);
        diagram.dataset.redrawMillis = String(Math.round(performance.now() - since));
        diagram.dataset.redraws = String(Number(diagram.dataset.redraws || 0) + 1);
        note.textContent = "";
      } else {
        note.textContent = drawn.status === 413 ? drawn.value.message : "The diagram shows the last definition that could be drawn.";
      }
      const diagnostics = checked.failed ? [] : checked.diagnostics || [];
      // Each diagnostic on its line: the location path found in the text, the line marked.
      const lines = diagnostics.length ? jsonLocationLines(text) : null;
      const lineOf = diagnostics.map((d) => locationLine(lines, d.location));
      textarea.markLines(lineOf.filter((n) => n !== null));
      list.innerHTML = checked.failed ? `<div class="diagnostic">Validation unavailable: ${esc(checked.failed.message)}</div>`
        : diagnostics.length === 0 ? `<div class="diagnostic ok" id="editor-valid">Valid definition: no diagnostics</div>`
          : diagnostics.map((d, i) => `<div class="diagnostic"><strong>${esc(d.severity)} ${esc(d.code)}</strong> ${lineOf[i] !== null ? `${lineLink(lineOf[i])} ` : ""}${esc(d.message)} <span class="muted">${esc(d.location || "")}</span></div>`).join("");
    };
    const lineLink = (n) => `<button type="button" class="line-link" data-line="${n}" title="Show line ${n} in the editor">line ${n}</button>`;
    list.addEventListener("click", (event) => {
      const button = event.target.closest("[data-line]");
      if (button) textarea.showLine(Number(button.dataset.line));
    });
    return async function check() {
      changedAt = performance.now();
      if (busy) { again = true; return; }
      busy = true;
      try {
        do { again = false; await once(); } while (again && token === pageToken);
      } finally { busy = false; }
    };
  }

  function deleteMachineDialog(machine) {
    dialog(`<h2 style="margin-top:0">Delete ${esc(machine.name)}?</h2>
      <p id="dialog-question">DeleteStateMachine: its running executions are stopped, and its versions and aliases are deleted with it. This cannot be undone.</p>`, async () => {
      await api("DeleteStateMachine", { stateMachineArn: machine.stateMachineArn });
      toast(`Deleted ${machine.name}`);
      navigate("");
    }, "Delete state machine", "danger");
  }

  /// A machine's versions (publish, start, delete) and aliases (create, change routing,
  /// start, delete).
  async function versionsAndAliases(machine, token) {
    const container = document.getElementById("versions-aliases");
    const arn = machine.stateMachineArn;
    const [versions, aliasList] = await Promise.all([
      api("ListStateMachineVersions", { stateMachineArn: arn, maxResults: 1000 }),
      api("ListStateMachineAliases", { stateMachineArn: arn, maxResults: 100 }),
    ]);
    const aliases = await Promise.all((aliasList.stateMachineAliases || []).map((a) =>
      api("DescribeStateMachineAlias", { stateMachineAliasArn: a.stateMachineAliasArn })));
    if (token !== pageToken) return;
    const items = versions.stateMachineVersions || [];
    const number = (versionArn) => versionArn.split(":").pop();
    const routing = (alias) => (alias.routingConfiguration || []).map((r) => `version ${number(r.stateMachineVersionArn)}: ${r.weight} %`).join(", ");
    container.innerHTML = `<h2>Versions <span class="muted count">(${items.length})</span></h2>
      <div class="toolbar"><button id="publish-version-button">Publish a version</button></div>
      ${items.length === 0 ? `<p class="muted" id="no-versions">No versions published.</p>` : `<div class="table-wrap"><table id="versions" class="cards"><thead><tr><th>Version</th><th>Created</th><th></th></tr></thead><tbody>${items.map((v, i) =>
        `<tr data-version="${esc(number(v.stateMachineVersionArn))}"><td>${esc(number(v.stateMachineVersionArn))}</td><td data-label="Created">${ago(v.creationDate)}</td>
        <td><button data-start-version="${i}">Start</button> <button class="danger" data-delete-version="${i}">Delete</button></td></tr>`).join("")}</tbody></table></div>`}
      <h2>Aliases <span class="muted count">(${aliases.length})</span></h2>
      <div class="toolbar"><button id="create-alias" ${items.length ? "" : "disabled title=\"Publish a version first\""}>Create alias</button></div>
      ${aliases.length === 0 ? `<p class="muted" id="no-aliases">No aliases.</p>` : `<div class="table-wrap"><table id="aliases" class="cards"><thead><tr><th>Name</th><th>Routes to</th><th>Description</th><th></th></tr></thead><tbody>${aliases.map((a, i) =>
        `<tr data-alias="${esc(a.name)}"><td>${esc(a.name)}</td><td data-label="Routes to" class="alias-routing">${esc(routing(a))}</td><td data-label="Description">${esc(a.description || "")}</td>
        <td><button data-start-alias="${i}">Start</button> <button data-edit-alias="${i}">Edit</button> <button class="danger" data-delete-alias="${i}">Delete</button></td></tr>`).join("")}</tbody></table></div>`}`;
    const reload = () => versionsAndAliases(machine, token);
    document.getElementById("publish-version-button").onclick = () => dialog(`<h2 style="margin-top:0">Publish a version of ${esc(machine.name)}</h2>
      <p class="muted">PublishStateMachineVersion: the current definition becomes the next numbered version, which cannot change.</p>
      <label for="publish-description">Description (optional)</label><input type="text" id="publish-description" name="description" maxlength="256" style="width:100%">`, async (form) => {
      const request = { stateMachineArn: arn };
      if (form.elements.description.value) request.description = form.elements.description.value;
      const published = await api("PublishStateMachineVersion", request);
      toast(`Published version ${number(published.stateMachineVersionArn)}`);
      reload();
    }, "Publish");
    container.querySelectorAll("[data-start-version]").forEach((button) => {
      button.onclick = () => startDialog(items[Number(button.dataset.startVersion)].stateMachineVersionArn, "{}");
    });
    container.querySelectorAll("[data-delete-version]").forEach((button) => {
      const version = items[Number(button.dataset.deleteVersion)];
      button.onclick = () => dialog(`<h2 style="margin-top:0">Delete version ${esc(number(version.stateMachineVersionArn))}?</h2>
        <p id="dialog-question">DeleteStateMachineVersion: refused while an alias routes to it.</p>`, async () => {
        await api("DeleteStateMachineVersion", { stateMachineVersionArn: version.stateMachineVersionArn });
        toast(`Deleted version ${number(version.stateMachineVersionArn)}`);
        reload();
      }, "Delete version", "danger");
    });
    const create = document.getElementById("create-alias");
    if (create) create.onclick = () => aliasDialog(machine, items, null, reload);
    container.querySelectorAll("[data-edit-alias]").forEach((button) => {
      button.onclick = () => aliasDialog(machine, items, aliases[Number(button.dataset.editAlias)], reload);
    });
    container.querySelectorAll("[data-start-alias]").forEach((button) => {
      button.onclick = () => startDialog(aliases[Number(button.dataset.startAlias)].stateMachineAliasArn, "{}");
    });
    container.querySelectorAll("[data-delete-alias]").forEach((button) => {
      const alias = aliases[Number(button.dataset.deleteAlias)];
      button.onclick = () => dialog(`<h2 style="margin-top:0">Delete the alias ${esc(alias.name)}?</h2>
        <p id="dialog-question">DeleteStateMachineAlias: executions started through it keep running.</p>`, async () => {
        await api("DeleteStateMachineAlias", { stateMachineAliasArn: alias.stateMachineAliasArn });
        toast(`Deleted the alias ${alias.name}`);
        reload();
      }, "Delete alias", "danger");
    });
  }

  /// CreateStateMachineAlias (alias null) or UpdateStateMachineAlias: one version, or two
  /// with a weight each (AWS allows at most two, weights adding up to 100).
  function aliasDialog(machine, versions, alias, after) {
    const routes = (alias && alias.routingConfiguration) || [];
    const options = (selected) => `<option value="">—</option>` + versions.map((v) =>
      `<option value="${esc(v.stateMachineVersionArn)}"${v.stateMachineVersionArn === selected ? " selected" : ""}>version ${esc(v.stateMachineVersionArn.split(":").pop())}</option>`).join("");
    const first = routes[0] || { stateMachineVersionArn: versions[0] && versions[0].stateMachineVersionArn, weight: 100 };
    const second = routes[1] || { stateMachineVersionArn: "", weight: 0 };
    dialog(`<h2 style="margin-top:0">${alias ? `Change the alias ${esc(alias.name)}` : `Create an alias of ${esc(machine.name)}`}</h2>
      ${alias ? "" : `<label for="alias-name">Name</label><input type="text" id="alias-name" name="name" required maxlength="80" style="width:100%">`}
      <label for="alias-description">Description (optional)</label><input type="text" id="alias-description" name="description" maxlength="256" style="width:100%" value="${esc((alias && alias.description) || "")}">
      <label for="alias-version-1">Routes to</label><div class="toolbar"><select id="alias-version-1" name="version1" required>${options(first.stateMachineVersionArn)}</select>
        <input type="number" name="weight1" id="alias-weight-1" min="0" max="100" value="${esc(first.weight)}" aria-label="Weight (%)"> %</div>
      <label for="alias-version-2">and (optional)</label><div class="toolbar"><select id="alias-version-2" name="version2">${options(second.stateMachineVersionArn)}</select>
        <input type="number" name="weight2" id="alias-weight-2" min="0" max="100" value="${esc(second.weight)}" aria-label="Weight (%)"> %</div>`, async (form) => {
      const routing = [[form.elements.version1.value, form.elements.weight1.value], [form.elements.version2.value, form.elements.weight2.value]]
        .filter(([version]) => version).map(([version, weight]) => ({ stateMachineVersionArn: version, weight: Number(weight) }));
      const request = { routingConfiguration: routing };
      if (form.elements.description.value || alias) request.description = form.elements.description.value;
      if (alias) await api("UpdateStateMachineAlias", { stateMachineAliasArn: alias.stateMachineAliasArn, ...request });
      else await api("CreateStateMachineAlias", { name: form.elements.name.value.trim(), ...request });
      toast(alias ? `Changed the alias ${alias.name}` : `Created the alias ${form.elements.name.value.trim()}`);
      after();
    }, alias ? "Save alias" : "Create alias");
  }

  // ---------- Map Runs (distributed Maps) ----------

  const MAP_RUN_COUNTS = ["pending", "running", "succeeded", "failed", "timedOut", "aborted", "total"];
  const CHILD_STATUSES = ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];

  /// A distributed Map's Map Run: its status, settings and counts (DescribeMapRun), its
  /// child executions filtered by status (ListExecutions with mapRunArn), each opened in
  /// place (DescribeExecution); polls while it runs.
  async function mapRunPage(arn, token) {
    const initial = params();
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
    const tokens = [undefined];
    let page = 0;
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
    async function loadChildren() {
      setParams({ status: select.value });
      const request = { mapRunArn: arn, maxResults: PAGE_EXECUTIONS * 4 };
      if (select.value) request.statusFilter = select.value;
      if (tokens[page]) request.nextToken = tokens[page];
      const value = await api("ListExecutions", request);
      if (token !== pageToken) return;
      tokens[page + 1] = value.nextToken;
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
      document.getElementById("children-prev").onclick = () => { page -= 1; loadChildren(); };
      document.getElementById("children-next").onclick = () => { page += 1; loadChildren(); };
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
    select.onchange = () => { tokens.length = 1; page = 0; loadChildren(); };
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
        if (page === 0) await loadChildren();
      } catch (error) {
        toast(`${error.type || "Error"}: ${error.message}`, true);
      }
      setLive(described.status === "RUNNING");
      if (described.status === "RUNNING" && token === pageToken) pollTimer = setTimeout(poll, POLL_MS);
    }
    setLive(described.status === "RUNNING");
    if (described.status === "RUNNING") pollTimer = setTimeout(poll, POLL_MS);
  }

  const CHILD_RUNS_SHOWN = 50;

  /// What each state of a Map Run child did, read from its own history: name, status, how
  /// long it took and its error (the last CHILD_RUNS_SHOWN runs).
  function childRunsHtml(events) {
    const analysis = SteppeHistory.analyse(events, null);
    const runs = analysis.runs.slice(-CHILD_RUNS_SHOWN);
    if (runs.length === 0) return `<span class="muted">No state has run.</span>`;
    return `<div class="table-wrap"><table class="child-runs"><thead><tr><th>State</th><th>Status</th><th>Took</th><th>Error</th></tr></thead><tbody>${runs.map((run) =>
      `<tr data-child-run="${esc(run.name)}"><td>${esc(run.name)}${run.scopeKey ? ` <span class="muted">${esc(run.scopeKey)}</span>` : ""}</td><td>${statusBadge(run.status)}</td>
      <td class="num">${Number.isFinite(run.startedAt) ? esc(duration(endOf(run) - run.startedAt)) : ""}</td><td>${esc(run.error ?? "")}</td></tr>`).join("")}</tbody></table></div>
      ${analysis.runs.length > runs.length ? `<p class="muted">The last ${runs.length} of ${analysis.runs.length} runs.</p>` : ""}`;
  }

  /// UpdateMapRun: a running Map Run's concurrency and tolerated failures.
  function updateMapRunDialog(described, after) {
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

  // ---------- dialogs ----------

  function dialog(html, onSubmit, okLabel, okClass) {
    const element = document.getElementById("dialog");
    const form = document.getElementById("dialog-form");
    form.innerHTML = html + `<div class="toolbar" style="justify-content:flex-end"><button value="cancel" id="dialog-cancel" formnovalidate>Cancel</button><button class="${okClass || "primary"}" value="ok" id="dialog-ok">${esc(okLabel || "OK")}</button></div><div id="dialog-error" class="diagnostic" hidden></div>`;
    form.onsubmit = async (event) => {
      if (event.submitter && event.submitter.value === "cancel") return;
      event.preventDefault();
      const problem = document.getElementById("dialog-error");
      try {
        await onSubmit(form);
        element.close();
      } catch (error) {
        problem.hidden = false;
        problem.textContent = `${error.type || "Error"}: ${error.message}`;
      }
    };
    element.showModal();
  }

  function jsonField(form, name) {
    const text = form.elements[name].value;
    try { JSON.parse(text); } catch (error) { throw new ApiError("InvalidJson", `${name} is not valid JSON: ${error.message}`); }
    return text;
  }

  function watchJson(form, name) {
    const field = form.elements[name];
    const note = form.querySelector(`[data-json-note="${name}"]`);
    const check = () => {
      try { JSON.parse(field.value); note.textContent = "Valid JSON"; note.className = "muted"; } catch (error) { note.textContent = error.message; note.className = "diagnostic"; }
    };
    field.addEventListener("input", check);
    check();
  }

  function startDialog(machineArn, input) {
    dialog(`<h2 style="margin-top:0">Start execution</h2>
      <label for="execution-name">Name (optional)</label><input type="text" id="execution-name" name="name" style="width:100%">
      <label for="execution-input">Input</label>${codeEditorHtml("execution-input", pretty(input), "input", 12)}
      <div class="toolbar"><button type="button" id="format-input">Format</button><div data-json-note="input"></div></div>`, async (form) => {
      const request = { stateMachineArn: machineArn, input: jsonField(form, "input") };
      if (form.elements.name.value.trim()) request.name = form.elements.name.value.trim();
      const result = await api("StartExecution", request);
      if (String(result.executionArn).includes(":express:")) {
        // An Express execution is listed once it ends: wait a little for a short one.
        for (let i = 0; i < 40; i++) {
          const { ok } = await consoleApi(`api/express-executions?executionArn=${encodeURIComponent(result.executionArn)}`);
          if (ok) return navigate(executionPath(result.executionArn));
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        toast("Started: the Express execution is listed here once it ends");
        return navigate(machinePath(machineArn));
      }
      navigate(executionPath(result.executionArn));
    });
    const field = document.getElementById("execution-input");
    enableCodeEditor(field);
    document.getElementById("format-input").onclick = () => {
      try { setEditorText(field, JSON.stringify(JSON.parse(field.value), null, 2)); } catch (_) { /* the note says why */ }
    };
    watchJson(document.getElementById("dialog-form"), "input");
  }

  function stopDialog(arn, after) {
    dialog(`<h2 style="margin-top:0">Stop this execution?</h2>
      <p id="dialog-question">It ends as ABORTED and its running states stop. This cannot be undone.</p>
      <label>Error (optional)</label><input type="text" name="error" style="width:100%">
      <label>Cause (optional)</label><textarea name="cause" rows="3"></textarea>`, async (form) => {
      const request = { executionArn: arn };
      if (form.elements.error.value) request.error = form.elements.error.value;
      if (form.elements.cause.value) request.cause = form.elements.cause.value;
      await api("StopExecution", request);
      toast("Execution stopped");
      after();
    }, "Stop execution", "danger");
  }

  function redriveDialog(arn, after) {
    dialog(`<h2 style="margin-top:0">Redrive this execution?</h2>
      <p id="dialog-question">It starts again from the states that did not succeed, with the same input; the states that succeeded are not run again.</p>`, async () => {
      await api("RedriveExecution", { executionArn: arn });
      toast("Execution redriven");
      after();
    }, "Redrive");
  }

  // ---------- pending tasks (human approval) ----------

  async function tasksPage(token) {
    document.title = "Pending tasks · steppe";
    const [tasks, activities] = await Promise.all([
      consoleApi("api/tasks"),
      api("ListActivities", { maxResults: 1000 }).catch(() => ({ activities: [] })),
    ]);
    if (token !== pageToken) return;
    const list = tasks.ok ? tasks.value.tasks || [] : [];
    main.innerHTML = `<h1>Pending tasks</h1>
      <p class="muted">Activity tasks and task tokens waiting for an answer. Approve sends SendTaskSuccess with your JSON output; Reject sends SendTaskFailure with an error and a cause.</p>
      ${tasks.ok ? "" : `<div class="error-box">The server does not list pending tasks (${esc(tasks.status)}).</div>`}
      ${list.length === 0 ? `<p class="muted" id="no-tasks">No pending tasks.</p>` : `<div class="table-wrap"><table id="tasks" class="cards"><thead><tr><th>Execution</th><th>State</th><th>Resource</th><th>Input</th><th>Scheduled</th><th></th></tr></thead><tbody>${list.map((task, i) => `
        <tr data-task="${i}"><td>${link(executionPath(task.executionArn), String(task.executionArn).split(":").pop())}</td><td data-label="State">${esc(task.stateName)}</td>
        <td data-label="Resource"><code>${esc(task.activityArn || task.resource || "")}</code></td><td><pre>${esc(pretty(task.input)).slice(0, 400)}</pre></td><td data-label="Scheduled">${esc(date(task.scheduledDate))}</td>
        <td><button class="primary" data-approve="${i}">Approve</button> <button class="danger" data-reject="${i}">Reject</button></td></tr>`).join("")}</tbody></table></div>`}
      <h2>Activities</h2>${(activities.activities || []).length === 0 ? `<p class="muted">No activities.</p>` : `<div class="table-wrap"><table><thead><tr><th>Name</th><th>ARN</th><th>Pending</th></tr></thead><tbody>${activities.activities.map((a) =>
        `<tr><td>${esc(a.name)}</td><td><code>${esc(a.activityArn)}</code></td><td>${list.filter((t) => t.activityArn === a.activityArn).length}</td></tr>`).join("")}</tbody></table></div>`}`;
    main.querySelectorAll("[data-approve]").forEach((button) => {
      button.onclick = () => approveDialog(list[Number(button.dataset.approve)], token);
    });
    main.querySelectorAll("[data-reject]").forEach((button) => {
      button.onclick = () => rejectDialog(list[Number(button.dataset.reject)], token);
    });
  }

  function approveDialog(task, token) {
    dialog(`<h2 style="margin-top:0">Approve ${esc(task.stateName)}</h2>
      <label for="task-output">Output (JSON)</label><textarea id="task-output" name="output" rows="8">{\n  "approved": true\n}</textarea><div data-json-note="output"></div>`, async (form) => {
      await api("SendTaskSuccess", { taskToken: task.taskToken, output: jsonField(form, "output") });
      toast(`Approved ${task.stateName}`);
      if (token === pageToken) route();
      else if (token === null) document.getElementById("execution-tasks").innerHTML = "";
    });
    watchJson(document.getElementById("dialog-form"), "output");
  }

  function rejectDialog(task, token) {
    dialog(`<h2 style="margin-top:0">Reject ${esc(task.stateName)}</h2>
      <label for="task-error">Error</label><input type="text" id="task-error" name="error" value="Rejected" style="width:100%">
      <label for="task-cause">Cause</label><textarea id="task-cause" name="cause" rows="3">Rejected in the steppe console</textarea>`, async (form) => {
      await api("SendTaskFailure", { taskToken: task.taskToken, error: form.elements.error.value, cause: form.elements.cause.value });
      toast(`Rejected ${task.stateName}`);
      if (token === pageToken) route();
      else if (token === null) document.getElementById("execution-tasks").innerHTML = "";
    });
  }

  route();
})();
