#!/usr/bin/env node
// Peer benchmark: run an ASL definition with the `aws-local-stepfunctions` npm package.
//
//   node run.mjs <definition.json> <input-json-text> <seconds> [<states-per-execution>]
//     Runs executions back to back (each awaited) for <seconds> seconds, at least
//     MIN_EXECUTIONS times, and prints one JSON line:
//     {"peer","version","executions","seconds","executions_per_second","state_transitions_per_second"}
//
//   node run.mjs --map-items <N> [<definition.json>]
//     Times one execution of a Map definition (default ../definitions/map-inline.json)
//     over the input {"items":[0,...,N-1]} and prints one JSON line:
//     {"peer","version","map_items","milliseconds"}
//
// Only the JSON line goes to stdout; errors go to stderr with a non-zero exit code.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { StateMachine } from 'aws-local-stepfunctions';

const PEER = 'aws-local-stepfunctions';
const MIN_EXECUTIONS = 1000;
const WARMUP_EXECUTIONS = 200;
const MAP_WARMUP_ITEMS = 100;
const HERE = dirname(fileURLToPath(import.meta.url));

function fail(message, code = 1) {
  process.stderr.write(`run.mjs: ${message}\n`);
  process.exit(code);
}

function peerVersion() {
  // The package's `exports` map hides package.json, so walk up from the resolved entry point.
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(PEER));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === PEER) return pkg.version;
    } catch {
      // no package.json at this level
    }
    const parent = dirname(dir);
    if (parent === dir) fail(`cannot find ${PEER}/package.json`);
    dir = parent;
  }
}

function readDefinition(path) {
  let definition;
  try {
    definition = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    fail(`cannot read definition ${path}: ${e.message}`);
  }
  // aws-local-stepfunctions implements JSONPath only. A JSONata definition would not fail:
  // it would silently skip every Output/Arguments/Assign/Condition, so refuse it instead.
  const jsonata = [];
  (function scan(machine, where) {
    if (machine?.QueryLanguage === 'JSONata') jsonata.push(`${where}QueryLanguage`);
    for (const [name, state] of Object.entries(machine?.States ?? {})) {
      if (state.QueryLanguage === 'JSONata') jsonata.push(`${where}${name}.QueryLanguage`);
      for (const sub of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) {
        if (sub) scan(sub, `${where}${name}.`);
      }
    }
  })(definition, '');
  if (jsonata.length > 0) {
    const version = peerVersion();
    process.stdout.write(
      JSON.stringify({ peer: PEER, version, unsupported: `QueryLanguage JSONata (${jsonata.join(', ')})` }) + '\n',
    );
    fail(`${PEER} ${version} does not implement QueryLanguage JSONata; refusing to time ${path}`, 3);
  }
  return definition;
}

function buildMachine(definition) {
  // noValidate skips asl-validator in the constructor; Map/Parallel children are always built
  // unvalidated by the library. Validation is done once here either way, so it is not timed.
  return new StateMachine(definition, { validationOptions: { noValidate: true } });
}

// One execution with its event log drained, counting every StateEntered event
// (including those forwarded from Map iterations and Parallel branches).
async function countStatesEntered(machine, input) {
  const execution = machine.run(input);
  let entered = 0;
  const drained = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered') entered += 1;
    }
  })();
  const output = await execution.result;
  await drained;
  return { entered, output };
}

async function runThroughput(args) {
  if (args.length < 3 || args.length > 4) {
    fail('usage: node run.mjs <definition.json> <input-json-text> <seconds> [<states-per-execution>]', 2);
  }
  const [definitionPath, inputText, secondsText, statesText] = args;
  const definition = readDefinition(definitionPath);
  let input;
  try {
    input = JSON.parse(inputText);
  } catch (e) {
    fail(`input is not JSON: ${e.message}`, 2);
  }
  const seconds = Number(secondsText);
  if (!(seconds > 0)) fail(`seconds must be a positive number, got ${secondsText}`, 2);

  const machine = buildMachine(definition);
  const version = peerVersion();

  const { entered } = await countStatesEntered(machine, input);
  if (statesText !== undefined) {
    const expected = Number(statesText);
    if (!Number.isInteger(expected) || expected <= 0) fail(`states-per-execution must be a positive integer`, 2);
    if (expected !== entered) {
      fail(`expected ${expected} states per execution, the event log shows ${entered}`);
    }
  }

  // Warm-up (not timed): let V8 optimise the library's hot paths.
  for (let i = 0; i < WARMUP_EXECUTIONS; i++) {
    await machine.run(input).result;
  }

  // The library records events in every run whether or not they are read; the timed loop
  // does not drain them, so it measures execution plus the library's own event bookkeeping.
  const budgetMs = seconds * 1000;
  let executions = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs || executions < MIN_EXECUTIONS) {
    await machine.run(input).result;
    executions += 1;
    elapsed = performance.now() - start;
  }

  const secondsTaken = elapsed / 1000;
  const rate = executions / secondsTaken;
  process.stdout.write(
    JSON.stringify({
      peer: PEER,
      version,
      executions,
      seconds: round(secondsTaken, 3),
      executions_per_second: round(rate, 1),
      state_transitions_per_second: round(rate * entered, 1),
    }) + '\n',
  );
}

async function runMap(args) {
  const n = Number(args[0]);
  if (!Number.isInteger(n) || n < 0) fail(`--map-items needs a non-negative integer, got ${args[0]}`, 2);
  if (args.length > 2) fail('usage: node run.mjs --map-items <N> [<definition.json>]', 2);
  const definitionPath = args[1] ?? join(HERE, '..', 'definitions', 'map-inline.json');
  const machine = buildMachine(readDefinition(definitionPath));
  const version = peerVersion();
  const makeInput = (count) => ({ items: Array.from({ length: count }, (_, i) => i) });

  // Warm-up (not timed) on a small input, and a sanity check of the output shape.
  const warm = await machine.run(makeInput(MAP_WARMUP_ITEMS)).result;
  if (!Array.isArray(warm) || warm.length !== MAP_WARMUP_ITEMS) {
    fail(`expected the Map to output an array of ${MAP_WARMUP_ITEMS} items, got ${JSON.stringify(warm).slice(0, 200)}`);
  }

  const input = makeInput(n); // built outside the timed region
  const start = performance.now();
  const output = await machine.run(input).result;
  const ms = performance.now() - start;
  if (!Array.isArray(output) || output.length !== n) {
    fail(`expected the Map to output an array of ${n} items`);
  }
  process.stdout.write(JSON.stringify({ peer: PEER, version, map_items: n, milliseconds: round(ms, 3) }) + '\n');
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const argv = process.argv.slice(2);
const mapFlag = argv.indexOf('--map-items');
try {
  if (mapFlag !== -1) {
    const rest = argv.filter((_, i) => i !== mapFlag && i !== mapFlag + 1);
    await runMap([argv[mapFlag + 1], ...rest]);
  } else {
    await runThroughput(argv);
  }
} catch (e) {
  fail(`execution failed: ${e?.stack ?? e}`);
}
