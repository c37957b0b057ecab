"use strict";
/**
 * The CORS decision engine: (policy document, request) -> decision + response headers.
 *
 * A port of the reference engine, `policies/cors.py`; both pass the same conformance cases
 * (`conformance/cases/*.json`). Regexes (origins and `paths`) have RE2 semantics through
 * `re2js`, never JavaScript's RegExp: the same syntax (`(?i)`, `\Q...\E`, `[[:digit:]]`,
 * `\A`, `\z`), linear time, no backtracking. Standard: WHATWG Fetch, the CORS protocol.
 *
 * - A refused CORS request or preflight gets no CORS headers (only `Vary`); a refused
 *   preflight has status 403, an allowed one 200. An actual request is never blocked here.
 * - `allow_all` is a static public answer: `*`, never credentials, no `Vary: Origin`.
 * - Request origins are compared byte for byte with the document's canonical origins, then
 *   full-matched against its wildcards and regexes; a request origin that is not a serialized
 *   origin as browsers send it never matches.
 * - With credentials, `*` in methods and headers is literal for browsers: ignored.
 * - A preflight for a CORS-safelisted method (GET, HEAD, POST) passes the method check
 *   whatever `methods` says (Fetch, CORS-preflight fetch).
 */

const { RE2JS } = require("re2js");

const MAX_ORIGIN_LENGTH = 512;
const SCHEMA = 1;
const MODES = new Set(["enforce", "report-only", "off"]);

const ACAO = "Access-Control-Allow-Origin";
const ACAC = "Access-Control-Allow-Credentials";
const ACAM = "Access-Control-Allow-Methods";
const ACAH = "Access-Control-Allow-Headers";
const ACEH = "Access-Control-Expose-Headers";
const ACMA = "Access-Control-Max-Age";
const ACAPN = "Access-Control-Allow-Private-Network";
const VARY = "Vary";
const CORS_RESPONSE_HEADERS = [ACAO, ACAC, ACAM, ACAH, ACEH, ACMA, ACAPN];

const VARY_ACTUAL = "Origin";
const VARY_PREFLIGHT =
  "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, " +
  "Access-Control-Request-Private-Network";

const SAFELISTED_METHODS = new Set(["GET", "HEAD", "POST"]);

// A serialized origin exactly as a browser sends it (see policies/cors.py).
const ORIGIN_RE =
  /^([a-z][a-z0-9+.-]*):\/\/([a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])(?::([1-9][0-9]{0,4}))?$/;
// What a document may contain before it is canonicalised (ASCII, any case, any port, one slash).
const LOOSE_ORIGIN_RE =
  /^([a-z][a-z0-9+.-]*):\/\/([a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?\/?$/i;
const WILDCARD_RE =
  /^([a-z][a-z0-9+.-]*):\/\/\*\.([a-z0-9_-]+(?:\.[a-z0-9_-]+)*)(?::([0-9]{1,5}))?\/?$/i;
const DEFAULT_PORTS = { http: 80, https: 443, ws: 80, wss: 443, ftp: 21 };
// RFC 9110 token: methods and header names.
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const WILDCARD_LABELS = "(?:[a-z0-9-]+\\.)+";
const MEMO_SIZE = 2048;
const MEMO_KEY_LENGTH = 256;

const NOT_CANONICAL = -2;
const NO_MATCH = -1;

/** A policy document that is malformed or of an unknown schema; the message says what. */
class DocumentError extends Error {
  constructor(message) {
    super(message);
    this.name = "DocumentError";
  }
}

function hasOwn(object, key) {
  return Object.prototype.hasOwnProperty.call(object, key);
}

function kindOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "string") return "str";
  if (typeof value === "object") return "dict";
  return typeof value;
}

const KIND_NAMES = { bool: "a boolean", int: "an integer", str: "a string", list: "a list", dict: "an object", null: "null" };

function get(mapping, key, kinds, where) {
  if (!hasOwn(mapping, key)) throw new DocumentError(`missing key ${where}${key}`);
  const value = mapping[key];
  if (!kinds.includes(kindOf(value))) {
    const wanted = kinds.map((kind) => KIND_NAMES[kind]).join(" or ");
    throw new DocumentError(`${where}${key} must be ${wanted}, not ${kindOf(value)}`);
  }
  return value;
}

