"use strict";
/**
 * The consumer client: fetch each API's policy document from central, verify it, keep it,
 * decide with it. What a request costs: a read of the in-memory snapshot and `decide`; it
 * never waits on the network. At start the cache file, then the bootstrap file, are read
 * (local disk; the first requests wait for that only) while the first fetch from central
 * runs in the background (`startupWait` > 0 lets the first requests wait that long for it).
 * In the background:
 *
 * - polls `GET /api/v1/policies/<slug>` with `If-None-Match` every `interval` seconds
 *   (+-10 % jitter); `timeout` bounds connecting and the response head, `fetchDeadline` the
 *   whole fetch (body included), `maxDocumentBytes` its size; failures back off
 *   exponentially with jitter (0.5 s, 1 s, 2 s ... at most 2 x interval);
 * - every document, from central, the cache file or the bootstrap file, is verified against
 *   `publicKeys` (Ed25519 detached JWS, design.md "Signed documents") before it is applied; a
 *   document that does not verify, is too large, malformed, of an unknown schema or for
 *   another API is refused, logged with its source, and the last good one kept;
 * - last known good: memory, then `cacheFile` (written atomically after each new document),
 *   then `bootstrapFile`. Nothing falls open: with no document, cross-origin requests get no
 *   CORS headers (code `no-policy`);
 * - `health()` per API: version, etag, mode, age, stale, source, last error;
 * - telemetry to `POST /api/v1/reports`: a heartbeat per API and counts of refused requests
 *   per (api, origin, code), bounded in memory, kept for the next report when sending fails.
 */

const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { compilePolicy, decideWithoutPolicy, DocumentError } = require("./cors");
const { loadPublicKeys, verifier } = require("./signature");

const MAX_REFUSED_KEYS = 500;
const DEFAULT_MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;
const MAX_ORIGIN_CHARS = 300;
const MAX_SAMPLE_CHARS = 300;
const LOG_EVERY_MS = 60_000;
const DEFAULT_PORTS = { http: "80", https: "443" };

class ConfigurationError extends Error {
  constructor(message) {
    super(message);
    this.name = "ConfigurationError";
  }
}

class FetchError extends Error {}

function asList(apis) {
  const list = typeof apis === "string" ? apis.split(",") : Array.isArray(apis) ? apis : [];
  return [...new Set(list.map((slug) => String(slug).trim()).filter(Boolean))];
}

function sleep(seconds) {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000).unref());
}

/** A document object as central serialises it: sorted keys, no spaces, non-ASCII escaped
 * (Python's json.dumps(sort_keys=True, separators=(",", ":"))), so signatures still verify. */
