// steppe console: reads an execution's history events (AWS's GetExecutionHistory shapes)
// and works out, for every state, what happened to it: succeeded, failed, caught, retried,
// running or not reached, per Map iteration and Parallel branch.
//
// Events carry no iteration index of their own, so each event's *scope* (which Map
// iteration / Parallel branch it belongs to) and *owner* (which state it is about) are
// derived from its previousEventId, following docs/history-rules.md: the first state of an
// iteration points at its MapIterationStarted, the first state of a branch at
// ParallelStateStarted, every other event at an earlier event of the same scope.
// Pure functions only; no DOM. Loaded by the page, and by Node for the unit tests.
(function (root) {
  "use strict";

  const FAILURE_TYPES = new Set([
    "TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed",
    "ActivityFailed", "ActivityTimedOut", "ActivityScheduleFailed",
    "LambdaFunctionFailed", "LambdaFunctionTimedOut", "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed",
    "MapStateFailed", "ParallelStateFailed", "MapStateAborted", "ParallelStateAborted",
    "EvaluationFailed", "MapRunFailed",
  ]);
  const RESTART_TYPES = new Set([
    "TaskScheduled", "ActivityScheduled", "LambdaFunctionScheduled", "MapStateStarted", "ParallelStateStarted",
  ]);
  const SUCCESS_TYPES = new Set([
    "TaskSucceeded", "ActivitySucceeded", "LambdaFunctionSucceeded", "MapStateSucceeded", "ParallelStateSucceeded",
  ]);
  const ENTERED_BY_OWNER = new Set(["MapStateEntered", "ParallelStateEntered"]);
  const OWNER_PASSES = new Set(["MapStateStarted", "MapRunStarted", "MapRunSucceeded", "MapRunFailed", "MapRunAborted", "MapRunRedriven",
    "ParallelStateStarted", "MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"]);

  /// The one `...EventDetails` object of an event, or {}.
  function details(event) {
    for (const key in event) {
      if (key.endsWith("EventDetails") && event[key] && typeof event[key] === "object") return event[key];
    }
    return {};
  }

  /// Builds lookups from the graph model returned by /console/api/graph.
  function modelIndex(model) {
    const typeOf = new Map();
    const branchOf = new Map();
    const parentOf = new Map();
    const failOf = new Map(); // Fail state -> {error, cause} written in the definition
    const blockOf = new Map(); // state -> index of its block in the model
    const endsBlock = new Set(); // states with an edge to their block's end marker
    if (model && model.nodes) {
      for (const node of model.nodes) {
        if (node.type === "Start" || node.type === "End") continue;
        typeOf.set(node.name, node.type);
        const block = model.blocks[node.block];
        if (block && block.kind === "branch") branchOf.set(node.name, block.index);
        if (block && block.owner) parentOf.set(node.name, block.owner);
        if (node.type === "Fail") failOf.set(node.name, { error: node.error, cause: node.cause });
        blockOf.set(node.name, node.block);
      }
      for (const edge of model.edges || []) {
        if (edge.kind === "end") endsBlock.add(model.nodes[edge.from].name);
      }
    }
    return { typeOf, branchOf, parentOf, failOf, blockOf, endsBlock };
  }

  const ROOT = { key: "", frames: [] };

  function push(scope, frame) {
    const label = frame.index !== undefined ? `${frame.state}[${frame.index}]` : `${frame.state}{${frame.branch}}`;
    return { key: scope.key ? `${scope.key}/${label}` : label, frames: scope.frames.concat([frame]) };
  }

  /// The scope cut just before the frame that belongs to `state` (unchanged if none).
  function cut(scope, state) {
    for (let i = scope.frames.length - 1; i >= 0; i--) {
      if (scope.frames[i].state === state) {
        let result = ROOT;
        for (let j = 0; j < i; j++) result = push(result, scope.frames[j]);
        return result;
      }
    }
    return scope;
  }

  /// The innermost frame of `scope` whose state has type `type`.
  function innermost(scope, type, index) {
    for (let i = scope.frames.length - 1; i >= 0; i--) {
      if (index.typeOf.get(scope.frames[i].state) === type) return scope.frames[i].state;
    }
    return null;
  }

  /// Analyses events (any order; sorted by id here). Returns
  /// { contexts: Map(id -> {scope, owner}), runs: [...], iterations: Map(mapKey -> [...]) }.
  /// A run is one entry into a state in one scope:
  /// {name, scopeKey, status, retries, input, output, error, cause, enteredId, lastId,
  ///  startedAt, endedAt (epoch millis; endedAt undefined while it runs), attempts
  ///  ([{start, end, error}]: a Task's schedulings, a Map's or Parallel's starts),
  ///  variables ({name: JSON text} from assignedVariables), variablesTruncated}.
  /// `startMillis` is the execution's first event's time.
  function analyse(events, model) {
    const index = modelIndex(model);
    const sorted = events.slice().sort((a, b) => a.id - b.id);
    const contexts = new Map();
    const runs = [];
    const current = new Map(); // scopeKey|name -> run
    const iterations = new Map(); // mapScopeKey|mapName -> array of {index, status, scopeKey}
    const lastRunInScope = new Map(); // scopeKey -> run, to notice a caught failure
    let execution = { status: "RUNNING", error: null, cause: null };
    let startMillis = sorted.length ? millisOf(sorted[0].timestamp) : NaN;

    const runOf = (scope, owner) => (owner ? current.get(`${scope.key}|${owner}`) : undefined);
    const fail = (run, d, eventId, cause) => {
      if (!run) return;
      run.status = "failed";
      if (d.error !== undefined) run.error = d.error;
      if (d.cause !== undefined) run.cause = d.cause;
      // A Map or Parallel fails because of a state inside: show that state's error.
      if (run.error === undefined && cause && cause !== run) {
        run.error = cause.error;
        run.cause = cause.cause;
      }
      run.failedAt = eventId;
      run.lastId = eventId;
    };

    for (const event of sorted) {
      const type = event.type || "";
      const d = details(event);
      const previous = contexts.get(event.previousEventId);
      const prevEvent = previous ? previous.event : null;
      let scope = previous ? previous.scope : ROOT;
      let owner = previous ? previous.owner : null;

      if (type.startsWith("Execution")) {
        scope = ROOT;
        owner = null;
      } else if (type.endsWith("StateEntered")) {
        owner = d.name;
        if (prevEvent && prevEvent.type === "ParallelStateStarted" && previous.owner) {
          scope = push(previous.scope, { state: previous.owner, branch: index.branchOf.get(d.name) ?? 0 });
        } else if (!previous) {
          // The first state (previousEventId 0), or an event whose predecessor we lack:
          // the definition tells which container the state is in.
          scope = ROOT;
        }
      } else if (type.endsWith("StateExited")) {
        owner = d.name;
        scope = cut(scope, d.name);
      } else if (type.startsWith("MapIteration")) {
        owner = d.name;
        scope = push(cut(scope, d.name), { state: d.name, index: d.index });
      } else if (type === "EvaluationFailed" && d.state) {
        owner = d.state;
      } else if (type.startsWith("MapState") || type.startsWith("ParallelState")) {
        const family = type.startsWith("Map") ? "Map" : "Parallel";
        if (prevEvent && (ENTERED_BY_OWNER.has(prevEvent.type) || OWNER_PASSES.has(prevEvent.type))
          && index.typeOf.get(previous.owner) === family) {
          owner = previous.owner;
        } else {
          owner = innermost(scope, family, index) || owner;
        }
        scope = cut(scope, owner);
      }
      contexts.set(event.id, { scope, owner, event });

      // What the event means for its state.
      if (type.endsWith("StateEntered")) {
        // A Catch that leads here straight from the failure, with no Exited in between.
        const before = lastRunInScope.get(scope.key);
        if (before && before.status === "failed" && before.failedAt !== undefined && previous
          && previous.owner === before.name && previous.scope.key === scope.key && before.type !== "Fail") {
          before.status = "caught";
        }
        // Which edge led here: from the previous state of the scope, or from the start.
        const from = previous && previous.owner && previous.owner !== owner && previous.scope.key === scope.key
          && !ENTERED_BY_OWNER.has(prevEvent.type) && prevEvent.type !== "MapIterationStarted" && prevEvent.type !== "ParallelStateStarted"
          ? previous.owner : `start:${index.blockOf.get(owner)}`;
        const run = {
          from, name: owner, scopeKey: scope.key, status: "running", retries: 0,
          input: d.input, output: undefined, error: undefined, cause: undefined,
          enteredId: event.id, lastId: event.id, type: type.slice(0, -"StateEntered".length),
          startedAt: millisOf(event.timestamp), endedAt: undefined, attempts: [],
        };
        if (type === "FailStateEntered") {
          const written = index.failOf.get(owner) || {};
          run.status = "failed";
          run.failedAt = event.id;
          run.endedAt = run.startedAt;
          if (written.error != null) run.error = written.error;
          if (written.cause != null) run.cause = written.cause;
        }
        runs.push(run);
        current.set(`${scope.key}|${owner}`, run);
        lastRunInScope.set(scope.key, run);
        continue;
      }
      const run = runOf(scope, owner);
      const at = millisOf(event.timestamp);
      if (run) run.lastId = event.id;
      const attempt = run && run.attempts.length ? run.attempts[run.attempts.length - 1] : null;
      if (type.endsWith("StateExited")) {
        if (run) {
          run.output = d.output;
          run.endedAt = at;
          if (attempt && attempt.end === undefined) attempt.end = at;
          if (d.assignedVariables) {
            run.variables = d.assignedVariables;
            run.variablesTruncated = !!(d.assignedVariablesDetails && d.assignedVariablesDetails.truncated);
          }
          run.status = run.status === "failed" ? "caught" : run.retries > 0 ? "retried" : "succeeded";
        }
      } else if (FAILURE_TYPES.has(type)) {
        fail(run, d, event.id, previous ? runOf(previous.scope, previous.owner) : undefined);
        if (run) run.endedAt = at;
        if (attempt && attempt.end === undefined) { attempt.end = at; attempt.error = d.error ?? run.error; }
        if (run) (run.failures || (run.failures = [])).push({ error: run.error, at: millisOf(event.timestamp) });
      } else if (RESTART_TYPES.has(type)) {
        // The first start of a run is its attempt; every later one is a Retry.
        if (run && run.started) {
          // A Parallel's or Map's failed attempt has no ...Failed event before its retry (AWS
          // records none): it ended with the event before this restart, failed as that did.
          if (attempt && attempt.end === undefined) {
            attempt.end = prevEvent ? millisOf(prevEvent.timestamp) : at;
            const failed = previous ? runOf(previous.scope, previous.owner) : undefined;
            attempt.error = (failed && failed.error) ?? run.error;
          }
          run.retries += 1;
          run.status = "running";
          run.failedAt = undefined;
          run.endedAt = undefined;
        } else if (run) {
          run.started = true;
        }
        if (run) run.attempts.push({ start: at, end: undefined, error: undefined, eventId: event.id });
      } else if (SUCCESS_TYPES.has(type)) {
        if (attempt && attempt.end === undefined) attempt.end = at;
      } else if (type.startsWith("MapIteration")) {
        const key = `${cut(scope, owner).key}|${owner}`;
        let list = iterations.get(key);
        if (!list) iterations.set(key, (list = []));
        const status = type === "MapIterationStarted" ? "running"
          : type === "MapIterationSucceeded" ? "succeeded"
          : type === "MapIterationFailed" ? "failed" : "aborted";
        list[d.index] = { index: d.index, status, scopeKey: scope.key, startedId: (list[d.index] || {}).startedId || event.id };
      } else if (type === "ExecutionFailed" || type === "ExecutionTimedOut" || type === "ExecutionAborted") {
        execution = { status: type === "ExecutionFailed" ? "FAILED" : type === "ExecutionTimedOut" ? "TIMED_OUT" : "ABORTED", error: d.error, cause: d.cause };
        // The state that failed the execution (its latest event is the predecessor).
        if (previous && previous.owner) {
          const culprit = runOf(previous.scope, previous.owner);
          if (culprit && (culprit.status === "running" || culprit.status === "failed")) {
            culprit.status = type === "ExecutionAborted" ? "aborted" : "failed";
            if (d.error !== undefined) culprit.error = d.error;
            if (d.cause !== undefined) culprit.cause = d.cause;
          }
        }
        for (const other of runs) {
          if (other.status === "running") other.status = type === "ExecutionFailed" ? "failed" : "aborted";
          if (other.endedAt === undefined) other.endedAt = millisOf(event.timestamp);
          for (const open of other.attempts) if (open.end === undefined) open.end = millisOf(event.timestamp);
        }
      } else if (type === "ExecutionSucceeded") {
        execution = { status: "SUCCEEDED", error: null, cause: null };
      } else if (type === "ExecutionRedriven") {
        execution = { status: "RUNNING", error: null, cause: null };
      }
    }
    return { contexts, runs, iterations, execution, index, startMillis };
  }

  const PRIORITY = ["retrying", "running", "failed", "aborted", "caught", "retried", "succeeded"];

  /// Per state name: {status, counts} over the runs whose scope matches `scopeFilter`
  /// (a scope key: only runs at or under it count, for states inside it).
  function summarise(analysis, scopeFilter) {
    const byName = new Map();
    for (const run of analysis.runs) {
      if (scopeFilter && !inScope(run, scopeFilter, analysis)) continue;
      let entry = byName.get(run.name);
      if (!entry) byName.set(run.name, (entry = { status: run.status, counts: {}, runs: 0 }));
      entry.runs += 1;
      entry.counts[run.status] = (entry.counts[run.status] || 0) + 1;
      if (PRIORITY.indexOf(run.status) < PRIORITY.indexOf(entry.status)) entry.status = run.status;
    }
    return byName;
  }

  /// Whether a run is shown under a scope filter: runs inside the filtered scope, and runs
  /// of states that are not inside the filtered iteration's Map at all.
  function inScope(run, scopeFilter, analysis) {
    if (run.scopeKey === scopeFilter || run.scopeKey.startsWith(scopeFilter + "/")) return true;
    // The filter is `.../Map[i]`: states outside that Map's item processor are unaffected.
    const mapName = scopeFilter.replace(/\[\d+\]$/, "").split("/").pop();
    const parentOf = analysis.index.parentOf;
    let name = parentOf.get(run.name);
    while (name) {
      if (name === mapName) return false;
      name = parentOf.get(name);
    }
    return true;
  }

  /// The edges an execution took, as "from>to" keys matching the SVG's data-from/data-to.
  function takenEdges(analysis, scopeFilter) {
    const taken = new Set();
    const { blockOf, endsBlock } = analysis.index;
    for (const run of analysis.runs) {
      if (scopeFilter && !inScope(run, scopeFilter, analysis)) continue;
      taken.add(`${run.from}>${run.name}`);
      const ended = run.type === "Fail" || run.status === "succeeded" || run.status === "retried";
      if (ended && endsBlock.has(run.name)) taken.add(`${run.name}>end:${blockOf.get(run.name)}`);
    }
    return taken;
  }

  /// The run to show first: the state whose failure ended the execution or was caught.
  /// The earliest failure with an error wins (a Map fails after the state inside it did);
  /// a caught failure whose Fail state is not in the history falls back to the catcher.
  function problemRun(analysis) {
    let best = null;
    for (const run of analysis.runs) {
      if (run.status !== "failed" || run.error === undefined || run.error === null) continue;
      if (!best || (run.failedAt ?? run.lastId) < (best.failedAt ?? best.lastId)) best = run;
    }
    if (best) return best;
    const caught = analysis.runs.filter((run) => run.status === "caught");
    return caught.length ? caught[caught.length - 1] : null;
  }

  /// The definition of the state called `name` anywhere in a definition (JSON text or
  /// value): state names are unique across a whole state machine.
  function stateDefinition(definition, name) {
    let root = definition;
    if (typeof root === "string") { try { root = JSON.parse(root); } catch (_) { return null; } }
    const walk = (machine) => {
      if (!machine || typeof machine !== "object" || !machine.States) return null;
      if (Object.prototype.hasOwnProperty.call(machine.States, name)) return machine.States[name];
      for (const state of Object.values(machine.States)) {
        for (const inner of [state.Iterator, state.ItemProcessor, ...(state.Branches || [])]) {
          const found = walk(inner);
          if (found) return found;
        }
      }
      return null;
    };
    return walk(root);
  }

  /// Whether a retrier's ErrorEquals names `error`: States.ALL names any error, and
  /// States.TaskFailed any a task raised (so none of the States.* runtime errors).
  function retrierMatches(retrier, error) {
    const names = retrier.ErrorEquals || [];
    if (names.includes(error) || names.includes("States.ALL")) return true;
    return names.includes("States.TaskFailed") && !String(error).startsWith("States.");
  }

  /// Milliseconds since the epoch of an event's timestamp (ISO text, epoch seconds or millis).
  function millisOf(timestamp) {
    if (typeof timestamp === "number") return timestamp < 1e11 ? timestamp * 1000 : timestamp;
    return Date.parse(timestamp);
  }

  /// A failed run of a RUNNING execution that a Retrier will start again: {attempt, of,
  /// nextInSeconds} ("retrying: attempt 2 of 4, next in 3 s"), else null. `retriers` is the
  /// state's Retry; the delay is the upper bound when the Retrier adds jitter.
  function retrying(run, retriers, nowMillis) {
    const failures = run.failures || [];
    if (run.status !== "failed" || failures.length === 0 || !Array.isArray(retriers)) return null;
    const used = retriers.map(() => 0);
    let last = -1;
    for (const failure of failures) {
      last = retriers.findIndex((retrier) => retrierMatches(retrier, failure.error));
      if (last < 0) return null;
      used[last] += 1;
    }
    const retrier = retriers[last];
    const maxAttempts = retrier.MaxAttempts ?? 3;
    if (used[last] > maxAttempts) return null;
    const interval = retrier.IntervalSeconds ?? 1;
    const rate = retrier.BackoffRate ?? 2;
    let delay = interval * Math.pow(rate, used[last] - 1);
    if (retrier.MaxDelaySeconds !== undefined) delay = Math.min(delay, retrier.MaxDelaySeconds);
    const failedAt = failures[failures.length - 1].at;
    const elapsed = Number.isFinite(failedAt) ? (nowMillis - failedAt) / 1000 : 0;
    return {
      attempt: failures.length + 1,
      of: failures.length - used[last] + 1 + maxAttempts,
      nextInSeconds: Math.max(0, Math.ceil(delay - elapsed)),
    };
  }

  const api = { analyse, summarise, takenEdges, details, problemRun, stateDefinition, retrying, inScope, PRIORITY };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.SteppeHistory = api;
})(typeof window !== "undefined" ? window : globalThis);
