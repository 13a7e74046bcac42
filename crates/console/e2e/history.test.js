// Unit tests of the console's history analysis (assets/history.js) on real engine histories
// (fixtures/*.json: `steppe run --json --history` output plus `steppe graph --format json`)
// and on hand-written Task histories. Run: node --test history.test.js
"use strict";

const test = require("node:test");
const assert = require("node:assert");
const History = require("../assets/history.js");

const fixture = (name) => require(`./fixtures/${name}.json`);

function outcome(name, scope) {
  const { events, graph } = fixture(name);
  const analysis = History.analyse(events, graph);
  const summary = History.summarise(analysis, scope || "");
  return { analysis, summary, status: (state) => (summary.get(state) || { status: "notreached" }).status };
}

test("a caught Map failure: the Fail state is red, the Map is caught, the rest green", () => {
  const { status, analysis, summary } = outcome("order-caught");
  assert.strictEqual(status("OutOfStock"), "failed");
  assert.strictEqual(status("ReserveStock"), "caught");
  assert.strictEqual(status("ManualReview"), "succeeded");
  assert.strictEqual(status("Confirm"), "notreached");
  assert.deepStrictEqual(summary.get("Reserved").counts, { succeeded: 1 });
  const failed = analysis.runs.find((run) => run.name === "OutOfStock");
  assert.strictEqual(failed.scopeKey, "ReserveStock[1]");
  assert.strictEqual(failed.error, "OutOfStock", "the Fail state's Error comes from the definition");
  const map = analysis.runs.find((run) => run.name === "ReserveStock");
  assert.strictEqual(map.error, "OutOfStock", "the Map shows the error that failed it");
  const iterations = analysis.iterations.get("|ReserveStock").map((item) => item.status);
  assert.deepStrictEqual(iterations, ["succeeded", "failed"]);
});

test("one iteration at a time: the filter shows only that iteration's states", () => {
  const first = outcome("order-caught", "ReserveStock[0]");
  assert.strictEqual(first.status("Reserved"), "succeeded");
  assert.strictEqual(first.status("OutOfStock"), "notreached");
  assert.strictEqual(first.status("ManualReview"), "succeeded", "states outside the Map are unaffected");
  const second = outcome("order-caught", "ReserveStock[1]");
  assert.strictEqual(second.status("OutOfStock"), "failed");
  assert.strictEqual(second.status("Reserved"), "notreached");
});

test("an uncaught Fail state takes the execution's error", () => {
  const { status, analysis } = outcome("order-rejected");
  assert.strictEqual(status("RejectEmptyOrder"), "failed");
  assert.strictEqual(status("ValidateOrder"), "succeeded");
  assert.strictEqual(status("ReserveStock"), "notreached");
  const run = analysis.runs.find((r) => r.name === "RejectEmptyOrder");
  assert.strictEqual(run.error, "EmptyOrder");
  assert.strictEqual(run.cause, "An order needs at least one item");
  assert.strictEqual(analysis.execution.status, "FAILED");
});

test("a retried then caught Parallel counts its retries; its branch state failed", () => {
  const { status, analysis } = outcome("retries");
  assert.strictEqual(status("CallFlakyService"), "caught");
  assert.strictEqual(status("Attempt"), "failed");
  assert.strictEqual(status("UseCachedValue"), "succeeded");
  const parallel = analysis.runs.find((r) => r.name === "CallFlakyService");
  assert.strictEqual(parallel.retries, 3);
  // No ParallelStateFailed between attempts (none is recorded): each attempt ends with its
  // branch's failure and carries its error, and the back-offs (1, 2, 4 s) are the gaps.
  assert.strictEqual(parallel.attempts.length, 4);
  assert.ok(parallel.attempts.every((a) => a.end !== undefined && a.error === "ServiceUnavailable"), JSON.stringify(parallel.attempts));
  const backoffs = parallel.attempts.slice(1).map((a, i) => a.start - parallel.attempts[i].end);
  assert.deepStrictEqual(backoffs, [1000, 2000, 4000]);
  const attempts = analysis.runs.filter((r) => r.name === "Attempt");
  assert.strictEqual(attempts.length, 4);
  assert.ok(attempts.every((r) => r.scopeKey === "CallFlakyService{0}"), "branch events sit in branch 0");
});