function strings(mapping, key, where) {
  const value = get(mapping, key, ["list"], where);
  value.forEach((item, index) => {
    if (typeof item !== "string") throw new DocumentError(`${where}${key}[${index}] must be a string`);
  });
  return value.slice();
}

/** Validated, de-duplicated (order kept) method or header names. */
function tokens(values, what) {
  const seen = [];
  for (const value of values) {
    if (!TOKEN_RE.test(value)) throw new DocumentError(`${what}: ${JSON.stringify(value)} is not a valid name`);
    if (!seen.includes(value)) seen.push(value);
  }
  return seen;
}

function isAscii(text) {
  return /^[\x00-\x7f]*$/.test(text);
}

/** A request value as it may appear in a reason: plain if tame, else quoted and cut. */
function show(value) {
  if (value.length <= 100 && /^[\x21-\x7e]*$/.test(value)) return value;
  const shown = JSON.stringify(value.slice(0, 100));
  return value.length > 100 ? shown + "..." : shown;
}

/** True when `value` is a serialized origin exactly as a browser sends it. */
function isCanonicalOrigin(value) {
  const match = ORIGIN_RE.exec(value);
  if (match === null) return false;
  if (match[3] === undefined) return true;
  const number = Number(match[3]);
  return number <= 65535 && DEFAULT_PORTS[match[1]] !== number;
}

function canonicalPort(scheme, port, where) {
  if (port === undefined) return "";
  const number = Number(port);
  if (!(number > 0 && number <= 65535)) throw new DocumentError(`${where}: port ${port} is out of range`);
  if (DEFAULT_PORTS[scheme] === number) return "";
  return `:${number}`;
}

/** The canonical form of a configured exact origin (harmless variants of the same origin). */
function canonicalOrigin(value, where) {
  if (value === "null") throw new DocumentError(`${where}: 'null' is not an origin to list; use origins.allow_null`);
  if (!isAscii(value)) throw new DocumentError(`${where}: ${JSON.stringify(value)} must be ASCII (IDN hosts in punycode)`);
  const match = LOOSE_ORIGIN_RE.exec(value);
  if (match === null) {
    throw new DocumentError(`${where}: ${JSON.stringify(value)} is not a serialized origin (scheme://host[:port], no path)`);
  }
  const scheme = match[1].toLowerCase();
  const host = match[2].toLowerCase();
  return `${scheme}://${host}${canonicalPort(scheme, match[3], where)}`;
}

/**
 * The full-match RE2 regex for an origin wildcard such as `https://*.example.com`: `*` is one
 * or more DNS labels, the rest literal (same scheme and port). Throws DocumentError.
 */
function wildcardToRegex(pattern) {
  if (!isAscii(pattern)) throw new DocumentError(`wildcard ${JSON.stringify(pattern)} must be ASCII (IDN hosts in punycode)`);
  const match = WILDCARD_RE.exec(pattern);
  if (match === null) {
    throw new DocumentError(
      `wildcard ${JSON.stringify(pattern)} is not of the form scheme://*.domain[:port] (the * must be the whole leftmost label)`,
    );
  }
  let scheme = match[1].toLowerCase();
  let domain = match[2].toLowerCase();
  if (!domain.includes(".") && domain !== "localhost") {
    throw new DocumentError(`wildcard ${JSON.stringify(pattern)} covers a whole top-level domain`);
  }
  const port = canonicalPort(scheme, match[3], `wildcard ${JSON.stringify(pattern)}`);
  scheme = scheme.replace(/\./g, "\\.").replace(/\+/g, "\\+");
  domain = domain.replace(/\./g, "\\.");
  return `^${scheme}://${WILDCARD_LABELS}${domain}${port}$`;
}

function compileRegex(pattern, where) {
  try {
    return RE2JS.compile(pattern);
  } catch (error) {
    throw new DocumentError(`${where}: ${JSON.stringify(pattern)} is not a valid RE2 regex: ${error.message}`);
  }
}

/** A bounded memo: a Map cleared when full. */
class Memo {
  constructor() {
    this.data = new Map();
  }
  get(key) {
    return this.data.get(key);
  }
  put(key, value) {
    if (key.length > MEMO_KEY_LENGTH) return;
    if (this.data.size >= MEMO_SIZE) this.data.clear();
    this.data.set(key, value);
  }
}

