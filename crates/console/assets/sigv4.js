// SigV4 request signing in the browser, for a server started with --credentials: the console
// signs its requests with the access key the user signed in with (kept in sessionStorage, so
// it goes when the tab closes), exactly as an AWS SDK would. WebCrypto's HMAC and SHA-256 do
// the cryptography; browsers offer them on https pages and on http://localhost / 127.0.0.1.
(function () {
  "use strict";

  const KEY = "steppe.credentials";
  const encoder = new TextEncoder();

  const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  const sha256 = async (data) => hex(await crypto.subtle.digest("SHA-256", typeof data === "string" ? encoder.encode(data) : data));
  async function hmac(key, data) {
    const imported = await crypto.subtle.importKey("raw", typeof key === "string" ? encoder.encode(key) : key,
      { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return crypto.subtle.sign("HMAC", imported, encoder.encode(data));
  }

  // RFC 3986 encoding, as SigV4's canonical request wants it.
  const encode = (text) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

  function canonicalQuery(search) {
    const pairs = [];
    new URLSearchParams(search).forEach((value, name) => pairs.push([encode(name), encode(value)]));
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    return pairs.map(([name, value]) => `${name}=${value}`).join("&");
  }

  // Non-S3 services encode each path segment twice (the segments arrive encoded once).
  const canonicalPath = (path) => path.split("/").map((segment) => encode(segment)).join("/") || "/";

  function amzDate(now) {
    return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  }

  // Signs a same-origin request: answers the headers to add (X-Amz-Date, Authorization).
  async function sign(credentials, method, url, headers, body) {
    const target = new URL(url, location.href);
    const date = amzDate(new Date());
    const day = date.slice(0, 8);
    const signed = { host: target.host, "x-amz-date": date };
    for (const [name, value] of Object.entries(headers || {})) {
      const lower = name.toLowerCase();
      if (lower === "x-amz-target" || lower === "content-type" || lower === "x-steppe-console") signed[lower] = String(value).trim();
    }
    const names = Object.keys(signed).sort();
    const canonical = [
      method.toUpperCase(),
      canonicalPath(target.pathname),
      canonicalQuery(target.search),
      names.map((name) => `${name}:${signed[name]}\n`).join(""),
      names.join(";"),
      await sha256(body || ""),
    ].join("\n");
    const scope = `${day}/${credentials.region}/states/aws4_request`;
    const toSign = ["AWS4-HMAC-SHA256", date, scope, await sha256(canonical)].join("\n");
    let key = await hmac("AWS4" + credentials.secretAccessKey, day);
    key = await hmac(key, credentials.region);
    key = await hmac(key, "states");
    key = await hmac(key, "aws4_request");
    const signature = hex(await hmac(key, toSign));
    return {
      "X-Amz-Date": date,
      Authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
    };
  }

  function load() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (_) { return null; }
  }

  window.SteppeSigV4 = {
    sign,
    credentials: load,
    save: (credentials) => sessionStorage.setItem(KEY, JSON.stringify(credentials)),
    forget: () => sessionStorage.removeItem(KEY),
    // Whether the browser can sign here (WebCrypto exists only in secure contexts).
    available: () => Boolean(window.crypto && crypto.subtle),
  };
})();
