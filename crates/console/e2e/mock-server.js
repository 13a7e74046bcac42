// A stand-in for `steppe server`, for exercising the console before the real server exists
// (or without it): serves the console's assets, answers the AWS JSON 1.0 operations the
// console uses from memory, and produces real histories by running `steppe run --json
// --history --fast-clock`. Events are revealed a few at a time so the page sees RUNNING
// executions update live. Machines whose first state is an activity Task are scripted:
// they wait in ActivityScheduled until SendTaskSuccess/SendTaskFailure.
//
// Usage: node mock-server.js --port PORT --steppe /path/to/steppe
"use strict";

const http = require("http");
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const os = require("os");

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => {
  if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
  return pairs;
}, []));
const PORT = Number(args.port || 0);
const STEPPE = args.steppe;
const ASSETS = path.join(__dirname, "..", "assets");
const REGION = "us-east-1", ACCOUNT = "123456789012";
const REVEAL_PER_TICK = 4, TICK_MS = 250;

const machines = new Map(); // arn -> {name, definition, type, creationDate, arn}
const executions = new Map(); // arn -> execution record
const activities = new Map(); // arn -> {name, creationDate}
const tasks = new Map(); // token -> {executionArn, ...}
let counter = 0;

const now = () => Date.now() / 1000;
const fail = (status, type, message) => ({ status, body: { __type: `com.amazonaws.swf.service.v2.model#${type}`, message } });
const contentTypes = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml" };

function runSteppe(argv, input) {
  try {
    return { code: 0, stdout: execFileSync(STEPPE, argv, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }) };
  } catch (error) {
    return { code: error.status, stdout: String(error.stdout || ""), stderr: String(error.stderr || "") };
  }
}

function tempFile(text) {
  const file = path.join(os.tmpdir(), `steppe-mock-${process.pid}-${++counter}.json`);
  fs.writeFileSync(file, text);
  return file;
}

function diagnosticsOf(definition) {
  const file = tempFile(definition);
  const result = runSteppe(["validate", file]);
  fs.unlinkSync(file);
  if (result.code === 0) return [];
  return result.stdout.split("\n").filter(Boolean).map((line) => {
    const match = /^([A-Z_]+): (.*) at (.*)$/.exec(line) || [null, "SCHEMA_VALIDATION_FAILED", line, null];
    return { severity: "ERROR", code: match[1], message: match[2], location: match[3] === "null" ? undefined : match[3] };
  });
}

function firstActivityTask(definition) {
  const parsed = JSON.parse(definition);
  const first = parsed.States[parsed.StartAt];
  if (first && first.Type === "Task" && String(first.Resource).includes(":activity:")) return { name: parsed.StartAt, state: first, parsed };
  return null;
}

function event(execution, type, previousEventId, detailsKey, details) {
  const e = { timestamp: now(), type, id: execution.allEvents.length + 1, previousEventId };
  if (detailsKey) e[detailsKey] = details;
  execution.allEvents.push(e);
  return e.id;
}

