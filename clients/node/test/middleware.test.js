"use strict";
// The Express/Connect middleware and its client against a real loopback HTTP server standing
// in for central: enforcement, polling, signatures, files, telemetry, health.
const { test, describe, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { ConfigurationError, PolicyClient } = require("..");
const { APP, EVIL, TOKEN, Central, documentFor, get, keyPair, quietLogger, sign, startApp, waitUntil } = require("./helpers");

const ACAO = "access-control-allow-origin";

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), "corsadmin-node-"));
}

describe("enforcing a verified document", () => {
  let key;
  let central;
  let app;
  before(async () => {
    key = await keyPair();
    central = new Central(key);
    await central.publish(documentFor());
    await central.listen();
    app = await startApp({
      url: central.url(), token: TOKEN, apis: ["billing"], interval: 0.2, fetchDeadline: 1, publicKeys: key.jwks, healthPath: "/_corsadmin",
    });
    await app.cors.client.firstRound;
  });
  after(async () => {
    await app.close();
    await central.close();
  });

  test("middleware__listed_origin__echoed_with_credentials_and_vary_merged", async () => {
    // Given a listed origin / When it GETs / Then ACAO, ACAC, ACEH, and Vary merged with the app's
    const response = await get(app.url + "/api/items", { Origin: APP });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get(ACAO), APP);
    assert.equal(response.headers.get("access-control-allow-credentials"), "true");
    assert.equal(response.headers.get("access-control-expose-headers"), "x-request-id");
    assert.equal(response.headers.get("vary"), "Accept-Encoding, Origin");
  });

  test("middleware__refused_origin__app_answers_without_cors_headers", async () => {
    const response = await get(app.url + "/api/items", { Origin: EVIL });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get(ACAO), null);
    assert.equal(response.headers.get("vary"), "Accept-Encoding, Origin");
  });

  test("middleware__app_sets_its_own_cors_headers__replaced_by_the_policy", async () => {
    // Given a route that sets ACAO * itself / Then a refused origin gets none, an allowed one its own
    const refused = await get(app.url + "/api/own-cors", { Origin: EVIL });
    assert.equal(refused.headers.get(ACAO), null);
    assert.equal(refused.headers.get("access-control-allow-credentials"), null);
    const allowed = await get(app.url + "/api/own-cors", { Origin: APP });
    assert.equal(allowed.headers.get(ACAO), APP);
    assert.equal(allowed.headers.get("access-control-allow-credentials"), "true");
    const raw = await get(app.url + "/api/write-head", { Origin: EVIL });
    assert.equal(raw.headers.get(ACAO), null);
    assert.equal(raw.headers.get("vary"), "Cookie, Origin");
  });

  test("middleware__preflight__answered_before_auth_with_exact_headers", async () => {
    // Given a route that needs auth / When a preflight arrives / Then 200 from the middleware
    const response = await get(
      app.url + "/api/private",
      { Origin: APP, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization" },
      "OPTIONS",
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get(ACAO), APP);
    assert.equal(response.headers.get("access-control-allow-methods"), "GET, POST, PUT");
    assert.equal(response.headers.get("access-control-allow-headers"), "authorization, content-type");
    assert.equal(response.headers.get("access-control-max-age"), "600");
  });

  test("middleware__refused_preflight__403_without_cors_headers", async () => {
    const response = await get(app.url + "/api/items", { Origin: APP, "Access-Control-Request-Method": "DELETE" }, "OPTIONS");
    assert.equal(response.status, 403);
    assert.equal(response.headers.get(ACAO), null);
    assert.match(response.headers.get("vary"), /Access-Control-Request-Method/);
  });

  test("middleware__errors_401_and_500__still_carry_cors_headers", async () => {
    const unauthorised = await get(app.url + "/api/private", { Origin: APP });
    assert.equal(unauthorised.status, 401);
    assert.equal(unauthorised.headers.get(ACAO), APP);
    const failed = await get(app.url + "/api/boom", { Origin: APP });
    assert.equal(failed.status, 500);
    assert.equal(failed.headers.get(ACAO), APP);
  });

  test("middleware__health_path__serves_health_as_json", async () => {
    const response = await fetch(app.url + "/_corsadmin");
    assert.equal(response.status, 200);
    const health = await response.json();
    assert.equal(health.apis.billing.version >= 1, true);
  });

  test("middleware__path_outside_paths__untouched", async () => {
    const response = await get(app.url + "/health", { Origin: APP });
    assert.equal(response.headers.get(ACAO), null);
    assert.equal(response.headers.get("vary"), null);
  });

  test("client__polls_with_if_none_match__304_confirms_the_document", async () => {
    // Given the client has the document / When it polls / Then it sends the ETag and central says 304
    await waitUntil(() => central.requests.some((r) => r.headers["if-none-match"]), 5, "conditional poll");
    const conditional = central.requests.find((r) => r.headers["if-none-match"]);
    assert.equal(conditional.headers["if-none-match"], central.documents.get("billing").etag);
    const health = app.cors.health();
    assert.equal(health.ok, true);
    assert.equal(health.apis.billing.version, 1);
    assert.equal(health.apis.billing.source, "central");
    assert.equal(health.apis.billing.stale, false);
  });

  test("client__central_changes_the_document__applied_within_an_interval", async () => {
    // Given a new version with another origin / When it is published / Then the app follows it
    const partner = "https://partner.example.com";
    await central.publish(documentFor({ version: 2, origins: { exact: [APP, partner] } }));
    await waitUntil(async () => (await get(app.url + "/api/items", { Origin: partner })).headers.get(ACAO) === partner, 5, "change applied");
    assert.equal(app.cors.health().apis.billing.version, 2);
  });

  test("client__forged_document__refused_and_last_good_kept", async () => {
    // Given central (or a proxy) serves a rewritten body under the old signature
    const before = app.cors.health().apis.billing.version;
    central.mode = "forge";
    try {
      // When the client polls / Then it refuses it, says why, and keeps enforcing the last good one
      await waitUntil(() => /signature/.test(app.cors.health().apis.billing.last_error || ""), 5, "forgery refused");
      assert.equal(app.cors.health().apis.billing.version, before);
      const response = await get(app.url + "/api/items", { Origin: EVIL });
      assert.equal(response.headers.get(ACAO), null);
    } finally {
      central.mode = "normal";
    }
    await waitUntil(() => app.cors.health().apis.billing.last_error === null, 5, "recovered");
  });

  test("client__central_goes_away__last_good_document_kept_and_reported_stale", async () => {
    // Given central answers 503 / Then the app keeps enforcing and the error is visible
    central.mode = "down";
    try {
      await waitUntil(() => /503/.test(app.cors.health().apis.billing.last_error || ""), 5, "error seen");
      const response = await get(app.url + "/api/items", { Origin: APP });
      assert.equal(response.headers.get(ACAO), APP);
      await waitUntil(() => app.cors.health().apis.billing.stale, 10, "stale");
    } finally {
      central.mode = "normal";
    }
    await waitUntil(() => !app.cors.health().apis.billing.stale, 10, "fresh again");
  });
});

