// Runs the console's own signer (assets/sigv4.js) in Node against a steppe server started
// with --credentials, as the console does in a browser: node sigv4-check.mjs BASE_URL KEY SECRET.
// Prints one JSON line per request: {"name", "status", "body"}.
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { fileURLToPath } from "node:url";

const [base, accessKeyId, secretAccessKey] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const store = new Map();
const origin = new URL(base);
const context = {
  window: {},
  location: { href: new URL("/console/", base).href, host: origin.host },
  sessionStorage: { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) },
  crypto: globalThis.crypto, TextEncoder, URL, URLSearchParams, encodeURIComponent, Uint8Array, Array, Object, String, JSON, Date, Boolean,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(path.join(here, "..", "assets", "sigv4.js"), "utf8"), context);
const signer = context.window.SteppeSigV4;
const credentials = { accessKeyId, secretAccessKey, region: "us-east-1" };

async function send(name, method, target, headers, body) {
  const signed = { ...headers, ...(await signer.sign(credentials, method, target, headers, body || "")) };
  const response = await fetch(new URL(target, base), { method, headers: signed, body: method === "GET" ? undefined : body });
  console.log(JSON.stringify({ name, status: response.status, body: await response.text() }));
}

await send("api", "POST", "/", { "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0" }, "{}");
const arn = "arn:aws:states:us-east-1:123456789012:execution:m:e (1)";
await send("tasks", "GET", `/console/api/tasks?executionArn=${encodeURIComponent(arn)}`, { "X-Steppe-Console": "1" });
await send("graph", "POST", "/console/api/graph", { "X-Steppe-Console": "1", "Content-Type": "application/json" },
  JSON.stringify({ definition: '{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}' }));