function startExecution(machine, name, input) {
  const arn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${machine.name}:${name}`;
  const execution = {
    executionArn: arn, stateMachineArn: machine.arn, name, input, startDate: now(),
    allEvents: [], revealed: 0, final: null, status: "RUNNING", redriveCount: 0,
  };
  const approval = firstActivityTask(machine.definition);
  const parsed = JSON.parse(machine.definition);
  const first = parsed.States[parsed.StartAt];
  if (first.Type === "Wait" && first.Seconds >= 60) {
    // A long Wait holds the execution RUNNING (the CLI's fast clock would end it at once).
    event(execution, "ExecutionStarted", 0, "executionStartedEventDetails", { input, inputDetails: { truncated: false } });
    event(execution, "WaitStateEntered", 0, "stateEnteredEventDetails", { name: parsed.StartAt, input, inputDetails: { truncated: false } });
  } else if (approval) {
    event(execution, "ExecutionStarted", 0, "executionStartedEventDetails", { input, inputDetails: { truncated: false }, roleArn: "arn:aws:iam::123456789012:role/mock" });
    const entered = event(execution, "TaskStateEntered", 0, "stateEnteredEventDetails", { name: approval.name, input, inputDetails: { truncated: false } });
    const scheduled = event(execution, "ActivityScheduled", entered, "activityScheduledEventDetails", { resource: approval.state.Resource, input, inputDetails: { truncated: false } });
    const token = `mock-token-${++counter}`;
    tasks.set(token, { taskToken: token, executionArn: arn, stateName: approval.name, resource: approval.state.Resource, activityArn: approval.state.Resource, input, scheduledDate: now(), lastId: scheduled, approval });
  } else {
    const file = tempFile(machine.definition);
    const result = runSteppe(["run", file, "--input", input, "--json", "--history", "--fast-clock", "--type", machine.type || "STANDARD"]);
    fs.unlinkSync(file);
    const described = JSON.parse(result.stdout);
    execution.allEvents = (described.events || []).map((e) => ({ ...e, timestamp: e.timestamp / 1000 }));
    execution.final = { status: described.status, output: described.output, error: described.error, cause: described.cause };
  }
  executions.set(arn, execution);
  return execution;
}

// Reveal events over time, so that the page sees a RUNNING execution progress.
setInterval(() => {
  for (const execution of executions.values()) {
    if (execution.revealed < execution.allEvents.length) {
      execution.revealed = Math.min(execution.allEvents.length, execution.revealed + REVEAL_PER_TICK);
    } else if (execution.final && execution.status === "RUNNING") {
      Object.assign(execution, execution.final);
      execution.stopDate = now();
    }
  }
}, TICK_MS).unref();

function describe(execution) {
  const result = {
    executionArn: execution.executionArn, stateMachineArn: execution.stateMachineArn, name: execution.name,
    status: execution.status, startDate: execution.startDate, input: execution.input, inputDetails: { included: true },
    redriveCount: execution.redriveCount,
  };
  if (execution.stopDate) result.stopDate = execution.stopDate;
  if (execution.status === "SUCCEEDED") { result.output = execution.output; result.outputDetails = { included: true }; }
  if (execution.error !== undefined && execution.status !== "SUCCEEDED") result.error = execution.error;
  if (execution.cause !== undefined && execution.status !== "SUCCEEDED") result.cause = execution.cause;
  return result;
}

function finishTask(token, success, request) {
  const task = tasks.get(token);
  if (!task) return fail(400, "TaskDoesNotExist", "Task Token does not exist");
  tasks.delete(token);
  const execution = executions.get(task.executionArn);
  const { approval } = task;
  const started = event(execution, "ActivityStarted", task.lastId, "activityStartedEventDetails", { workerName: "steppe-console" });
  if (success) {
    const done = event(execution, "ActivitySucceeded", started, "activitySucceededEventDetails", { output: request.output, outputDetails: { truncated: false } });
    let last = event(execution, "TaskStateExited", done, "stateExitedEventDetails", { name: approval.name, output: request.output, outputDetails: { truncated: false } });
    let next = approval.state.Next;
    while (next) {
      const state = approval.parsed.States[next];
      const entered = event(execution, `${state.Type}StateEntered`, last, "stateEnteredEventDetails", { name: next, input: request.output, inputDetails: { truncated: false } });
      last = event(execution, `${state.Type}StateExited`, entered, "stateExitedEventDetails", { name: next, output: request.output, outputDetails: { truncated: false } });
      next = state.Next;
    }
    event(execution, "ExecutionSucceeded", last, "executionSucceededEventDetails", { output: request.output, outputDetails: { truncated: false } });
    execution.final = { status: "SUCCEEDED", output: request.output };
  } else {
    const failed = event(execution, "ActivityFailed", started, "activityFailedEventDetails", { error: request.error, cause: request.cause });
    event(execution, "ExecutionFailed", failed, "executionFailedEventDetails", { error: request.error, cause: request.cause });
    execution.final = { status: "FAILED", error: request.error, cause: request.cause };
  }
  return { status: 200, body: {} };
}

/// A synthetic execution of a Map with `n` iterations (for the responsiveness check).
function bigMap(machine, n) {
  const execution = startExecution(machine, `map-${n}`, "{}");
  execution.allEvents = [];
  execution.final = null;
  event(execution, "ExecutionStarted", 0, "executionStartedEventDetails", { input: "{}", inputDetails: { truncated: false } });
  const entered = event(execution, "MapStateEntered", 0, "stateEnteredEventDetails", { name: "Each", input: "{}", inputDetails: { truncated: false } });
  let handoff = event(execution, "MapStateStarted", entered, "mapStateStartedEventDetails", { length: n });
  let tail = handoff;
  for (let i = 0; i < n; i++) {
    const it = event(execution, "MapIterationStarted", handoff, "mapIterationStartedEventDetails", { name: "Each", index: i });
    const e = event(execution, "PassStateEntered", it, "stateEnteredEventDetails", { name: "Work", input: `{"i":${i}}`, inputDetails: { truncated: false } });
    const x = event(execution, "PassStateExited", e, "stateExitedEventDetails", { name: "Work", output: `{"i":${i}}`, outputDetails: { truncated: false } });
    tail = event(execution, "MapIterationSucceeded", x, "mapIterationSucceededEventDetails", { name: "Each", index: i });
    handoff = x;
  }
  event(execution, "MapStateSucceeded", tail, null, null);
  const exited = event(execution, "MapStateExited", tail, "stateExitedEventDetails", { name: "Each", output: "[]", outputDetails: { truncated: false } });
  event(execution, "ExecutionSucceeded", exited, "executionSucceededEventDetails", { output: "[]", outputDetails: { truncated: false } });
  execution.revealed = execution.allEvents.length;
  execution.final = { status: "SUCCEEDED", output: "[]" };
  return execution;
}

function page(items, request, defaultSize) {
  const size = Math.max(1, Math.min(Number(request.maxResults) || defaultSize, 1000));
  const start = request.nextToken ? Number(request.nextToken) : 0;
  const slice = items.slice(start, start + size);
  return { slice, nextToken: start + size < items.length ? String(start + size) : undefined };
}

const operations = {
  CreateStateMachine(request) {
    const diagnostics = diagnosticsOf(request.definition);
    if (diagnostics.length) return fail(400, "InvalidDefinition", `Invalid State Machine Definition: ${diagnostics.map((d) => `'${d.code}: ${d.message}'`).join(", ")}`);
    const arn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${request.name}`;
    machines.set(arn, { name: request.name, arn, definition: request.definition, type: request.type || "STANDARD", creationDate: now() });
    return { status: 200, body: { stateMachineArn: arn, creationDate: now() } };
  },
  ListStateMachines() {
    return { status: 200, body: { stateMachines: [...machines.values()].map((m) => ({ stateMachineArn: m.arn, name: m.name, type: m.type, creationDate: m.creationDate })) } };
  },
  DescribeStateMachine(request) {
    const m = machines.get(request.stateMachineArn);
    if (!m) return fail(400, "StateMachineDoesNotExist", `State Machine Does Not Exist: '${request.stateMachineArn}'`);
    return { status: 200, body: { stateMachineArn: m.arn, name: m.name, status: "ACTIVE", definition: m.definition, roleArn: "arn:aws:iam::123456789012:role/mock", type: m.type, creationDate: m.creationDate } };
  },
  DescribeStateMachineForExecution(request) {
    const execution = executions.get(request.executionArn);
    if (!execution) return fail(400, "ExecutionDoesNotExist", "Execution Does Not Exist");
    const m = machines.get(execution.stateMachineArn);
    return { status: 200, body: { stateMachineArn: m.arn, name: m.name, definition: m.definition, roleArn: "arn:aws:iam::123456789012:role/mock", updateDate: m.creationDate } };
  },
  ValidateStateMachineDefinition(request) {
    const diagnostics = diagnosticsOf(request.definition);
    return { status: 200, body: { result: diagnostics.length ? "FAIL" : "OK", diagnostics, truncated: false } };
  },
  StartExecution(request) {
    const machine = machines.get(request.stateMachineArn);
    if (!machine) return fail(400, "StateMachineDoesNotExist", "State Machine Does Not Exist");
    const name = request.name || `exec-${++counter}`;
    const execution = name.startsWith("map-") ? bigMap(machine, Number(name.slice(4))) : startExecution(machine, name, request.input || "{}");
    return { status: 200, body: { executionArn: execution.executionArn, startDate: execution.startDate } };
  },
  ListExecutions(request) {
    const all = [...executions.values()].filter((e) => e.stateMachineArn === request.stateMachineArn && (!request.statusFilter || e.status === request.statusFilter)).reverse();
    const { slice, nextToken } = page(all, request, 100);
    return { status: 200, body: { executions: slice.map((e) => ({ executionArn: e.executionArn, stateMachineArn: e.stateMachineArn, name: e.name, status: e.status, startDate: e.startDate, stopDate: e.stopDate })), nextToken } };
  },
  DescribeExecution(request) {
    const execution = executions.get(request.executionArn);
    if (!execution) return fail(400, "ExecutionDoesNotExist", "Execution Does Not Exist");
    return { status: 200, body: describe(execution) };
  },
  GetExecutionHistory(request) {
    const execution = executions.get(request.executionArn);
    if (!execution) return fail(400, "ExecutionDoesNotExist", "Execution Does Not Exist");
    let visible = execution.allEvents.slice(0, execution.revealed);
    if (request.reverseOrder) visible = visible.slice().reverse();
    const { slice, nextToken } = page(visible, request, 100);
    return { status: 200, body: { events: slice, nextToken } };
  },
  StopExecution(request) {
    const execution = executions.get(request.executionArn);
    if (!execution) return fail(400, "ExecutionDoesNotExist", "Execution Does Not Exist");
    for (const [token, task] of tasks) if (task.executionArn === execution.executionArn) tasks.delete(token);
    execution.allEvents = execution.allEvents.slice(0, execution.revealed);
    event(execution, "ExecutionAborted", execution.allEvents.length, "executionAbortedEventDetails", { error: request.error, cause: request.cause });
    execution.revealed = execution.allEvents.length;
    Object.assign(execution, { status: "ABORTED", final: null, stopDate: now(), error: request.error, cause: request.cause });
    return { status: 200, body: { stopDate: execution.stopDate } };
  },
  RedriveExecution() {
    return fail(400, "ExecutionNotRedrivable", "The mock server does not redrive");
  },
  CreateActivity(request) {
    const arn = `arn:aws:states:${REGION}:${ACCOUNT}:activity:${request.name}`;
    activities.set(arn, { activityArn: arn, name: request.name, creationDate: now() });
    return { status: 200, body: { activityArn: arn, creationDate: now() } };
  },
  ListActivities() {
    return { status: 200, body: { activities: [...activities.values()] } };
  },
  SendTaskSuccess(request) { return finishTask(request.taskToken, true, request); },
  SendTaskFailure(request) { return finishTask(request.taskToken, false, request); },
};