describe("start-up, files and configuration", () => {
  let key;
  before(async () => {
    key = await keyPair();
  });

  test("configuration__missing_public_keys__clear_error", () => {
    assert.throws(() => new PolicyClient({ url: "http://x", token: TOKEN, apis: ["billing"] }), ConfigurationError);
    assert.throws(() => new PolicyClient({ url: "http://x", token: TOKEN, apis: [], publicKeys: key.jwks }), /apis/);
    assert.throws(() => new PolicyClient({ apis: ["billing"], publicKeys: key.jwks }), /url/);
    assert.throws(() => new PolicyClient({ url: "http://x", apis: ["billing"], publicKeys: key.jwks }), /token/);
    assert.throws(
      () => new PolicyClient({ url: "http://x", token: TOKEN, apis: ["billing"], publicKeys: { keys: [{ kty: "RSA" }] } }),
      /Ed25519/,
    );
    assert.throws(() => new PolicyClient({ url: "http://x", token: TOKEN, apis: ["billing"], publicKeys: "/nonexistent.json" }), /cannot read/);
  });

  test("cold_start__central_down_no_files__refuses_cross_origin_with_no_policy", async () => {
    // Given nothing reachable and nothing on disk
    const central = new Central(key);
    await central.listen();
    central.mode = "down";
    const app = await startApp({ url: central.url(), token: TOKEN, apis: ["billing"], interval: 5, publicKeys: key.jwks });
    try {
      await app.cors.client.firstRound;
      // When a cross-origin request and a preflight arrive / Then no CORS headers, preflight 403
      const response = await get(app.url + "/api/items", { Origin: APP });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get(ACAO), null);
      const preflight = await get(app.url + "/api/items", { Origin: APP, "Access-Control-Request-Method": "PUT" }, "OPTIONS");
      assert.equal(preflight.status, 403);
      const decided = app.cors.client.decide("GET", "/api/items", { origin: APP });
      assert.equal(decided.decision.code, "no-policy");
      assert.equal(app.cors.health().ok, false);
    } finally {
      await app.close();
      await central.close();
    }
  });

  test("start_up__central_hangs__bootstrap_at_once_fetch_ended_by_its_deadline", async () => {
    // Given central accepts connections but never answers, and a signed bootstrap file
    const central = new Central(key);
    await central.listen();
    central.mode = "hang";
    const dir = tmpdir();
    const body = JSON.stringify(documentFor({ version: 5 }));
    const bootstrap = path.join(dir, "bootstrap.json");
    fs.writeFileSync(bootstrap, JSON.stringify([{ document: body, signature: await sign(body, key) }]));
    const client = new PolicyClient({
      url: central.url(), token: TOKEN, apis: "billing", timeout: 0.3, bootstrapFile: bootstrap, publicKeys: key.jwks, logger: quietLogger(),
    });
    try {
      // When it starts / Then the bootstrap document applies at once
      await client.start();
      assert.equal(client.health().apis.billing.version, 5);
      assert.equal(client.health().apis.billing.source, "bootstrap");
      // And the first fetch ends at its deadline (the head timeout), saying why
      await client.firstRound;
      assert.match(client.health().apis.billing.last_error, /central unreachable: no answer within 0.3 s/);
    } finally {
      client.close();
      await central.close();
    }
  });

  test("cache_file__written_after_a_fetch__read_when_central_is_gone", async () => {
    // Given a client that fetched once with a cache file
    const central = new Central(key);
    await central.publish(documentFor({ version: 3 }));
    await central.listen();
    const dir = tmpdir();
    const cacheFile = path.join(dir, "cache", "policies.json");
    const options = { url: central.url(), token: TOKEN, apis: ["billing"], cacheFile, publicKeys: key.jwks, logger: quietLogger(), timeout: 0.5 };
    const first = new PolicyClient(options);
    await first.start();
    await first.firstRound;
    first.close();
    const entries = JSON.parse(fs.readFileSync(cacheFile, "utf8"));
    assert.equal(entries.length, 1);
    assert.equal(entries[0].document, central.documents.get("billing").body);
    assert.equal(entries[0].signature, central.documents.get("billing").signature);
    // When central is gone and a new process starts / Then it enforces the cached document
    await central.close();
    const second = new PolicyClient(options);
    try {
      await second.start();
      assert.equal(second.health().apis.billing.version, 3);
      assert.equal(second.health().apis.billing.source, "cache-file");
      assert.equal(second.decide("GET", "/api/x", { origin: APP }).decision.code, "allowed");
    } finally {
      second.close();
    }
  });

  test("cache_file__tampered__refused_and_logged", async () => {
    // Given a cache file whose document was edited after signing
    const dir = tmpdir();
    const body = JSON.stringify(documentFor());
    const signature = await sign(body, key);
    const tampered = body.replace(APP, EVIL);
    const cacheFile = path.join(dir, "cache.json");
    fs.writeFileSync(cacheFile, JSON.stringify([{ document: tampered, signature }]));
    const logger = quietLogger();
    const client = new PolicyClient({ bootstrapFile: path.join(dir, "none.json"), cacheFile, apis: ["billing"], publicKeys: key.jwks, logger });
    await client.start();
    // Then nothing is held, and the log names the source and the reason
    assert.equal(client.health().apis.billing.version, null);
    assert.ok(logger.lines.some((line) => /cache-file/.test(line) && /signature/.test(line)), logger.lines.join("\n"));
    assert.equal(client.decide("GET", "/api/x", { origin: EVIL }).decision.allowed, false);
  });

  test("bootstrap__unsigned_document__refused_unless_verification_is_off", async () => {
    const dir = tmpdir();
    const bootstrap = path.join(dir, "bootstrap.json");
    fs.writeFileSync(bootstrap, JSON.stringify([documentFor()]));
    const strict = new PolicyClient({ bootstrapFile: bootstrap, apis: ["billing"], publicKeys: key.jwks, logger: quietLogger() });
    await strict.start();
    assert.equal(strict.health().apis.billing.version, null);
    assert.match(strict.health().apis.billing.last_error, /not signed/);
    const logger = quietLogger();
    const lax = new PolicyClient({ bootstrapFile: bootstrap, apis: ["billing"], verifySignatures: false, logger });
    await lax.start();
    assert.equal(lax.health().apis.billing.version, 1);
    assert.ok(logger.lines.some((line) => /VERIFICATION IS OFF/.test(line)));
  });

  test("bootstrap__document_for_another_api_or_bad_schema__refused", async () => {
    const dir = tmpdir();
    const bootstrap = path.join(dir, "bootstrap.json");
    const other = JSON.stringify({ ...documentFor(), schema: 2 });
    fs.writeFileSync(bootstrap, JSON.stringify([{ document: other, signature: await sign(other, key) }]));
    const client = new PolicyClient({ bootstrapFile: bootstrap, apis: ["billing"], publicKeys: key.jwks, logger: quietLogger() });
    await client.start();
    assert.match(client.health().apis.billing.last_error, /unknown schema 2/);
  });

  test("signature__another_key__refused", async () => {
    const other = await keyPair();
    const dir = tmpdir();
    const body = JSON.stringify(documentFor());
    const bootstrap = path.join(dir, "bootstrap.json");
    fs.writeFileSync(bootstrap, JSON.stringify([{ document: body, signature: await sign(body, other) }]));
    const client = new PolicyClient({ bootstrapFile: bootstrap, apis: ["billing"], publicKeys: key.jwks, logger: quietLogger() });
    await client.start();
    assert.equal(client.health().apis.billing.version, null);
    assert.match(client.health().apis.billing.last_error, /not in the key set/);
  });
});

