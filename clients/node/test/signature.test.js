"use strict";
// Signature checks against the contract (design.md "Signed documents").
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { verifier, loadPublicKeys, SignatureError } = require("..");
const { keyPair, sign } = require("./helpers");

const BODY = JSON.stringify({ schema: 1, api: "billing", version: 1 });

async function compact(header, key, body = BODY) {
  const jose = await import("jose");
  const jws = await new jose.CompactSign(Buffer.from(body)).setProtectedHeader(header).sign(key.privateKey);
  const [h, , s] = jws.split(".");
  return `${h}..${s}`;
}

test("verify__contract_signature__passes_with_its_header", async () => {
  const key = await keyPair();
  assert.deepEqual(await verifier(key.jwks)(BODY, await sign(BODY, key)), { alg: "EdDSA", kid: key.kid });
});

test("verify__header_not_exactly_alg_and_kid__refused", async () => {
  // Given signatures whose protected headers break the contract
  const key = await keyPair();
  const verify = verifier(key.jwks);
  const cases = [
    [{ alg: "EdDSA" }, /exactly/],
    [{ alg: "EdDSA", kid: key.kid, b64: true, crit: ["b64"] }, /exactly/],
    [{ alg: "Ed25519", kid: key.kid }, /algorithm/],
    [{ alg: "EdDSA", kid: "" }, /names no key/],
    [{ alg: "EdDSA", kid: "unknown-kid" }, /not in the key set/],
  ];
  for (const [header, message] of cases) {
    // When verified / Then refused with the reason
    await assert.rejects(verify(BODY, await compact(header, key)), (error) => error instanceof SignatureError && message.test(error.message));
  }
});

test("verify__not_detached_or_garbage__refused", async () => {
  const key = await keyPair();
  const verify = verifier(key.jwks);
  const attached = (await sign(BODY, key)).replace("..", `.${Buffer.from(BODY).toString("base64url")}.`);
  await assert.rejects(verify(BODY, attached), /detached/);
  await assert.rejects(verify(BODY, "garbage"), /detached/);
  await assert.rejects(verify(BODY, null), /not signed/);
  await assert.rejects(verify(BODY, "e30..AAAA"), /exactly/);
});

test("verify__kid_that_is_not_the_thumbprint__refused", async () => {
  // Given a key set that names a key with another key's thumbprint
  const key = await keyPair();
  const other = await keyPair();
  const lying = { keys: [{ ...other.jwks.keys[0], kid: key.kid }] };
  await assert.rejects(verifier(lying)(BODY, await sign(BODY, key)), /thumbprint/);
});

test("load_public_keys__inline_json_and_private_keys__parsed_or_refused", async () => {
  const key = await keyPair();
  assert.deepEqual(loadPublicKeys(JSON.stringify(key.jwks)), key.jwks);
  assert.throws(() => loadPublicKeys({ keys: [{ ...key.jwks.keys[0], d: "secret" }] }), /private key/);
  assert.throws(() => loadPublicKeys("{not json"), /not valid/);
  assert.throws(() => loadPublicKeys({ keys: [] }), /at least one key/);
});