/** The value of a request header whatever the case of the object's keys (arrays: joined). */
function header(headers, lower) {
  if (headers === null || headers === undefined) return undefined;
  if (typeof headers.get === "function" && !(headers instanceof Map)) {
    const value = headers.get(lower);
    return value === null ? undefined : value;
  }
  let value = headers instanceof Map ? headers.get(lower) : headers[lower];
  if (value === undefined) {
    const entries = headers instanceof Map ? headers.entries() : Object.entries(headers);
    for (const [key, candidate] of entries) {
      if (key.length === lower.length && key.toLowerCase() === lower) {
        value = candidate;
        break;
      }
    }
  }
  if (Array.isArray(value)) return value.join(", ");
  return value === undefined || value === null ? undefined : String(value);
}

function decision(fields) {
  return Object.freeze(fields);
}

/** A policy document compiled once for fast decisions; build it with compilePolicy. */
class CompiledPolicy {
  constructor(document) {
    if (kindOf(document) !== "dict") {
      throw new DocumentError(`a policy document is a JSON object, not ${kindOf(document)}`);
    }
    const schema = get(document, "schema", ["int"], "");
    if (schema !== SCHEMA) throw new DocumentError(`unknown schema ${schema}: this consumer reads schema ${SCHEMA}`);
    this.document = document;
    this.api = get(document, "api", ["str"], "");
    if (!this.api) throw new DocumentError("api must not be empty");
    this.version = get(document, "version", ["int"], "");
    this.mode = get(document, "mode", ["str"], "");
    if (!MODES.has(this.mode)) {
      throw new DocumentError(`unknown mode ${JSON.stringify(this.mode)}: expected enforce, report-only or off`);
    }
    this.label = `${this.api} v${this.version}`;

    const paths = get(document, "paths", ["str", "null"], "");
    this.paths = paths || null;
    this.pathsRegex = this.paths === null ? null : compileRegex(this.paths, "paths");

    const origins = get(document, "origins", ["dict"], "");
    this.allowAll = get(origins, "allow_all", ["bool"], "origins.");
    this.allowNull = get(origins, "allow_null", ["bool"], "origins.");
    this.exact = new Set(
      strings(origins, "exact", "origins.").map((value, index) => canonicalOrigin(value, `origins.exact[${index}]`)),
    );
    this.patterns = [];
    this.patternNames = [];
    for (const value of strings(origins, "wildcard", "origins.")) {
      this.patterns.push(RE2JS.compile(wildcardToRegex(value)));
      this.patternNames.push(`wildcard ${value}`);
    }
    strings(origins, "regex", "origins.").forEach((value, index) => {
      this.patterns.push(compileRegex(value, `origins.regex[${index}]`));
      this.patternNames.push(`regex ${value}`);
    });

    const allowCredentials = get(document, "allow_credentials", ["bool"], "");
    // allow_all answers "*", which never carries credentials.
    this.credentialed = allowCredentials && !this.allowAll;
    this.allowPrivateNetwork = get(document, "allow_private_network", ["bool"], "");
    let maxAge = null;
    if (hasOwn(document, "max_age") && document.max_age !== null) {
      maxAge = get(document, "max_age", ["int"], "");
      if (maxAge < 0) throw new DocumentError("max_age must not be negative");
    }
    this.maxAge = maxAge;

    let methods = tokens(strings(document, "methods", ""), "methods");
    let requestHeaders = tokens(strings(document, "request_headers", ""), "request_headers").map((name) =>
      name.toLowerCase(),
    );
    requestHeaders = [...new Set(requestHeaders)];
    let exposeHeaders = tokens(strings(document, "expose_headers", ""), "expose_headers");
    this.methodsStarIgnored = this.credentialed && methods.includes("*");
    this.requestHeadersStarIgnored = this.credentialed && requestHeaders.includes("*");
    if (this.credentialed) {
      methods = methods.filter((m) => m !== "*");
      requestHeaders = requestHeaders.filter((h) => h !== "*");
      exposeHeaders = exposeHeaders.filter((h) => h !== "*");
    }
    this.methods = new Set(methods);
    this.methodsAny = this.methods.has("*");
    this.requestHeaders = new Set(requestHeaders);
    this.requestHeadersAny = this.requestHeaders.has("*");

    const actual = {};
    const preflight = {};
    if (this.credentialed) actual[ACAC] = preflight[ACAC] = "true";
    if (exposeHeaders.length) actual[ACEH] = exposeHeaders.join(", ");
    if (methods.length) preflight[ACAM] = methods.join(", ");
    if (requestHeaders.length) preflight[ACAH] = requestHeaders.join(", ");
    if (maxAge !== null) preflight[ACMA] = String(maxAge);
    this.actualExtra = actual;
    this.preflightExtra = preflight;
    this.staticActual = { [ACAO]: "*", ...actual };
    this.staticPreflight = { [ACAO]: "*", ...preflight };
    this.pathMemo = new Memo();
    this.originMemo = new Memo();
    Object.freeze(this);
  }