describe("report-only and telemetry", () => {
  test("report_only__app_headers_left_alone__refusals_reported_by_code", async () => {
    // Given a report-only policy and an app that sets its own CORS headers
    const key = await keyPair();
    const central = new Central(key);
    await central.publish(documentFor({ mode: "report-only" }));
    await central.listen();
    const app = await startApp({
      url: central.url(), token: TOKEN, apis: ["billing"], interval: 0.2, telemetryInterval: 0.2, publicKeys: key.jwks, service: "shop",
      startupWait: 5,
    });
    try {
      await app.cors.ready;
      assert.equal(app.cors.health().apis.billing.version, 1); // startupWait: central's answer awaited
      // When a refused origin calls / Then the app's own headers pass unchanged
      const response = await get(app.url + "/api/own-cors", { Origin: EVIL });
      assert.equal(response.headers.get(ACAO), "*");
      assert.equal(response.headers.get("access-control-allow-credentials"), "false");
      const preflight = await get(app.url + "/api/items", { Origin: EVIL, "Access-Control-Request-Method": "PUT" }, "OPTIONS");
      // Express's own OPTIONS answer: the middleware did not step in
      assert.equal(preflight.status, 200);
      assert.equal(preflight.headers.get("allow"), "GET, HEAD");
      assert.equal(preflight.headers.get(ACAO), null);
      // A same-origin request is never counted
      await get(app.url + "/api/items", { Origin: app.url });
      // And central receives a heartbeat and the refusals, counted by code
      await waitUntil(() => central.reports.some((r) => r.refused.length > 0), 5, "report");
      const report = central.reports.find((r) => r.refused.length > 0);
      assert.equal(report.service, "shop");
      assert.ok(report.instance);
      assert.deepEqual(report.heartbeat[0].api, "billing");
      assert.equal(report.heartbeat[0].mode, "report-only");
      assert.equal(report.heartbeat[0].version, 1);
      const counted = Object.fromEntries(report.refused.map((r) => [r.reason, r]));
      assert.equal(counted["origin-not-allowed"].origin, EVIL);
      assert.equal(counted["origin-not-allowed"].count, 2);
      assert.match(counted["origin-not-allowed"].sample, /not allowed/);
      assert.ok(!report.refused.some((r) => r.origin === app.url));
    } finally {
      await app.close();
      await central.close();
    }
  });

  test("telemetry__central_down__counts_kept_for_the_next_report", async () => {
    const key = await keyPair();
    const dir = tmpdir();
    const body = JSON.stringify(documentFor());
    const bootstrap = path.join(dir, "b.json");
    fs.writeFileSync(bootstrap, JSON.stringify([{ document: body, signature: await sign(body, key) }]));
    const client = new PolicyClient({
      url: "http://127.0.0.1:9", token: TOKEN, apis: ["billing"], bootstrapFile: bootstrap, publicKeys: key.jwks, logger: quietLogger(), timeout: 0.3,
    });
    await client.start();
    await client.firstRound;
    client.close();
    client.decide("GET", "/api/x", { origin: EVIL });
    client.decide("GET", "/api/x", { origin: EVIL });
    assert.equal(await client.sendReport(), false);
    const payload = client.reportPayload();
    assert.deepEqual(payload.refused.map((r) => [r.origin, r.reason, r.count]), [[EVIL, "origin-not-allowed", 2]]);
  });
});

