// An Express service governed by corsadmin: `npm install` then `node server.js`.
// Environment: CORSADMIN_URL, CORSADMIN_TOKEN, CORSADMIN_APIS (one slug here),
// CORSADMIN_INTERVAL (seconds, default 30), PORT (default 5004).
//
// The policy endpoint is plain HTTP + JSON, so any language can consume it: poll with
// If-None-Match, keep the last good document, and feed the `cors` package's `origin`
// callback from it. (The Python client adds Redis sharing, pub/sub, backoff and telemetry.)
const crypto = require("node:crypto");
const express = require("express");
const cors = require("cors");

const central = process.env.CORSADMIN_URL;
const slug = (process.env.CORSADMIN_APIS || "").split(",")[0];
const interval = Number(process.env.CORSADMIN_INTERVAL || 30) * 1000;
let policy = null; // the last good document; null = refuse every cross-origin request
let etag = null;

async function refresh() {
  try {
    const response = await fetch(`${central}/api/v1/policies/${slug}`, {
      headers: { Authorization: `Bearer ${process.env.CORSADMIN_TOKEN}`, ...(etag && { "If-None-Match": etag }) },
      signal: AbortSignal.timeout(2000),
    });
    if (response.status === 200) {
      const doc = await response.json();
      if (doc.schema !== 1 || doc.api !== slug) throw new Error(`refused document for ${doc.api}`);
      policy = { doc, patterns: [...doc.origins.regex.map((re) => new RegExp(re)), ...doc.origins.wildcard.map(wildcard)] };
      etag = response.headers.get("etag");
      console.log(`corsadmin: ${slug} v${doc.version} (${doc.mode})`);
    } else if (response.status !== 304) {
      throw new Error(`central answered ${response.status}`);
    }
  } catch (error) {
    console.warn(`corsadmin: keeping ${policy ? "v" + policy.doc.version : "no policy"}: ${error.message}`);
  }
}

// https://*.example.com: one or more DNS labels in place of *, same scheme and port.
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
function wildcard(pattern) {
  const [scheme, rest] = pattern.split("://*.");
  return new RegExp(`^${escape(scheme)}://(?:[a-z0-9-]+\\.)+${escape(rest)}$`);
}

function allowed(origin) {
  if (!policy || policy.doc.mode === "off") return false;
  const o = policy.doc.origins;
  return o.exact.includes(origin) || (origin === "null" && o.allow_null) ||
    policy.patterns.some((re) => re.test(origin));
}

const app = express();
const corsMiddleware = cors((req, callback) => {
  const doc = policy && policy.doc;
  const origin = req.header("Origin");
  if (!doc || !new RegExp(doc.paths || "").test(req.path)) return callback(null, { origin: false });
  if (doc.origins.allow_all) return callback(null, { origin: "*", methods: doc.methods, allowedHeaders: doc.request_headers, exposedHeaders: doc.expose_headers, maxAge: doc.max_age });
  callback(null, {
    origin: origin && allowed(origin) ? origin : false,
    credentials: doc.allow_credentials,
    methods: doc.methods,
    allowedHeaders: doc.request_headers,
    exposedHeaders: doc.expose_headers,
    maxAge: doc.max_age,
  });
});
app.use(corsMiddleware);
app.use(express.json());
app.use((req, res, next) => { res.set("X-Request-Id", crypto.randomUUID()); next(); });
app.get("/api/items", (req, res) => res.json({ service: "express", items: ["apple", "pear"] }));
app.post("/api/items", (req, res) => res.status(201).json({ service: "express", created: req.body }));
app.get("/api/me", (req, res) => res.json({ service: "express", user: "anonymous" }));

refresh().then(() => {
  setInterval(refresh, interval * (0.9 + Math.random() * 0.2));
  const port = Number(process.env.PORT || 5004);
  app.listen(port, "127.0.0.1", () => console.log(`express example on http://127.0.0.1:${port}`));
});
