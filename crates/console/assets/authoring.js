// steppe console: the code editor, the page that creates and edits state machines with live diagnostics, and
// versions and aliases.
import { ago, api, esc, link, machinePath, main, navigate, pageToken, pretty, toast } from "./core.js";
import { graphOf, showDiagram } from "./diagram.js";
import { dialog, startDialog } from "./dialogs.js";

// ---------- authoring ----------

/// A code editor: a textarea beside a line-number gutter. No editor library is vendored
/// (the page fetches nothing from the internet and has no build step).
export function codeEditorHtml(id, text, name, rows) {
  return `<div class="code-editor"><pre class="gutter" aria-hidden="true"></pre><textarea id="${id}" name="${esc(name)}" rows="${rows}" spellcheck="false" wrap="off" autocapitalize="off" autocomplete="off">${esc(text)}</textarea></div>`;
}

/// Keeps the gutter's numbers in step with the text and its scrolling; Tab indents.
/// Leaves `textarea.markLines(lines)` (1-based line numbers drawn as problems in the
/// gutter) and `textarea.showLine(n)` (selects line n and scrolls to it).
export function enableCodeEditor(textarea) {
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

export function setEditorText(textarea, text) {
  textarea.value = text;
  textarea.dispatchEvent(new Event("input"));
}

/// The line and column of a JSON syntax error, when the browser says where: {line, column}.
export function jsonErrorPlace(text, error) {
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
export function jsonLocationLines(text) {
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
export function locationLine(lines, location) {
  if (typeof location !== "string" || !location.startsWith("/")) return null;
  let path = location.replace(/\/$/, "");
  for (;;) {
    if (lines.has(path)) return lines.get(path);
    if (path === "") return null;
    path = path.slice(0, path.lastIndexOf("/"));
  }
}

export const NEW_DEFINITION = JSON.stringify({
  Comment: "A new state machine",
  StartAt: "Hello",
  States: { Hello: { Type: "Pass", Result: { hello: "world" }, End: true } },
}, null, 2);

/// Create (arn null) or edit a state machine: the definition in a code editor, checked by
/// ValidateStateMachineDefinition and drawn as you type; saving calls CreateStateMachine
/// or UpdateStateMachine, optionally publishing a version.
export async function editorPage(arn, token) {
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
export function definitionChecker(textarea, diagram, token) {
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

export function deleteMachineDialog(machine) {
  dialog(`<h2 style="margin-top:0">Delete ${esc(machine.name)}?</h2>
    <p id="dialog-question">DeleteStateMachine: its running executions are stopped, and its versions and aliases are deleted with it. This cannot be undone.</p>`, async () => {
    await api("DeleteStateMachine", { stateMachineArn: machine.stateMachineArn });
    toast(`Deleted ${machine.name}`);
    navigate("");
  }, "Delete state machine", "danger");
}

/// A machine's versions (publish, start, delete) and aliases (create, change routing,
/// start, delete).
export async function versionsAndAliases(machine, token) {
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
export function aliasDialog(machine, versions, alias, after) {
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