function send(response, status, type, body) {
  response.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
  response.end(body);
}

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(request.url, "http://localhost");
    try {
      if (request.method === "POST" && url.pathname === "/") {
        const operation = String(request.headers["x-amz-target"] || "").replace("AWSStepFunctions.", "");
        const handler = operations[operation];
        const result = handler ? handler(JSON.parse(body || "{}")) : fail(400, "UnknownOperationException", operation);
        return send(response, result.status, "application/x-amz-json-1.0", JSON.stringify(result.body));
      }
      if (url.pathname === "/console/api/tasks") {
        const list = [...tasks.values()].map(({ approval, lastId, ...task }) => task);
        return send(response, 200, "application/json", JSON.stringify({ tasks: list }));
      }
      if (url.pathname === "/console/api/graph" && request.method === "POST") {
        const { definition } = JSON.parse(body);
        const file = tempFile(definition);
        const svg = runSteppe(["graph", file, "--format", "svg"]);
        const model = runSteppe(["graph", file, "--format", "json"]);
        fs.unlinkSync(file);
        if (svg.code !== 0) return send(response, 400, "application/json", JSON.stringify({ diagnostics: diagnosticsOf(definition) }));
        return send(response, 200, "application/json", JSON.stringify({ svg: svg.stdout, graph: JSON.parse(model.stdout) }));
      }
      if (url.pathname === "/" || url.pathname === "/console") {
        response.writeHead(302, { Location: "/console/" });
        return response.end();
      }
      if (url.pathname.startsWith("/console/")) {
        const relative = url.pathname.slice("/console/".length);
        const file = path.join(ASSETS, relative);
        const known = relative && !relative.includes("..") && fs.existsSync(file) && fs.statSync(file).isFile();
        const chosen = known ? file : path.join(ASSETS, "index.html");
        return send(response, 200, contentTypes[path.extname(chosen)] || "application/octet-stream", fs.readFileSync(chosen));
      }
      send(response, 404, "text/plain", "not found");
    } catch (error) {
      send(response, 500, "application/json", JSON.stringify({ message: String(error && error.stack || error) }));
    }
  });
});

server.listen(PORT, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
