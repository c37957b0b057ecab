// An Express service governed by corsadmin: `npm ci` then `node server.js`.
//
// The `corsadmin` package (clients/node) sits where the `cors` package was: it fetches the
// API's policy from central, verifies its signature, keeps it fresh (polling with
// If-None-Match, backoff, a cache file) and applies it with the same engine semantics as the
// Python consumers (every conformance case passes in both).
//
// Environment (the Python consumers' names): CORSADMIN_URL, CORSADMIN_TOKEN, CORSADMIN_APIS,
// CORSADMIN_PUBLIC_KEYS (central's JWKS: a file path or inline JSON), CORSADMIN_INTERVAL,
// CORSADMIN_CACHE_FILE, CORSADMIN_BOOTSTRAP_FILE, CORSADMIN_SERVICE, ...;
// CORSADMIN_VERIFY_SIGNATURES=false only in development. PORT (default 5004).
const crypto = require("node:crypto");
const express = require("express");
const corsadmin = require("corsadmin");

const cors = corsadmin.middleware({
  ...corsadmin.configFromEnv(),
  service: process.env.CORSADMIN_SERVICE || "express-example",
});

const app = express();
app.use(cors); // first: preflights are answered before any auth or routing
app.use(express.json());
app.use((req, res, next) => {
  res.set("X-Request-Id", crypto.randomUUID().replace(/-/g, "")); // exposed by the policy
  next();
});
app.get("/api/items", (req, res) => res.json({ service: "express", items: ["apple", "pear"] }));
app.post("/api/items", (req, res) => res.status(201).json({ service: "express", created: req.body }));
app.get("/api/me", (req, res) => {
  const session = /(?:^|;\s*)session=([^;]*)/.exec(req.headers.cookie || "");
  res.json({ service: "express", user: session ? session[1] : "anonymous" });
});
app.get("/health", (req, res) => {
  const health = cors.health();
  res.status(health.ok ? 200 : 503).json(health);
});

const port = Number(process.env.PORT || 5004);
app.listen(port, "127.0.0.1", () => console.log(`express example on http://127.0.0.1:${port}`));