describe("configuration from the environment", () => {
  test("config_from_env__corsadmin_variables__middleware_options", () => {
    const { configFromEnv } = require("..");
    const options = configFromEnv({
      CORSADMIN_URL: "http://central",
      CORSADMIN_TOKEN: "cors_x",
      CORSADMIN_APIS: "a,b",
      CORSADMIN_INTERVAL: "2.5",
      CORSADMIN_PUBLIC_KEYS: "/etc/keys.json",
      CORSADMIN_VERIFY_SIGNATURES: "False",
    });
    assert.equal(options.url, "http://central");
    assert.equal(options.apis, "a,b");
    assert.equal(options.interval, 2.5);
    assert.equal(options.timeout, 2);
    assert.equal(options.publicKeys, "/etc/keys.json");
    assert.equal(options.verifySignatures, false);
    assert.equal(configFromEnv({}).verifySignatures, true);
  });
});

describe("limits, keys on first use, Connect and mount points", () => {
  test("max_document_bytes__larger_answer__refused_last_good_kept", async () => {
    // Given central serves a document larger than the limit
    const key = await keyPair();
    const central = new Central(key);
    const big = documentFor({ origins: { exact: [APP, ...Array.from({ length: 200 }, (_, i) => `https://h${i}.example.com`)] } });
    await central.publish(big);
    await central.listen();
    const client = new PolicyClient({ url: central.url(), token: TOKEN, apis: ["billing"], publicKeys: key.jwks, maxDocumentBytes: 2048, logger: quietLogger() });
    try {
      // When it fetches / Then the answer is refused with the reason
      await client.start();
      await client.firstRound;
      assert.equal(client.health().apis.billing.version, null);
      assert.match(client.health().apis.billing.last_error, /maxDocumentBytes \(2048\)/);
    } finally {
      client.close();
      await central.close();
    }
  });

  test("fetch_public_keys__opt_in__central_keys_trusted_on_first_use", async () => {
    // Given central publishes its JWKS at /api/v1/keys and no keys are configured
    const key = await keyPair();
    const central = new Central(key);
    await central.publish(documentFor());
    const handle = central.handle.bind(central);
    central.handle = (req, res) => {
      if (req.url === "/api/v1/keys") return res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(key.jwks));
      return handle(req, res);
    };
    await central.listen();
    const logger = quietLogger();
    const client = new PolicyClient({ url: central.url(), token: TOKEN, apis: ["billing"], fetchPublicKeys: true, logger });
    try {
      await client.start();
      await client.firstRound;
      // Then the document verifies with them, and the log says the keys were trusted on first use
      assert.equal(client.health().apis.billing.version, 1);
      assert.ok(logger.lines.some((line) => /fetchPublicKeys/.test(line)));
    } finally {
      client.close();
      await central.close();
    }
  });

  test("connect_style_server__no_req_path__decoded_path_used", async () => {
    // Given a plain node:http server (Connect's interface: no req.path), a bootstrap document
    const http = require("node:http");
    const { middleware } = require("..");
    const key = await keyPair();
    const dir = tmpdir();
    const body = JSON.stringify(documentFor({ paths: "^/api/caf\u00e9$" }));
    const bootstrap = path.join(dir, "b.json");
    fs.writeFileSync(bootstrap, JSON.stringify([{ document: body, signature: await sign(body, key) }]));
    const cors = middleware({ bootstrapFile: bootstrap, apis: "billing", publicKeys: key.jwks, logger: quietLogger() });
    const server = http.createServer((req, res) => cors(req, res, () => res.end("ok")));
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      // When a request for the percent-encoded path arrives / Then the policy covers it
      const url = `http://127.0.0.1:${server.address().port}`;
      const response = await get(url + "/api/caf%C3%A9?x=1", { Origin: APP });
      assert.equal(response.headers.get(ACAO), APP);
      assert.equal((await get(url + "/api/other", { Origin: APP })).headers.get(ACAO), null);
    } finally {
      server.close();
    }
  });

  test("express_sub_app__mounted_under_a_prefix__paths_relative_to_the_mount", async () => {
    // Given the middleware inside a sub-app mounted at /svc, policy paths ^/api/
    const http = require("node:http");
    const express = require("express");
    const { middleware } = require("..");
    const key = await keyPair();
    const dir = tmpdir();
    const body = JSON.stringify(documentFor());
    const bootstrap = path.join(dir, "b.json");
    fs.writeFileSync(bootstrap, JSON.stringify([{ document: body, signature: await sign(body, key) }]));
    const sub = express();
    sub.use(middleware({ bootstrapFile: bootstrap, apis: "billing", publicKeys: key.jwks, logger: quietLogger() }));
    sub.get("/api/items", (req, res) => res.json([]));
    const app = express();
    app.use("/svc", sub);
    const server = http.createServer(app);
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      // When /svc/api/items is requested / Then the policy applies to /api/items inside the app
      const response = await get(`http://127.0.0.1:${server.address().port}/svc/api/items`, { Origin: APP });
      assert.equal(response.headers.get(ACAO), APP);
    } finally {
      server.close();
    }
  });

  test("backoff__failures__exponential_with_jitter_capped_at_twice_the_interval", () => {
    const { backoff, jittered } = require("../lib/client");
    for (let i = 0; i < 200; i += 1) {
      const first = backoff(1, 30);
      assert.ok(first >= 0.25 && first <= 0.5, String(first));
      const third = backoff(3, 30);
      assert.ok(third >= 1 && third <= 2, String(third));
      const many = backoff(50, 3);
      assert.ok(many >= 3 && many <= 6, String(many));
      const every = jittered(10);
      assert.ok(every >= 9 && every <= 11, String(every));
    }
  });

  test("canonical_json__document_object__as_python_json_dumps_sort_keys", () => {
    const { canonicalJson } = require("../lib/client");
    const text = canonicalJson({ b: [1, { d: "caf\u00e9", c: null }], a: true });
    assert.equal(text, '{"a":true,"b":[1,{"c":null,"d":"caf\\u00e9"}]}');
  });
});
