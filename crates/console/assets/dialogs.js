// steppe console: modal dialogs: start, stop and redrive executions.
import { ApiError, api, consoleApi, esc, executionPath, machinePath, navigate, pretty, toast } from "./core.js";
import { codeEditorHtml, enableCodeEditor, setEditorText } from "./authoring.js";

// ---------- dialogs ----------

export function dialog(html, onSubmit, okLabel, okClass) {
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

export function jsonField(form, name) {
  const text = form.elements[name].value;
  try { JSON.parse(text); } catch (error) { throw new ApiError("InvalidJson", `${name} is not valid JSON: ${error.message}`); }
  return text;
}

export function watchJson(form, name) {
  const field = form.elements[name];
  const note = form.querySelector(`[data-json-note="${name}"]`);
  const check = () => {
    try { JSON.parse(field.value); note.textContent = "Valid JSON"; note.className = "muted"; } catch (error) { note.textContent = error.message; note.className = "diagnostic"; }
  };
  field.addEventListener("input", check);
  check();
}

export function startDialog(machineArn, input) {
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

export function stopDialog(arn, after) {
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

export function redriveDialog(arn, after) {
  dialog(`<h2 style="margin-top:0">Redrive this execution?</h2>
    <p id="dialog-question">It starts again from the states that did not succeed, with the same input; the states that succeeded are not run again.</p>`, async () => {
    await api("RedriveExecution", { executionArn: arn });
    toast("Execution redriven");
    after();
  }, "Redrive");
}
