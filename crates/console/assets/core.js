// steppe console: what every page module shares: the API client (requests signed with sigv4.js
// when the server wants them), formatting helpers, the view state in the URL, JSON trees with
// Copy buttons, toasts, the page token, and the router hook (app.js registers the router).

export const BASE = new URL(document.baseURI).pathname; // "/console/"
export const API = window.STEPPE_API || "/";
export const main = document.getElementById("main");
export const PAGE_EVENTS = 100;
export const PAGE_ITERATIONS = 200;
export const PAGE_ROWS = 100; // rows of the states table and the timeline in the DOM at once
export const PAGE_EXECUTIONS = 25;
export const PAGE_MACHINES = 50; // rows of the state machine list in the DOM at once
export const POLL_MS = 1000;
export const LIST_REFRESH_MS = 5000; // auto-refresh of execution lists
export const TREE_NODES_MAX = 1500; // nodes of one JSON tree drawn; the copy button has the rest
export const COPY_TEXTS_MAX = 2000; // texts kept for Copy buttons (a polling page draws new ones)
export let pageToken = 0; // bumped on navigation; stale async work checks it and stops
export let pollTimer = null;

/// A new page: stale async work of the last one sees its token is old and stops, and its
/// poll stops.
export function nextPage() {
  pageToken += 1;
  clearTimeout(pollTimer);
  return pageToken;
}

/// The page's one poll timer (cleared by nextPage).
export function setPollTimer(timer) {
  pollTimer = timer;
}

// The router (app.js) registers itself here, so that every module can route and navigate.
export let router = () => {};
export function setRouter(routeNow) {
  router = routeNow;
}

/// Draws the page the URL names.
export function route() {
  router();
}

export function navigate(path, replace) {
  const url = BASE + path;
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  route();
}


// ---------- API ----------

export class ApiError extends Error {
  constructor(type, message, status) {
    super(message || type || `HTTP ${status}`);
    this.type = type;
    this.status = status;
  }
}

// With --credentials, requests are signed with the key the user signed in with (sigv4.js).
export async function signed(method, url, headers, body) {
  const credentials = window.SteppeSigV4 && SteppeSigV4.credentials();
  if (!credentials) return headers;
  return { ...headers, ...(await SteppeSigV4.sign(credentials, method, url, headers, body)) };
}

export const AUTH_ERRORS = ["MissingAuthenticationTokenException", "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException"];