test("nested Maps give each event its outer and inner iteration", () => {
  const { analysis, summary } = outcome("nested-map");
  const cells = analysis.runs.filter((r) => r.name === "Cell").map((r) => r.scopeKey);
  assert.deepStrictEqual(cells, ["Outer[0]/Inner[0]", "Outer[0]/Inner[1]", "Outer[1]/Inner[0]"]);
  assert.deepStrictEqual(summary.get("Cell").counts, { succeeded: 3 });
  const inner = analysis.runs.filter((r) => r.name === "Inner").map((r) => `${r.scopeKey}:${r.status}`);
  assert.deepStrictEqual(inner, ["Outer[0]:succeeded", "Outer[1]:succeeded"]);
  const only = History.summarise(analysis, "Outer[1]");
  assert.deepStrictEqual(only.get("Cell").counts, { succeeded: 1 });
});

const model = {
  nodes: [
    { name: "Start", type: "Start", block: 0 },
    { name: "Call", type: "Task", block: 0 },
    { name: "Fallback", type: "Pass", block: 0 },
    { name: "End", type: "End", block: 0 },
  ],
  blocks: [{ kind: "machine", owner: null, nodes: [0, 1, 2, 3] }],
  edges: [],
};
const ev = (id, previousEventId, type, details) => ({ id, previousEventId, type, timestamp: 1700000000 + id, ...details });

test("a Task that fails, is retried and succeeds is 'retried'", () => {
  const events = [
    ev(1, 0, "ExecutionStarted", {}),
    ev(2, 0, "TaskStateEntered", { stateEnteredEventDetails: { name: "Call", input: "{}" } }),
    ev(3, 2, "TaskScheduled", { taskScheduledEventDetails: { resource: "x" } }),
    ev(4, 3, "TaskStarted", {}),
    ev(5, 4, "TaskFailed", { taskFailedEventDetails: { error: "Boom", cause: "first try" } }),
    ev(6, 5, "TaskScheduled", { taskScheduledEventDetails: { resource: "x" } }),
    ev(7, 6, "TaskStarted", {}),
    ev(8, 7, "TaskSucceeded", { taskSucceededEventDetails: { output: "{}" } }),
    ev(9, 8, "TaskStateExited", { stateExitedEventDetails: { name: "Call", output: "{}" } }),
  ];
  const analysis = History.analyse(events, model);
  const run = analysis.runs[0];
  assert.strictEqual(run.status, "retried");
  assert.strictEqual(run.retries, 1);
  assert.strictEqual(analysis.contexts.get(5).owner, "Call", "task events belong to their state");
});

test("a Task that fails and is caught is 'caught', with its error; a running one is 'running'", () => {
  const events = [
    ev(1, 0, "ExecutionStarted", {}),
    ev(2, 0, "TaskStateEntered", { stateEnteredEventDetails: { name: "Call", input: "{}" } }),
    ev(3, 2, "TaskScheduled", {}),
    ev(4, 3, "TaskFailed", { taskFailedEventDetails: { error: "Boom", cause: "broken" } }),
    ev(5, 4, "TaskStateExited", { stateExitedEventDetails: { name: "Call", output: "{}" } }),
    ev(6, 5, "PassStateEntered", { stateEnteredEventDetails: { name: "Fallback", input: "{}" } }),
  ];
  const analysis = History.analyse(events, model);
  assert.strictEqual(analysis.runs[0].status, "caught");
  assert.strictEqual(analysis.runs[0].error, "Boom");
  assert.strictEqual(analysis.runs[0].cause, "broken");
  assert.strictEqual(analysis.runs[1].status, "running");
  // Events may arrive in any order (the live poll appends pages): the result is the same.
  const shuffled = History.analyse(events.slice().reverse(), model);
  assert.deepStrictEqual(shuffled.runs.map((r) => r.status), ["caught", "running"]);
});