function canonicalJson(value) {
  const sorted = (item) => {
    if (Array.isArray(item)) return item.map(sorted);
    if (item !== null && typeof item === "object") {
      return Object.fromEntries(Object.keys(item).sort().map((key) => [key, sorted(item[key])]));
    }
    return item;
  };
  return JSON.stringify(sorted(value)).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `seconds` +-10 %: processes started together do not poll in lockstep. */
function jittered(seconds) {
  return seconds * (0.9 + Math.random() * 0.2);
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at twice the interval. */
function backoff(failures, interval) {
  const cap = Math.max(2 * interval, 1);
  const ceiling = Math.min(cap, 0.5 * 2 ** Math.min(failures - 1, 20));
  return ceiling * (0.5 + Math.random() * 0.5);
}

/** The serialized origin of the service itself, from the request's scheme and Host. */
function ownOrigin(scheme, host) {
  if (!host) return null;
  host = String(host).trim().toLowerCase();
  let name = host;
  let port = "";
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    name = host.slice(0, end + 1);
    if (host[end + 1] === ":") port = host.slice(end + 2);
  } else if (host.includes(":")) {
    [name, port] = host.split(":", 2);
  }
  return port && DEFAULT_PORTS[scheme] !== port ? `${scheme}://${name}:${port}` : `${scheme}://${name}`;
}

const defaultLogger = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

class PolicyClient {
  /**
   * Options (design.md, "Consumer configuration"; the Python keywords in camelCase): `url`
   * (central's base URL) and `token` (a `cors_...` service token), required unless
   * `bootstrapFile` is given; `apis` (slugs, array or comma-separated, the first whose
   * `paths` matches applies); `interval` (s, 30); `timeout` (s, 2: connecting and the
   * response head); `fetchDeadline` (s, 10: one whole fetch); `maxDocumentBytes` (4 MiB);
   * `startupWait` (s, 0: how long the first requests may wait for central); `cacheFile`;
   * `bootstrapFile`; `publicKeys` (a JWKS object, inline JSON or a file path; required while
   * `verifySignatures` is true, the default, unless `fetchPublicKeys` opts in to trusting
   * central's `GET /api/v1/keys` on first use); `service` (a name in telemetry);
   * `telemetry` (true); `telemetryInterval` (s, 60); `healthPath` (serve health() there);
   * `logger` ({info, warn, error}). Throws ConfigurationError naming the option.
   */
  constructor(options = {}) {
    this.url = (options.url || "").replace(/\/+$/, "") || null;
    this.token = options.token || null;
    this.apis = asList(options.apis);
    if (this.apis.length === 0) throw new ConfigurationError("apis: at least one API slug is required");
    if (this.url === null && !options.bootstrapFile) {
      throw new ConfigurationError("url: central's URL is required unless a bootstrap file is");
    }
    if (this.url !== null && !/^https?:\/\//.test(this.url)) {
      throw new ConfigurationError(`url: ${JSON.stringify(this.url)} is not an http:// or https:// URL`);
    }
    if (this.url !== null && this.token === null) throw new ConfigurationError("token: a service token is required with url");
    this.interval = Number(options.interval ?? 30);
    this.timeout = Number(options.timeout ?? 2);
    this.fetchDeadline = Number(options.fetchDeadline ?? 10);
    this.telemetryInterval = Number(options.telemetryInterval ?? 60);
    for (const name of ["interval", "timeout", "fetchDeadline", "telemetryInterval"]) {
      if (!(this[name] > 0)) throw new ConfigurationError(`${name} must be a positive number of seconds`);
    }
    this.startupWait = Number(options.startupWait ?? 0);
    if (!(this.startupWait >= 0)) throw new ConfigurationError("startupWait must not be negative");
    this.maxDocumentBytes = Number(options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES);
    if (!(this.maxDocumentBytes >= 1024)) throw new ConfigurationError("maxDocumentBytes must be at least 1024");
    this.healthPath = options.healthPath || null;
    if (this.healthPath !== null && !this.healthPath.startsWith("/")) {
      throw new ConfigurationError("healthPath must start with /");
    }
    this.cacheFile = options.cacheFile || null;
    this.bootstrapFile = options.bootstrapFile || null;
    this.service = options.service || null;
    this.telemetryEnabled = options.telemetry !== false && this.url !== null;
    this.logger = options.logger || defaultLogger;
    this.verifySignatures = options.verifySignatures !== false;
    this.fetchPublicKeys = options.fetchPublicKeys === true;
    this.verify = null;
    const keys = options.publicKeys;
    const haveKeys = keys !== undefined && keys !== null && keys !== "";
    if (this.fetchPublicKeys && this.url === null) {
      throw new ConfigurationError("fetchPublicKeys: needs url to fetch the keys from");
    }
    if (this.verifySignatures && haveKeys) {
      try {
        this.verify = verifier(loadPublicKeys(keys));
      } catch (error) {
        throw new ConfigurationError(error.message);
      }
    } else if (this.verifySignatures && !this.fetchPublicKeys) {
      throw new ConfigurationError(
        "publicKeys: a JWKS (object, inline JSON or file path) is required to verify documents " +
          "(fetchPublicKeys: true trusts central's keys on first use; verifySignatures: false " +
          "accepts unsigned documents, for development only)",
      );
    } else if (!this.verifySignatures) {
      this.logger.warn(
        "corsadmin: SIGNATURE VERIFICATION IS OFF (verifySignatures: false): any document from " +
          "central, a proxy, the cache file or the bootstrap file is applied unchecked",
      );
    }
    this.staleAfter = 3 * this.interval + this.fetchDeadline;
    this.instanceId = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString("hex")}`;
    this.held = new Map(); // slug -> {policy, body, signature, etag, confirmedAt (ms), source}
    this.policies = [];
    this.errors = new Map();
    this.logged = new Map();
    this.refused = new Map();
    this.dropped = 0;
    this.failures = 0;
    this.loaded = false;
    this.closed = false;
    this.timer = null;
    this.inflight = null;
    this.nextTelemetry = Date.now() + Math.min(this.telemetryInterval, 5) * 1000;
    this.ready = null;
  }

  /**
   * Start once: read the files (the returned promise, `ready`, resolves when they are read,
   * and, with `startupWait`, when the first fetch is done or that many seconds have passed),
   * and start the background fetches.
   */
  start() {
    if (this.ready === null) {
      const files = this.loadFiles().catch((error) => {
        this.logger.error(`corsadmin: reading the files failed: ${error.stack || error}`);
      });
      this.firstRound = files.then(() => this.round({ first: true }));
      const waits = [files];
      if (this.startupWait > 0 && this.url !== null) {
        waits.push(Promise.race([this.firstRound, sleep(this.startupWait)]));
      }
      this.ready = Promise.all(waits).then(() => {
        this.loaded = true;
      });
    }
    return this.ready;
  }

  /** Stop polling (tests, shutdown); in-flight work finishes on its own. */
  close() {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  logEvery(key, ms = LOG_EVERY_MS) {
    const now = Date.now();
    const last = this.logged.get(key);
    if (last !== undefined && now - last < ms) return false;
    this.logged.set(key, now);
    return true;
  }

  missing() {
    return this.apis.filter((slug) => !this.held.has(slug));
  }

  // --- the request path --------------------------------------------------------------------

  /** {policy, missing}: the policy for `path`; or missing = the slug of an API without a
   * document that comes first (its paths are unknown: refuse); or both null. */
  choose(path) {
    for (const slug of this.apis) {
      const held = this.held.get(slug);
      if (held === undefined) return { policy: null, missing: slug };
      if (held.policy.coversPath(path)) return { policy: held.policy, missing: null };
    }
    return { policy: null, missing: null };
  }

  /**
   * The decision for a request and the policy it came from; null when no configured API
   * covers the path. Refused cross-origin requests (not from `requestOrigin`, the service's
   * own origin) are counted for telemetry by code.
   */
  decide(method, path, headers, requestOrigin = null) {
    const { policy, missing } = this.choose(path);
    let decision;
    if (policy !== null) decision = policy.decide(method, path, headers);
    else if (missing !== null) decision = this.coldDecision(method, path, headers, missing);
    else return null;
    if (!decision.allowed && decision.origin !== null && decision.origin !== requestOrigin) {
      this.countRefused(policy !== null ? policy.api : missing, decision.origin, decision.code, decision.reason);
    }
    return { decision, policy };
  }

  coldDecision(method, path, headers, slug) {
    const decision = decideWithoutPolicy({ method, path, headers });
    if (decision.origin !== null && this.logEvery("cold:" + slug)) {
      this.logger.error(
        `corsadmin: no policy document for ${slug} (${this.errors.get(slug) || "not fetched yet"}; no cache or ` +
          "bootstrap file has one): cross-origin requests get no CORS headers",
      );
    }
    return decision;
  }

  // --- health ------------------------------------------------------------------------------

  /** {ok, instance, apis: {slug: {version, etag, mode, age, stale, source, last_error}}}. */
  health() {
    const now = Date.now();
    const apis = {};
    let ok = true;
    for (const slug of this.apis) {
      const held = this.held.get(slug);
      if (held === undefined) {
        ok = false;
        apis[slug] = { version: null, etag: null, mode: null, age: null, stale: true, source: null, last_error: this.errors.get(slug) || null };
        continue;
      }
      const age = held.confirmedAt ? (now - held.confirmedAt) / 1000 : null;
      const stale = age === null || age > this.staleAfter;
      ok = ok && !stale;
      apis[slug] = {
        version: held.policy.version,
        etag: held.etag,
        mode: held.policy.mode,
        age: age === null ? null : Math.round(age * 1000) / 1000,
        stale,
        source: held.source,
        last_error: this.errors.get(slug) || null,
      };
    }
    return { ok, instance: this.instanceId, apis };
  }

  logMissing() {
    const missing = this.missing();
    if (missing.length) {
      this.logger.error(
        `corsadmin: no policy document for ${missing.join(", ")} (` +
          missing.map((slug) => `${slug}: ${this.errors.get(slug) || "not fetched"}`).join("; ") +
          ") and no cache or bootstrap file has one: cross-origin requests get no CORS headers until central answers",
      );
    }
  }

  logStaleness() {
    for (const [slug, state] of Object.entries(this.health().apis)) {
      if (!state.stale || !this.logEvery("stale:" + slug)) continue;
      if (state.version === null) {
        this.logger.error(`corsadmin: no policy document for ${slug}: ${state.last_error || "not fetched yet"}`);
      } else {
        this.logger.warn(
          `corsadmin: policy for ${slug} is stale: v${state.version} from ${state.source}, ${state.age} s since ` +
            `central confirmed it (last error: ${state.last_error}); still enforcing it`,
        );
      }
    }
  }

  // --- accepting documents -------------------------------------------------------------------

  /**
   * Verify, validate and install a document; refuse it (keeping the last good one) when it
   * fails. `body` is the exact document text. Resolves true when installed or confirmed.
   */
  async accept(slug, body, signature, etag, { confirmedAt, source }) {
    const current = this.held.get(slug);
    if (current !== undefined && etag && current.etag === etag && current.body === body) {
      if (confirmedAt > current.confirmedAt) this.install(slug, { ...current, confirmedAt });
      return true;
    }
    let policy;
    try {
      if (Buffer.byteLength(body, "utf8") > this.maxDocumentBytes) {
        throw new DocumentError(`the document is larger than maxDocumentBytes (${this.maxDocumentBytes})`);
      }
      if (this.verifySignatures) {
        if (this.verify === null) throw new DocumentError("central's public keys are not known yet (fetchPublicKeys)");
        await this.verify(body, signature);
      }
      let document;
      try {
        document = JSON.parse(body);
      } catch (error) {
        throw new DocumentError(`not JSON: ${error.message}`);
      }
      policy = compilePolicy(document);
      if (policy.api !== slug) throw new DocumentError(`the document is for API ${JSON.stringify(policy.api)}, not ${JSON.stringify(slug)}`);
    } catch (error) {
      this.refuse(slug, source, error.message);
      return false;
    }
    this.install(slug, { policy, body, signature: signature || null, etag: etag || null, confirmedAt, source });
    if (current === undefined || current.policy.version !== policy.version) {
      this.logger.info(`corsadmin: ${slug} v${policy.version} (${policy.mode}) from ${source}`);
    }
    if (source !== "cache-file" && source !== "bootstrap") this.writeCacheFile();
    return true;
  }

  refuse(slug, source, why) {
    const current = this.held.get(slug);
    const kept = current ? `keeping v${current.policy.version}` : "no document held";
    this.errors.set(slug, `refused a document from ${source}: ${why}`);
    this.logger.error(`corsadmin: refused the policy document for ${slug} from ${source}: ${why} (${kept})`);
  }

  install(slug, held) {
    this.held.set(slug, held);
    this.policies = this.apis.filter((name) => this.held.has(name)).map((name) => this.held.get(name).policy);
  }

  // --- sources -----------------------------------------------------------------------------

  /** Fill what is still missing from the cache file, then the bootstrap file. */
  async loadFiles() {
    if (this.cacheFile !== null && this.missing().length) {
      for (const entry of readEntries(this.cacheFile, "cache file", this.logger)) {
        const slug = slugOf(entry.document);
        if (slug !== null && this.apis.includes(slug) && !this.held.has(slug)) {
          await this.accept(slug, entry.document, entry.signature, entry.etag || null, {
            confirmedAt: Number(entry.confirmed_at) || 0,
            source: "cache-file",
          });
        }
      }
    }
    if (this.bootstrapFile !== null && this.missing().length) {
      for (const entry of readEntries(this.bootstrapFile, "bootstrap file", this.logger)) {
        const slug = slugOf(entry.document);
        if (slug !== null && this.apis.includes(slug) && !this.held.has(slug)) {
          await this.accept(slug, entry.document, entry.signature, null, { confirmedAt: 0, source: "bootstrap" });
        }
      }
    }
  }

  writeCacheFile() {
    if (this.cacheFile === null) return;
    const entries = [];
    for (const held of this.held.values()) {
      if (held.source === "bootstrap") continue;
      entries.push({ document: held.body, signature: held.signature, etag: held.etag, confirmed_at: held.confirmedAt });
    }
    const temporary = path.join(path.dirname(this.cacheFile), `.${path.basename(this.cacheFile)}.${process.pid}.tmp`);
    try {
      fs.mkdirSync(path.dirname(this.cacheFile), { recursive: true });
      fs.writeFileSync(temporary, JSON.stringify(entries));
      fs.renameSync(temporary, this.cacheFile);
    } catch (error) {
      if (this.logEvery("cache-file")) this.logger.warn(`corsadmin: cannot write cache file ${this.cacheFile}: ${error.message}`);
      try {
        fs.unlinkSync(temporary);
      } catch {
        // nothing to clean up
      }
    }
  }

  /**
   * GET `path` from central with the token: `timeout` bounds connecting and the response
   * head, `fetchDeadline` everything, `maxDocumentBytes` the body. Resolves {response,
   * bytes}; throws FetchError.
   */
  async get(path, headers = {}) {
    const head = new AbortController();
    const signal = AbortSignal.any([head.signal, AbortSignal.timeout(Math.round(this.fetchDeadline * 1000))]);
    const headTimer = setTimeout(() => head.abort(new Error(`no answer within ${this.timeout} s`)), this.timeout * 1000);
    try {
      const response = await fetch(`${this.url}${path}`, {
        headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json", "User-Agent": "corsadmin-node/1", ...headers },
        signal,
        redirect: "manual",
      });
      clearTimeout(headTimer);
      const declared = Number(response.headers.get("content-length") || 0);
      if (declared > this.maxDocumentBytes) {
        await response.body?.cancel();
        throw new FetchError(`central's answer is ${declared} bytes, more than maxDocumentBytes (${this.maxDocumentBytes})`);
      }
      const chunks = [];
      let size = 0;
      if (response.body) {
        for await (const chunk of response.body) {
          size += chunk.length;
          if (size > this.maxDocumentBytes) {
            throw new FetchError(`central's answer is more than maxDocumentBytes (${this.maxDocumentBytes})`);
          }
          chunks.push(chunk);
        }
      }
      return { response, bytes: Buffer.concat(chunks) };
    } catch (error) {
      if (error instanceof FetchError) throw error;
      const cause = error.cause ? `: ${error.cause.code || error.cause.message}` : "";
      const why = signal.aborted && signal.reason ? `${signal.reason.message || signal.reason}` : `${error.name}: ${error.message}${cause}`;
      throw new FetchError(`central unreachable: ${why}`);
    } finally {
      clearTimeout(headTimer);
    }
  }

  /** {body, etag, signature} from central (body null for 304); throws FetchError. */
  async fetchDocument(slug, etag) {
    const { response, bytes } = await this.get(`/api/v1/policies/${encodeURIComponent(slug)}`, etag ? { "If-None-Match": etag } : {});
    if (response.status === 304 && etag) return { body: null, etag, signature: null };
    if (response.status !== 200) {
      throw new FetchError(`central answered ${response.status}: ${bytes.toString("utf8").slice(0, 200)}`);
    }
    return {
      body: bytes.toString("utf8"),
      etag: response.headers.get("etag") || null,
      signature: response.headers.get("corsadmin-signature"),
    };
  }

  /** Trust on first use (fetchPublicKeys): central's JWKS, once. */
  async loadCentralKeys() {
    if (this.verify !== null || !this.fetchPublicKeys || !this.verifySignatures) return;
    const { response, bytes } = await this.get("/api/v1/keys");
    if (response.status !== 200) throw new FetchError(`central's keys: answered ${response.status}`);
    try {
      this.verify = verifier(loadPublicKeys(bytes.toString("utf8")));
    } catch (error) {
      throw new FetchError(`central's keys are unusable: ${error.message}`);
    }
    this.logger.warn(`corsadmin: trusting central's public keys fetched from ${this.url}/api/v1/keys (fetchPublicKeys)`);
  }

  async fetchAndAccept(slug) {
    const current = this.held.get(slug);
    let answer;
    try {
      await this.loadCentralKeys();
      answer = await this.fetchDocument(slug, current && current.source !== "bootstrap" ? current.etag : null);
    } catch (error) {
      if (error instanceof FetchError) this.errors.set(slug, error.message);
      throw error;
    }
    const now = Date.now();
    if (answer.body === null) {
      this.install(slug, { ...current, confirmedAt: now });
      this.errors.delete(slug);
      return true;
    }
    const accepted = await this.accept(slug, answer.body, answer.signature, answer.etag, { confirmedAt: now, source: "central" });
    if (accepted) this.errors.delete(slug);
    return accepted;
  }

  // --- the refresher -------------------------------------------------------------------------

  schedule(seconds) {
    if (this.closed || this.url === null) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.round(), seconds * 1000);
    this.timer.unref();
  }

  /** One refresh round for every API; resolves true when all are good. */
  async refresh() {
    let ok = true;
    for (const slug of this.apis) {
      try {
        ok = (await this.fetchAndAccept(slug)) && ok;
      } catch (error) {
        ok = false;
        if (!(error instanceof FetchError)) {
          this.logger.error(`corsadmin: refreshing ${slug} failed: ${error.stack || error}`);
        } else if (this.logEvery("fetch:" + slug, Math.max(this.interval, 10) * 1000)) {
          this.logger.warn(`corsadmin: cannot refresh ${slug}: ${error.message}`);
        }
      }
    }
    return ok;
  }

  async round({ first = false } = {}) {
    this.timer = null;
    if (this.closed || this.url === null) {
      if (first) this.logMissing();
      return;
    }
    let delay;
    try {
      if (await this.refresh()) {
        this.failures = 0;
        delay = jittered(this.interval);
      } else {
        this.failures += 1;
        delay = backoff(this.failures, this.interval);
      }
      if (first) this.logMissing();
      else this.logStaleness();
      if (this.telemetryEnabled && Date.now() >= this.nextTelemetry) {
        this.nextTelemetry = Date.now() + jittered(this.telemetryInterval) * 1000;
        await this.sendReport();
      }
    } catch (error) {
      // The refresher must outlive any bug or surprise.
      this.logger.error(`corsadmin: refresh round failed: ${error.stack || error}`);
      delay = backoff(Math.max(this.failures, 1), this.interval);
    }
    this.schedule(delay);
  }

  // --- telemetry -----------------------------------------------------------------------------

  /** Count one refused request (bounded: new keys past the limit are dropped). */
  countRefused(api, origin, code, reason) {
    const key = JSON.stringify([api, origin.slice(0, MAX_ORIGIN_CHARS), code]);
    const entry = this.refused.get(key);
    if (entry !== undefined) {
      entry.count += 1;
      return;
    }
    if (this.refused.size >= MAX_REFUSED_KEYS) {
      this.dropped += 1;
      return;
    }
    this.refused.set(key, { count: 1, sample: String(reason).slice(0, MAX_SAMPLE_CHARS) });
  }

  /** The next report (drains the counters; `restore` puts them back on failure). */
  reportPayload() {
    const refused = this.refused;
    const dropped = this.dropped;
    this.refused = new Map();
    this.dropped = 0;
    const health = this.health();
    return {
      instance: this.instanceId,
      service: this.service,
      heartbeat: Object.entries(health.apis).map(([api, state]) => ({
        api,
        version: state.version,
        etag: state.etag,
        mode: state.mode,
        age: state.age,
        stale: state.stale,
        source: state.source,
        last_error: state.last_error,
      })),
      refused: [...refused.entries()].map(([key, { count, sample }]) => {
        const [api, origin, reason] = JSON.parse(key);
        return { api, origin, reason, count, sample };
      }),
      dropped,
    };
  }

  restore(payload) {
    this.dropped += payload.dropped || 0;
    for (const item of payload.refused) {
      const key = JSON.stringify([item.api, item.origin, item.reason]);
      const entry = this.refused.get(key);
      if (entry !== undefined) entry.count += item.count;
      else if (this.refused.size < MAX_REFUSED_KEYS) this.refused.set(key, { count: item.count, sample: item.sample });
      else this.dropped += item.count;
    }
  }

  /** POST the heartbeat and refused counts to central; on failure keep the counts. */
  async sendReport() {
    if (this.url === null) return false;
    const payload = this.reportPayload();
    let response;
    try {
      response = await fetch(`${this.url}/api/v1/reports`, {
        method: "POST",
        headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json", "User-Agent": "corsadmin-node/1" },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(Math.round(this.fetchDeadline * 1000)),
        redirect: "manual",
      });
      await response.arrayBuffer();
    } catch (error) {
      this.restore(payload);
      if (this.logEvery("telemetry")) this.logger.info(`corsadmin: telemetry not sent: ${error.message}`);
      return false;
    }
    if (response.status >= 300) {
      if (response.status >= 500 || response.status === 429) this.restore(payload);
      if (this.logEvery("telemetry")) this.logger.info(`corsadmin: telemetry refused: ${response.status}`);
      return false;
    }
    return true;
  }
}

