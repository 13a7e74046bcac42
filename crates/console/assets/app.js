// steppe console: a single-page app over the same-origin AWS JSON 1.0 API.
// Pages: state machines, one state machine (diagram, definition, diagnostics, executions),
// one execution (coloured diagram, state details, Map iterations, history), a distributed
// Map's Map Run (counts, settings, child executions), pending tasks, and the editor that
// creates and changes state machines (with their versions and aliases on the machine's page).
// No framework and no build step: this module routes, and each page is an ES module beside it
// (core.js, diagram.js, machines.js, execution.js, authoring.js, map-runs.js, dialogs.js,
// tasks.js); history.js (the pure history analysis) and sigv4.js are classic scripts that
// index.html loads first.
import { BASE, copyTexts, link, navigate, nextPage, pageToken, setLive, setRouter, showError } from "./core.js";
import { allExecutionsPage, machinePage, machinesPage } from "./machines.js";
import { executionPage } from "./execution.js";
import { editorPage } from "./authoring.js";
import { mapRunPage } from "./map-runs.js";
import { tasksPage } from "./tasks.js";

// ---------- routing ----------

document.addEventListener("click", (event) => {
  const anchor = event.target.closest("a[data-link]");
  if (!anchor || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(anchor.getAttribute("href"));
});
window.addEventListener("popstate", routeNow);

function routeNow() {
  nextPage();
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

setRouter(routeNow);
routeNow();
