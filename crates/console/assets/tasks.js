// steppe console: pending activity tasks and task tokens, approved or rejected by hand.
import { api, consoleApi, date, esc, executionPath, link, main, pageToken, pretty, route, toast } from "./core.js";
import { dialog, jsonField, watchJson } from "./dialogs.js";

// ---------- pending tasks (human approval) ----------

export async function tasksPage(token) {
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

export function approveDialog(task, token) {
  dialog(`<h2 style="margin-top:0">Approve ${esc(task.stateName)}</h2>
    <label for="task-output">Output (JSON)</label><textarea id="task-output" name="output" rows="8">{\n  "approved": true\n}</textarea><div data-json-note="output"></div>`, async (form) => {
    await api("SendTaskSuccess", { taskToken: task.taskToken, output: jsonField(form, "output") });
    toast(`Approved ${task.stateName}`);
    if (token === pageToken) route();
    else if (token === null) document.getElementById("execution-tasks").innerHTML = "";
  });
  watchJson(document.getElementById("dialog-form"), "output");
}

export function rejectDialog(task, token) {
  dialog(`<h2 style="margin-top:0">Reject ${esc(task.stateName)}</h2>
    <label for="task-error">Error</label><input type="text" id="task-error" name="error" value="Rejected" style="width:100%">
    <label for="task-cause">Cause</label><textarea id="task-cause" name="cause" rows="3">Rejected in the steppe console</textarea>`, async (form) => {
    await api("SendTaskFailure", { taskToken: task.taskToken, error: form.elements.error.value, cause: form.elements.cause.value });
    toast(`Rejected ${task.stateName}`);
    if (token === pageToken) route();
    else if (token === null) document.getElementById("execution-tasks").innerHTML = "";
  });
}
