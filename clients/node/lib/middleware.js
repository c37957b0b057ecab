"use strict";
/**
 * Express / Connect middleware enforcing the central CORS policy.
 *
 *     const corsadmin = require("corsadmin");
 *     const cors = corsadmin.middleware({ url, token, apis: ["billing"], publicKeys: "jwks.json" });
 *     app.use(cors);                       // where the `cors` package would be
 *     app.get("/health", (req, res) => res.json(cors.health()));
 *
 * Only translates to and from `decide` (through PolicyClient), like the Python middlewares:
 * - a preflight on a covered path is answered here, before the application (no auth, no
 *   redirect): 200 with the CORS headers, or 403 without;
 * - every other response of a covered path, errors included, gets exactly the decision's CORS
 *   headers: any the application set are replaced (or removed when refused), `Vary` merged;
 * - `report-only`: the response is left exactly as the application (or the CORS layer the
 *   middleware wraps) made it, and what would be refused is reported; `off` or an uncovered
 *   path: untouched.
 * `paths` is matched against the path inside the application (Express strips a mount point).
 */

const { CORS_RESPONSE_HEADERS, VARY, mergeVary } = require("./cors");
const { PolicyClient, ownOrigin } = require("./client");

const CORS_LOWER = new Set(CORS_RESPONSE_HEADERS.map((name) => name.toLowerCase()));

/** The request path inside the application, percent-decoded as the Python servers do. */
function requestPath(req) {
  let raw = typeof req.path === "string" ? req.path : (req.url || "/").split("?")[0];
  if (!raw.startsWith("/")) raw = "/" + raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function requestOrigin(req) {
  const encrypted = req.socket && req.socket.encrypted;
  const scheme = typeof req.protocol === "string" ? req.protocol : encrypted ? "https" : "http";
  return ownOrigin(scheme, req.headers.host);
}

/** Headers passed to writeHead (object, flat array or array of pairs) without CORS names;
 * their Vary values are returned apart to be merged. */
function sanitize(headers) {
  const vary = [];
  if (headers === undefined || headers === null) return { headers, vary };
  if (Array.isArray(headers)) {
    const pairs = Array.isArray(headers[0]) ? headers : [];
    if (!Array.isArray(headers[0])) for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
    const kept = [];
    for (const [name, value] of pairs) {
      const lower = String(name).toLowerCase();
      if (lower === "vary") vary.push(String(value));
      else if (!CORS_LOWER.has(lower)) kept.push(name, value);
    }
    return { headers: kept, vary };
  }
  const kept = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === "vary") vary.push(Array.isArray(value) ? value.join(", ") : String(value));
    else if (!CORS_LOWER.has(lower)) kept[name] = value;
  }
  return { headers: kept, vary };
}

/** Make the response carry exactly `cors` as its CORS headers when its head is written. */
function applyOnWriteHead(res, cors) {
  const original = res.writeHead;
  res.writeHead = function writeHead(statusCode, reason, headers) {
    res.writeHead = original;
    let args;
    let given;
    if (typeof reason === "string") {
      given = sanitize(headers);
      args = [statusCode, reason, given.headers];
    } else {
      given = sanitize(reason);
      args = [statusCode, given.headers];
    }
    if (args[args.length - 1] === undefined) args.pop();
    for (const name of CORS_RESPONSE_HEADERS) res.removeHeader(name);
    for (const [name, value] of Object.entries(cors)) if (name !== VARY) res.setHeader(name, value);
    const existing = res.getHeader("vary");
    const vary = mergeVary(
      [...(Array.isArray(existing) ? existing : existing ? [String(existing)] : []), ...given.vary].join(", "),
      cors[VARY] || "",
    );
    if (vary) res.setHeader("Vary", vary);
    else res.removeHeader("Vary");
    return original.apply(this, args);
  };
}

/**
 * The middleware; `options` as PolicyClient's (or `client`: a ready PolicyClient). The
 * returned function also has `health()`, `client`, `ready` (a promise: the start-up load
 * done) and `close()`.
 */
function middleware(options = {}) {
  const client = options.client instanceof PolicyClient ? options.client : new PolicyClient(options);
  const ready = client.start();

  function handle(req, res, next) {
    if (client.healthPath !== null && requestPath(req) === client.healthPath) {
      const health = client.health();
      const body = JSON.stringify(health);
      res.statusCode = health.ok ? 200 : 503;
      res.setHeader("Content-Type", "application/json");
      res.setHeader("Content-Length", String(Buffer.byteLength(body)));
      res.end(body);
      return undefined;
    }
    const result = client.decide(req.method, requestPath(req), req.headers, requestOrigin(req));
    if (result === null) return next();
    const { decision } = result;
    if (!decision.applies || decision.mode !== "enforce") return next();
    if (decision.preflight) {
      res.statusCode = decision.status || 403;
      for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
      res.setHeader("Content-Type", "text/plain");
      res.setHeader("Content-Length", "0");
      res.end();
      return undefined;
    }
    applyOnWriteHead(res, decision.headers);
    return next();
  }

  function corsadmin(req, res, next) {
    if (client.loaded) return handle(req, res, next);
    // Only the first requests wait: for the files (local disk), and `startupWait` at most.
    ready.then(() => handle(req, res, next)).catch(next);
    return undefined;
  }
  corsadmin.client = client;
  corsadmin.ready = ready;
  corsadmin.health = () => client.health();
  corsadmin.close = () => client.close();
  return corsadmin;
}

module.exports = { middleware, requestPath };