// Asks for an access key (once per tab) when the server wants signed requests.
export function signIn(type) {
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

export async function api(operation, body) {
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

export async function consoleApi(path, options) {
  // The server refuses console POSTs without this header: other sites' pages cannot add it.
  const method = (options && options.method) || "GET";
  const headers = await signed(method, BASE + path,
    { ...(options && options.headers), "X-Steppe-Console": "1" }, (options && options.body) || "");
  const response = await fetch(BASE + path, { ...options, headers });
  const value = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, value };
}


// ---------- helpers ----------

export const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
export const link = (path, text) => `<a href="${esc(path)}" data-link>${esc(text)}</a>`;
export const machinePath = (arn) => `state-machines/${encodeURIComponent(arn)}`;
export const executionPath = (arn) => `executions/${encodeURIComponent(arn)}`;
export const mapRunPath = (arn) => `map-runs/${encodeURIComponent(arn)}`;
export const statusBadge = (status, id) => `<span class="status status-${esc(status)}"${id ? ` id="${id}"` : ""}>${esc(status)}</span>`;

// One formatter for every date: toLocaleString makes a new one per call, which a page of
// 100 events felt.
export const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric", hour12: false });
export function date(value) {
  if (value === undefined || value === null || value === "") return "";
  let millis = typeof value === "number" ? value : Date.parse(value);
  if (typeof value === "number" && value < 1e11) millis = value * 1000; // epoch seconds
  const d = new Date(millis);
  return isNaN(d) ? String(value) : DATE_FORMAT.format(d) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

/// "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min", "3 d 04 h".
export function duration(millis) {
  if (!Number.isFinite(millis) || millis < 0) return "";
  if (millis < 1000) return `${Math.round(millis)} ms`;
  const seconds = millis / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const pad = (n) => String(Math.floor(n)).padStart(2, "0");
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${pad(seconds % 60)} s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${pad((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${pad((seconds % 86400) / 3600)} h`;
}

export function millisOf(value) {
  if (value === undefined || value === null || value === "") return NaN;
  if (typeof value === "number") return value < 1e11 ? value * 1000 : value;
  return Date.parse(value);
}

/// "5 s ago", "3 min ago", ... with the exact time as its tooltip.
export function ago(value) {
  const millis = millisOf(value);
  if (!Number.isFinite(millis)) return "";
  const seconds = Math.max(0, (Date.now() - millis) / 1000);
  const text = seconds < 60 ? `${Math.floor(seconds)} s ago` : seconds < 3600 ? `${Math.floor(seconds / 60)} min ago`
    : seconds < 86400 ? `${Math.floor(seconds / 3600)} h ago` : `${Math.floor(seconds / 86400)} d ago`;
  return `<time datetime="${esc(new Date(millis).toISOString())}" title="${esc(date(value))}">${text}</time>`;
}

/// How long an execution (or anything with startDate/stopDate) ran, so far if it runs.
export const ranFor = (item) => duration((item.stopDate ? millisOf(item.stopDate) : Date.now()) - millisOf(item.startDate));


// ---------- view state in the URL ----------

export const params = () => new URLSearchParams(location.search);
/// Merges `changes` into the query (empty values removed) without a new history entry.
export function setParams(changes) {
  const query = params();
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined || value === null || value === "") query.delete(key); else query.set(key, value);
  }
  const text = query.toString();
  history.replaceState(history.state, "", location.pathname + (text ? `?${text}` : ""));
}

/// A page of a server-paged list found again after a reload or Back: `page=` (1-based) in the
/// URL, and the nextToken of each page seen so far in `history.state` under `key`, kept only
/// while the list's filter (`filter`, a string) is the same. A shared link with `page=N` and
/// no saved tokens walks the pages before it (`walk`), at most PAGES_WALKED_MAX of them.
export const PAGES_WALKED_MAX = 40;
export class ListCursor {
  constructor(key, filter) {
    this.key = key;
    this.filter = filter;
    this.page = Math.min(PAGES_WALKED_MAX, Math.max(1, parseInt(params().get("page"), 10) || 1) - 1);
    const saved = history.state && history.state[key];
    this.tokens = saved && saved.filter === filter && Array.isArray(saved.tokens) && saved.tokens.length > 0
      ? saved.tokens.slice(0, PAGES_WALKED_MAX + 1) : [null];
  }

  /// Back to the first page of a new filter.
  reset(filter) {
    this.filter = filter;
    this.tokens = [null];
    this.page = 0;
  }

  /// The token of this page, reading the pages before it when it is not known yet with
  /// `fetchPage(token)` (resolving to the page's nextToken); a list shorter than the page
  /// asked for ends on its last page.
  async token(fetchPage) {
    while (this.tokens.length <= this.page) {
      const next = await fetchPage(this.tokens[this.tokens.length - 1] || undefined);
      if (!next) { this.page = this.tokens.length - 1; break; }
      this.tokens.push(next);
    }
    return this.tokens[this.page] || undefined;
  }

  /// Records the shown page's nextToken and puts the page in the URL and the tokens in
  /// history.state.
  shown(nextToken) {
    this.tokens.length = this.page + 1;
    if (nextToken) this.tokens.push(nextToken);
    setParams({ page: this.page > 0 ? String(this.page + 1) : "" });
    history.replaceState({ ...(history.state || {}), [this.key]: { filter: this.filter, tokens: this.tokens } }, "", location.href);
  }
}


// ---------- JSON trees ----------

// The text each copy button copies, by id; emptied on navigation.
export const copyTexts = new Map();
export let copyIds = 0;
export function copyButton(text, label) {
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
export function decodedJson(text) {
  if (typeof text !== "string") return undefined;
  const trimmed = text.trim();
  if (!(trimmed.startsWith("{") || trimmed.startsWith("["))) return undefined;
  try { return JSON.parse(trimmed); } catch (_) { return undefined; }
}

/// A value as a collapsible tree: objects and arrays fold (open two levels deep), and a
/// string holding JSON is decoded into a tree of its own, marked "JSON text".
export function treeHtml(value) {
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
export function jsonBlock(text, label, id) {
  if (text === undefined || text === null) return "";
  let value;
  try { value = typeof text === "string" ? JSON.parse(text) : text; } catch (_) {
    return `<div class="json-block"${id ? ` id="${id}"` : ""}>${copyButton(text, label)}<pre>${esc(text)}</pre></div>`;
  }
  const raw = typeof text === "string" ? text : JSON.stringify(text);
  return `<div class="json-block"${id ? ` id="${id}"` : ""}>${copyButton(JSON.stringify(value, null, 2) ?? raw, label)}${treeHtml(value)}</div>`;
}

/// A cause: JSON pretty-printed as a tree, other text as it is.
export function causeHtml(cause, id) {
  const decoded = decodedJson(cause);
  if (decoded === undefined) return `<pre${id ? ` id="${id}"` : ""}>${esc(cause)}</pre>`;
  return jsonBlock(cause, "cause", id);
}

export function pretty(text) {
  if (text === undefined || text === null) return "";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return String(text); }
}

export function toast(message, isError) {
  const element = document.getElementById("toast");
  element.textContent = message;
  element.className = "toast" + (isError ? " error" : "");
  element.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { element.hidden = true; }, isError ? 8000 : 3500);
}

export function showError(error) {
  main.innerHTML = `<div class="error-box"><strong>${esc(error.type || "Error")}</strong>: ${esc(error.message)}</div>`;
}

export function setLive(on) { document.getElementById("live").hidden = !on; }