  /** Whether `paths` (RE2, search semantics: anywhere in the path) matches `path`. */
  coversPath(path) {
    if (this.pathsRegex === null) return true;
    const memo = this.pathMemo.get(path);
    if (memo !== undefined) return memo;
    const found = this.pathsRegex.matcher(path).find();
    this.pathMemo.put(path, found);
    return found;
  }

  patternIndex(origin) {
    const memo = this.originMemo.get(origin);
    if (memo !== undefined) return memo;
    let result = NO_MATCH;
    if (!isCanonicalOrigin(origin)) {
      result = NOT_CANONICAL;
    } else {
      const index = this.patterns.findIndex((pattern) => pattern.matches(origin));
      result = index >= 0 ? index : NO_MATCH;
    }
    this.originMemo.put(origin, result);
    return result;
  }

  /** null when `origin` may read responses, else the reason it is refused. */
  checkOrigin(origin) {
    if (origin.length > MAX_ORIGIN_LENGTH) {
      return `origin header of ${origin.length} characters is not allowed by ${this.label}: longer than ${MAX_ORIGIN_LENGTH}, refused before matching`;
    }
    if (this.exact.has(origin)) return null;
    if (origin === "null") {
      if (this.allowNull) return null;
      return `origin null is not allowed by ${this.label} (sandboxed iframes, file: and data: documents and cross-origin redirects send it; allow_null is off)`;
    }
    const index = this.patternIndex(origin);
    if (index >= 0) return null;
    if (index === NOT_CANONICAL) {
      return `origin ${show(origin)} is not allowed by ${this.label}: not a serialized origin as browsers send it (lower-case scheme://host[:port], no default port, no path)`;
    }
    return `origin ${show(origin)} is not allowed by ${this.label}`;
  }

  whyAllowed(origin) {
    if (this.allowAll) return "allow_all: answered *, never with credentials";
    if (this.exact.has(origin)) return "exact origin";
    if (origin === "null") return "allow_null";
    return this.patternNames[this.patternIndex(origin)];
  }

  /** Whether a CORS request from `origin` gets Access-Control-Allow-Origin. */
  allowsOrigin(origin) {
    return this.allowAll || this.checkOrigin(origin) === null;
  }

  /** See the module-level `decide`. */
  decide(method, path, headers) {
    const origin = header(headers, "origin");
    const preflight =
      origin !== undefined && method === "OPTIONS" && header(headers, "access-control-request-method") !== undefined;
    const base = { preflight, origin: origin === undefined ? null : origin, mode: this.mode };
    if (this.mode === "off") {
      return decision({
        ...base,
        allowed: true,
        headers: {},
        reason: `${this.label} is off: no CORS headers`,
        status: null,
        applies: false,
        code: "mode-off",
      });
    }
    if (!this.coversPath(path)) {
      return decision({
        ...base,
        allowed: true,
        headers: {},
        reason: `path ${show(path)} is not covered by ${this.label} (paths ${this.paths})`,
        status: null,
        applies: false,
        code: "outside-paths",
      });
    }
    if (origin === undefined) {
      if (this.allowAll) {
        return decision({
          ...base,
          allowed: true,
          headers: { ...this.staticActual },
          reason: `no Origin header: not a CORS request; ${this.label} allows all origins, so the static answer * is sent without Vary`,
          status: null,
          applies: true,
          code: "not-cors",
        });
      }
      return decision({
        ...base,
        allowed: true,
        headers: { [VARY]: VARY_ACTUAL },
        reason: "no Origin header: not a CORS request",
        status: null,
        applies: true,
        code: "not-cors",
      });
    }
    if (preflight) return this.decidePreflight(origin, headers);
    if (this.allowAll) {
      return decision({
        ...base,
        allowed: true,
        headers: { ...this.staticActual },
        reason: `origin ${show(origin)} is allowed by ${this.label} (allow_all: *)`,
        status: null,
        applies: true,
        code: "allowed",
      });
    }
    const refusal = this.checkOrigin(origin);
    if (refusal !== null) {
      return decision({
        ...base,
        allowed: false,
        headers: { [VARY]: VARY_ACTUAL },
        reason: refusal,
        status: null,
        applies: true,
        code: "origin-not-allowed",
      });
    }
    return decision({
      ...base,
      allowed: true,
      headers: { [ACAO]: origin, ...this.actualExtra, [VARY]: VARY_ACTUAL },
      reason: `origin ${origin} is allowed by ${this.label} (${this.whyAllowed(origin)})`,
      status: null,
      applies: true,
      code: "allowed",
    });
  }