/** The api slug named in a document's text, or null (the full check comes in `accept`). */
function slugOf(body) {
  try {
    const document = JSON.parse(body);
    return document && typeof document.api === "string" ? document.api : null;
  } catch {
    return null;
  }
}

/**
 * The entries of a cache or bootstrap file: a JSON list of {"document": "<exact body>",
 * "signature": "<compact detached JWS>"}; also the list endpoint's answer saved as is
 * ({"policies": [...]}). A document given as an object (unsigned, development) is serialised.
 */
function readEntries(file, what, logger) {
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    if (error.code !== "ENOENT" || what !== "cache file") logger.error(`corsadmin: ${what} ${file} is unreadable: ${error.message}`);
    return [];
  }
  if (data && !Array.isArray(data) && Array.isArray(data.policies)) data = data.policies;
  if (!Array.isArray(data)) {
    logger.error(`corsadmin: ${what} ${file} is not a JSON list of {"document", "signature"}`);
    return [];
  }
  const entries = [];
  for (const item of data) {
    if (item && typeof item.document === "string") {
      entries.push(item);
    } else if (item && item.document && typeof item.document === "object") {
      entries.push({ ...item, document: canonicalJson(item.document) });
    } else if (item && typeof item === "object" && item.schema !== undefined) {
      entries.push({ document: canonicalJson(item), signature: null });
    } else {
      logger.error(`corsadmin: ${what} ${file}: an entry is not {"document", "signature"}; ignored`);
    }
  }
  return entries;
}

