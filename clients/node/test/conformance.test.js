"use strict";
// Every language-neutral conformance case (conformance/cases/*.json) against decide().
const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { decide, decideWithoutPolicy } = require("..");

const CASES = path.resolve(__dirname, "../../../conformance/cases");
const NAMES = [
  "Access-Control-Allow-Origin",
  "Access-Control-Allow-Credentials",
  "Access-Control-Allow-Methods",
  "Access-Control-Allow-Headers",
  "Access-Control-Expose-Headers",
  "Access-Control-Max-Age",
  "Access-Control-Allow-Private-Network",
  "Vary",
];

function observed(headers) {
  const lowered = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return Object.fromEntries(NAMES.map((name) => [name, lowered[name.toLowerCase()] ?? null]));
}

const files = fs.readdirSync(CASES).filter((name) => name.endsWith(".json")).sort();
let total = 0;
for (const file of files) {
  const group = JSON.parse(fs.readFileSync(path.join(CASES, file), "utf8"));
  for (const entry of group.cases) {
    total += 1;
    test(`conformance ${group.group}: ${entry.name}`, () => {
      // Given a document and a request / When decide() runs / Then code, status, headers match
      const result =
        entry.document === null ? decideWithoutPolicy(entry.request) : decide(entry.document, entry.request);
      assert.deepEqual(
        { status: result.status, code: result.code, headers: observed(result.headers) },
        entry.expect,
      );
    });
  }
}

test("conformance: at least 150 cases were run", () => {
  assert.ok(total >= 150, `only ${total} cases`);
});