  refusePreflight(origin, reason, code) {
    return decision({
      allowed: false,
      preflight: true,
      headers: { [VARY]: VARY_PREFLIGHT },
      reason,
      status: 403,
      applies: true,
      origin,
      mode: this.mode,
      code,
    });
  }

  decidePreflight(origin, headers) {
    if (!this.allowAll) {
      const refusal = this.checkOrigin(origin);
      if (refusal !== null) return this.refusePreflight(origin, "preflight refused: " + refusal, "origin-not-allowed");
    }
    const shown = show(origin);
    const method = trim(header(headers, "access-control-request-method") || "");
    let refusal = this.checkMethod(method);
    if (refusal !== null) {
      return this.refusePreflight(origin, `preflight from ${shown} refused: ${refusal}`, "method-not-allowed");
    }
    const raw = header(headers, "access-control-request-headers");
    if (raw) {
      refusal = this.checkRequestHeaders(raw);
      if (refusal !== null) {
        return this.refusePreflight(origin, `preflight from ${shown} refused: ${refusal}`, "header-not-allowed");
      }
    }
    const pna = header(headers, "access-control-request-private-network");
    const pnaRequested = pna !== undefined && trim(pna) === "true";
    if (pnaRequested && !this.allowPrivateNetwork) {
      return this.refusePreflight(
        origin,
        `preflight from ${shown} refused: private network access is requested but ${this.label} does not allow it (allow_private_network is off)`,
        "private-network-not-allowed",
      );
    }
    const response = this.allowAll ? { ...this.staticPreflight } : { [ACAO]: origin, ...this.preflightExtra };
    if (pnaRequested) response[ACAPN] = "true";
    response[VARY] = VARY_PREFLIGHT;
    return decision({
      allowed: true,
      preflight: true,
      headers: response,
      reason: `preflight from ${shown} for ${show(method)} is allowed by ${this.label} (${this.whyAllowed(origin)})`,
      status: 200,
      applies: true,
      origin,
      mode: this.mode,
      code: "allowed",
    });
  }

  /** null when the requested method is allowed (case-sensitive), else why not. */
  checkMethod(method) {
    if (this.methods.has(method)) return null;
    if (!method) return "empty Access-Control-Request-Method";
    // Fetch: a CORS-safelisted method (byte-case-sensitive) never needs listing.
    if (SAFELISTED_METHODS.has(method)) return null;
    if (this.methodsAny && TOKEN_RE.test(method)) return null;
    const allowed = [...this.methods].sort().join(", ") || "none";
    let reason = `method ${show(method)} is not allowed by ${this.label} (allowed: ${allowed})`;
    const upper = method.toUpperCase();
    if (this.methods.has(upper) || SAFELISTED_METHODS.has(upper)) {
      reason += `; methods are case-sensitive and browsers upper-case only DELETE, GET, HEAD, OPTIONS, POST and PUT: send ${upper}`;
    } else if (this.methodsStarIgnored) {
      reason += "; '*' is ignored when credentials are allowed: list methods explicitly";
    }
    return reason;
  }