test("the edges taken are the ones the execution followed", () => {
  const { events, graph } = fixture("order-caught");
  const analysis = History.analyse(events, graph);
  const taken = [...History.takenEdges(analysis, "")].sort();
  assert.deepStrictEqual(taken, [
    "CheckQuantity>OutOfStock", "CheckQuantity>Reserved", "ManualReview>end:0", "OutOfStock>end:1",
    "ReserveStock>ManualReview", "Reserved>end:1", "ValidateOrder>ReserveStock",
    "start:0>ValidateOrder", "start:1>CheckQuantity",
  ]);
  const first = [...History.takenEdges(analysis, "ReserveStock[0]")];
  assert.ok(first.includes("CheckQuantity>Reserved") && !first.includes("CheckQuantity>OutOfStock"));
});

test("the problem first: the earliest failure with an error, else the last caught state", () => {
  assert.strictEqual(outcome("order-rejected").summary && History.problemRun(outcome("order-rejected").analysis).name, "RejectEmptyOrder");
  const caught = History.problemRun(outcome("order-caught").analysis);
  assert.strictEqual(caught.name, "OutOfStock", "the Fail state inside the Map, not the Map that failed after it");
  assert.strictEqual(caught.scopeKey, "ReserveStock[1]");
  assert.strictEqual(History.problemRun(outcome("retries").analysis).name, "Attempt");
  assert.strictEqual(History.problemRun(outcome("nested-map").analysis), null, "nothing failed");
});

test("a failed Task that a Retrier will start again is retrying: attempt n of m, next in s", () => {
  const definition = JSON.stringify({ StartAt: "Outer", States: { Outer: { Type: "Parallel", End: true, Branches: [{ StartAt: "Call", States: {
    Call: { Type: "Task", Resource: "x", End: true, Retry: [
      { ErrorEquals: ["Other"], MaxAttempts: 1 },
      { ErrorEquals: ["States.ALL"], IntervalSeconds: 10, BackoffRate: 3, MaxAttempts: 2 },
    ] } } }] } } });
  const retriers = History.stateDefinition(definition, "Call").Retry;
  assert.strictEqual(retriers.length, 2, "found inside a Parallel's branch");
  const failedAt = 1700000000000;
  const run = { status: "failed", failures: [{ error: "Boom", at: failedAt }] };
  assert.deepStrictEqual(History.retrying(run, retriers, failedAt + 4000), { attempt: 2, of: 3, nextInSeconds: 6 });
  run.failures.push({ error: "Boom", at: failedAt + 20000 });
  assert.deepStrictEqual(History.retrying(run, retriers, failedAt + 20000), { attempt: 3, of: 3, nextInSeconds: 30 }, "the back-off grows by BackoffRate");
  run.failures.push({ error: "Boom", at: failedAt + 60000 });
  assert.strictEqual(History.retrying(run, retriers, failedAt + 60000), null, "no attempts left: failed");
  assert.strictEqual(History.retrying({ status: "failed", failures: [{ error: "Boom", at: failedAt }] }, undefined, failedAt), null, "no Retry: failed");
  const timestamps = History.analyse([
    { id: 1, previousEventId: 0, type: "ExecutionStarted", timestamp: 1700000000 },
    { id: 2, previousEventId: 0, type: "TaskStateEntered", timestamp: 1700000000, stateEnteredEventDetails: { name: "Call", input: "{}" } },
    { id: 3, previousEventId: 2, type: "TaskScheduled", timestamp: 1700000000 },
    { id: 4, previousEventId: 3, type: "TaskFailed", timestamp: 1700000001.5, taskFailedEventDetails: { error: "Boom" } },
  ], model);
  assert.deepStrictEqual(timestamps.runs[0].failures, [{ error: "Boom", at: 1700000001500 }], "failures are kept with their time");
});
