"use strict";
// Shared test parts: Ed25519 keys and detached-JWS signing (jose), a stand-in for central's
// policy and report endpoints on a real loopback HTTP server, an Express app under the
// middleware, and a bounded poll.
const http = require("node:http");
const crypto = require("node:crypto");
const express = require("express");
const { middleware } = require("..");

const APP = "https://app.example.com";
const EVIL = "https://evil.example.net";
const TOKEN = "cors_test-token";

function documentFor(changes = {}) {
  const { origins = {}, ...rest } = changes;
  return {
    schema: 1,
    api: "billing",
    version: 1,
    updated_at: "2026-11-25T12:00:00Z",
    mode: "enforce",
    paths: "^/api/",
    origins: { exact: [APP], wildcard: [], regex: [], allow_all: false, allow_null: false, ...origins },
    methods: ["GET", "POST", "PUT"],
    request_headers: ["authorization", "content-type"],
    expose_headers: ["x-request-id"],
    allow_credentials: true,
    max_age: 600,
    allow_private_network: false,
    ...rest,
  };
}

async function keyPair() {
  const jose = await import("jose");
  const { publicKey, privateKey } = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  const kid = await jose.calculateJwkThumbprint(jwk);
  return { privateKey, kid, jwks: { keys: [{ ...jwk, kid, alg: "EdDSA", use: "sig" }] } };
}

/** The compact detached JWS of `body` (exact bytes): `<header>..<signature>`. */
async function sign(body, key) {
  const jose = await import("jose");
  const jws = await new jose.CompactSign(Buffer.from(body, "utf8"))
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid })
    .sign(key.privateKey);
  const [header, , signature] = jws.split(".");
  return `${header}..${signature}`;
}

/** Central's policy endpoint (ETag, If-None-Match, Corsadmin-Signature) and report endpoint. */
class Central {
  constructor(key) {
    this.key = key;
    this.documents = new Map();
    this.requests = [];
    this.reports = [];
    this.mode = "normal"; // normal | down (500) | hang | forge
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async publish(document) {
    const body = JSON.stringify(document);
    const etag = `"${crypto.createHash("sha256").update(body).digest("hex")}"`;
    this.documents.set(document.api, { body, etag, signature: await sign(body, this.key) });
  }

  handle(req, res) {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      this.requests.push({ method: req.method, url: req.url, headers: req.headers });
      if (this.mode === "hang") return; // never answers: the client's deadline must end it
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401, { "WWW-Authenticate": "Bearer" }).end();
        return;
      }
      if (req.method === "POST" && req.url === "/api/v1/reports") {
        this.reports.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        res.writeHead(202, { "Content-Type": "application/json" }).end('{"stored":1,"ignored":0}');
        return;
      }
      if (this.mode === "down") {
        res.writeHead(503).end("down");
        return;
      }
      const slug = decodeURIComponent(req.url.replace("/api/v1/policies/", ""));
      const entry = this.documents.get(slug);
      if (entry === undefined) {
        res.writeHead(404).end();
        return;
      }
      if (req.headers["if-none-match"] === entry.etag && this.mode !== "forge") {
        res.writeHead(304, { ETag: entry.etag }).end();
        return;
      }
      let body = entry.body;
      if (this.mode === "forge") {
        // A proxy or cache rewrote the document: one more origin, the old signature kept.
        const forged = JSON.parse(body);
        forged.origins.exact.push(EVIL);
        forged.version += 100;
        body = JSON.stringify(forged);
      }
      res.writeHead(200, {
        "Content-Type": "application/json",
        ETag: this.mode === "forge" ? '"forged"' : entry.etag,
        "Corsadmin-Signature": entry.signature,
      });
      res.end(body);
    });
  }

  listen() {
    return new Promise((resolve) => this.server.listen(0, "127.0.0.1", () => resolve(this.url())));
  }

  url() {
    return `http://127.0.0.1:${this.server.address().port}`;
  }

  close() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** An Express app under the middleware; its routes set their own CORS and Vary headers. */
async function startApp(options) {
  const cors = middleware({ logger: quietLogger(), ...options });
  const app = express();
  app.use(cors);
  app.get("/api/items", (req, res) => {
    res.set("X-Request-Id", "r1");
    res.set("Vary", "Accept-Encoding");
    res.json({ items: [1] });
  });
  app.get("/api/own-cors", (req, res) => {
    res.set("Access-Control-Allow-Origin", "*");
    res.set("Access-Control-Allow-Credentials", "false");
    res.json({ ok: true });
  });
  app.get("/api/write-head", (req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain", "Access-Control-Allow-Origin": "*", Vary: "Cookie" });
    res.end("raw");
  });
  app.get("/api/boom", () => {
    throw new Error("boom");
  });
  app.get("/api/private", (req, res) => {
    if (!req.headers.authorization) return res.status(401).json({ detail: "unauthorised" });
    return res.json({ secret: true });
  });
  app.get("/health", (req, res) => res.json(cors.health()));
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    cors,
    server,
    async close() {
      cors.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function quietLogger() {
  const lines = [];
  const log = (level) => (message) => lines.push(`${level} ${message}`);
  return { lines, info: log("info"), warn: log("warn"), error: log("error") };
}

async function waitUntil(predicate, seconds, what = "condition") {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not true within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function get(url, headers = {}, method = "GET") {
  const response = await fetch(url, { method, headers });
  await response.arrayBuffer();
  return response;
}

module.exports = { APP, EVIL, TOKEN, Central, documentFor, get, keyPair, quietLogger, sign, startApp, waitUntil };