  /** null when every name in Access-Control-Request-Headers is allowed (parsed leniently). */
  checkRequestHeaders(raw) {
    for (const item of raw.split(",")) {
      const name = trim(item).toLowerCase();
      if (!name || this.requestHeaders.has(name)) continue;
      if (this.requestHeadersAny && name !== "authorization" && TOKEN_RE.test(name)) continue;
      const listed = [...this.requestHeaders].sort().join(", ") || "none";
      let reason = `request header ${show(name)} is not allowed by ${this.label} (allowed: ${listed})`;
      if (this.requestHeadersAny && name === "authorization") {
        reason += "; '*' never covers authorization: list it explicitly";
      } else if (this.requestHeadersStarIgnored) {
        reason += "; '*' is ignored when credentials are allowed: list header names explicitly";
      }
      return reason;
    }
    return null;
  }
}

function trim(text) {
  return text.replace(/^[ \t]+|[ \t]+$/g, "");
}

/**
 * Validate and compile a policy document; throws DocumentError (naming the problem) if it is
 * malformed or of an unknown schema. Unknown keys are ignored.
 */
function compilePolicy(document) {
  try {
    return new CompiledPolicy(document);
  } catch (error) {
    if (error instanceof DocumentError) throw error;
    throw new DocumentError(`malformed policy document: ${error.message}`);
  }
}

/**
 * Decide what CORS headers a request gets under `policy` (a document or a CompiledPolicy).
 *
 * `request` is `{method, path, headers}`; headers an object (names in any case), a Map or a
 * Fetch `Headers`. Returns a frozen `{allowed, preflight, headers, reason, status, applies,
 * origin, mode, code}`: `headers` are the CORS response headers to set (Vary included),
 * `status` the status of a preflight answer (200 or 403), else null; `code` one of allowed,
 * not-cors, outside-paths, mode-off, origin-not-allowed, method-not-allowed,
 * header-not-allowed, private-network-not-allowed.
 */
function decide(policy, request) {
  const compiled = policy instanceof CompiledPolicy ? policy : compilePolicy(policy);
  const { method, path, headers } = request;
  return compiled.decide(method, path, headers || {});
}

/**
 * The decision when a consumer holds no document for the API (a cold start), as the Python
 * engine's `decide_without_policy`: nothing falls open. A CORS request or preflight is refused
 * (a preflight with 403) with only `Vary`; a request without Origin passes. Code `no-policy`.
 */
function decideWithoutPolicy(request) {
  const { method, path, headers = {} } = request;
  const origin = header(headers, "origin");
  const preflight = origin !== undefined && method === "OPTIONS" && header(headers, "access-control-request-method") !== undefined;
  return decision({
    allowed: origin === undefined,
    preflight,
    headers: { [VARY]: preflight ? VARY_PREFLIGHT : VARY_ACTUAL },
    reason: `no policy document for this API yet: ${show(String(method))} ${show(String(path))} gets no CORS headers (nothing falls open before the first document arrives)`,
    status: preflight ? 403 : null,
    applies: true,
    origin: origin === undefined ? null : origin,
    mode: "enforce",
    code: "no-policy",
  });
}

/** The first policy whose `paths` matches `path`, or null. */
function choosePolicy(policies, path) {
  return policies.find((policy) => policy.coversPath(path)) || null;
}

/**
 * Merge header names into an existing Vary value: case-insensitive de-duplication, existing
 * order kept, new names appended; `*` absorbs the rest.
 */
function mergeVary(existing, ...names) {
  const seen = new Set();
  const merged = [];
  for (const value of [existing || "", ...names]) {
    for (const item of String(value).split(",")) {
      const name = trim(item);
      if (!name) continue;
      if (name === "*") return "*";
      const key = name.toLowerCase();
      if (!seen.has(key)) {
        seen.add(key);
        merged.push(name);
      }
    }
  }
  return merged.join(", ");
}

module.exports = {
  ACAC,
  ACAH,
  ACAM,
  ACAO,
  ACAPN,
  ACEH,
  ACMA,
  CORS_RESPONSE_HEADERS,
  CompiledPolicy,
  DocumentError,
  MAX_ORIGIN_LENGTH,
  SCHEMA,
  VARY,
  VARY_ACTUAL,
  VARY_PREFLIGHT,
  choosePolicy,
  compilePolicy,
  decide,
  decideWithoutPolicy,
  header,
  isCanonicalOrigin,
  mergeVary,
  wildcardToRegex,
};