/**
 * The middleware options from the environment, the same names as the Python consumers':
 * CORSADMIN_URL, CORSADMIN_TOKEN, CORSADMIN_APIS (comma-separated), CORSADMIN_INTERVAL,
 * CORSADMIN_TIMEOUT, CORSADMIN_CACHE_FILE, CORSADMIN_BOOTSTRAP_FILE, CORSADMIN_PUBLIC_KEYS
 * (a JWKS file path or inline JSON), CORSADMIN_VERIFY_SIGNATURES ("false" turns verification
 * off), CORSADMIN_SERVICE, CORSADMIN_TELEMETRY_INTERVAL.
 */
function configFromEnv(env = process.env) {
  const number = (name, fallback) => (env[name] ? Number(env[name]) : fallback);
  return {
    url: env.CORSADMIN_URL || null,
    token: env.CORSADMIN_TOKEN || null,
    apis: env.CORSADMIN_APIS || "",
    interval: number("CORSADMIN_INTERVAL", 30),
    timeout: number("CORSADMIN_TIMEOUT", 2),
    fetchDeadline: number("CORSADMIN_FETCH_DEADLINE", 10),
    maxDocumentBytes: number("CORSADMIN_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES),
    startupWait: number("CORSADMIN_STARTUP_WAIT", 0),
    fetchPublicKeys: (env.CORSADMIN_FETCH_PUBLIC_KEYS || "false").toLowerCase() === "true",
    healthPath: env.CORSADMIN_HEALTH_PATH || null,
    telemetry: (env.CORSADMIN_TELEMETRY || "true").toLowerCase() !== "false",
    cacheFile: env.CORSADMIN_CACHE_FILE || null,
    bootstrapFile: env.CORSADMIN_BOOTSTRAP_FILE || null,
    publicKeys: env.CORSADMIN_PUBLIC_KEYS || undefined,
    verifySignatures: (env.CORSADMIN_VERIFY_SIGNATURES || "true").toLowerCase() !== "false",
    service: env.CORSADMIN_SERVICE || null,
    telemetryInterval: number("CORSADMIN_TELEMETRY_INTERVAL", 60),
  };
}

module.exports = { ConfigurationError, PolicyClient, backoff, canonicalJson, configFromEnv, jittered, ownOrigin };
