"use strict";
/**
 * Verifying signed policy documents (design.md, "Signed documents"): an Ed25519 JWS
 * (RFC 7515) with a detached payload, compact form `<b64url(header)>..<b64url(signature)>`,
 * protected header `{"alg": "EdDSA", "kid": "<RFC 7638 thumbprint>"}`; the payload is the
 * exact bytes of the document as served. Verification is `jose`'s, never hand-rolled.
 */

const fs = require("node:fs");

let josePromise = null;
/** jose is ESM-only: load it once, lazily (verification happens off the request path). */
function jose() {
  if (josePromise === null) josePromise = import("jose");
  return josePromise;
}

class SignatureError extends Error {
  constructor(message) {
    super(message);
    this.name = "SignatureError";
  }
}

/**
 * A JWKS from an object, inline JSON text, or a file path; throws with a clear message when
 * it is none of those or holds no key.
 */
function loadPublicKeys(value) {
  let jwks = value;
  if (typeof value === "string") {
    const text = value.trim();
    if (text.startsWith("{")) {
      try {
        jwks = JSON.parse(text);
      } catch (error) {
        throw new SignatureError(`publicKeys: inline JSON is not valid: ${error.message}`);
      }
    } else {
      try {
        jwks = JSON.parse(fs.readFileSync(text, "utf8"));
      } catch (error) {
        throw new SignatureError(`publicKeys: cannot read a JWKS from ${text}: ${error.message}`);
      }
    }
  }
  if (jwks === null || typeof jwks !== "object" || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new SignatureError('publicKeys: expected a JWKS, {"keys": [...]}, with at least one key');
  }
  for (const [index, key] of jwks.keys.entries()) {
    if (!key || key.kty !== "OKP" || key.crv !== "Ed25519" || typeof key.x !== "string") {
      throw new SignatureError(`publicKeys: keys[${index}] is not an Ed25519 public key (kty OKP, crv Ed25519)`);
    }
    if ("d" in key) throw new SignatureError(`publicKeys: keys[${index}] is a private key; give only public keys`);
  }
  return jwks;
}

/**
 * The protected header of a compact detached JWS, checked against the contract (as
 * policies/signatures.py checks it): exactly {"alg": "EdDSA", "kid": "<non-empty string>"}.
 */
function protectedHeader(signature) {
  if (typeof signature !== "string" || !signature) throw new SignatureError("the document is not signed");
  const parts = signature.split(".");
  if (parts.length !== 3 || parts[1] !== "" || !parts[0] || !parts[2]) {
    throw new SignatureError("the signature is not a compact JWS with a detached payload (<header>..<signature>)");
  }
  let header;
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
  } catch {
    throw new SignatureError("the signature's protected header is not JSON");
  }
  if (header === null || typeof header !== "object" || Array.isArray(header) || Object.keys(header).sort().join(",") !== "alg,kid") {
    throw new SignatureError('the protected header must be exactly {"alg", "kid"}');
  }
  if (header.alg !== "EdDSA") throw new SignatureError(`the signature's algorithm is ${JSON.stringify(header.alg)}, not "EdDSA"`);
  if (typeof header.kid !== "string" || !header.kid) throw new SignatureError("the signature names no key (kid)");
  return { header, parts };
}

/** A verifier: `await verify(bodyBytes, signature)` resolves, or rejects with SignatureError. */
function verifier(jwks) {
  const imported = new Map(); // kid -> CryptoKey
  async function keyFor(kid) {
    const cached = imported.get(kid);
    if (cached !== undefined) return cached;
    const entry = jwks.keys.find((key) => key.kid === kid);
    if (entry === undefined) throw new SignatureError(`the signature's key ${JSON.stringify(kid)} is not in the key set`);
    const { calculateJwkThumbprint, importJWK } = await jose();
    const jwk = { kty: "OKP", crv: "Ed25519", x: entry.x };
    // The kid is the RFC 7638 thumbprint: a key set that lies about it is broken.
    if ((await calculateJwkThumbprint(jwk)) !== kid) throw new SignatureError(`key ${JSON.stringify(kid)} does not match its thumbprint`);
    let key;
    try {
      key = await importJWK(jwk, "EdDSA");
    } catch (error) {
      throw new SignatureError(`key ${JSON.stringify(kid)} cannot be read: ${error.message}`);
    }
    imported.set(kid, key);
    return key;
  }
  return async function verify(body, signature) {
    const { header, parts } = protectedHeader(signature);
    const key = await keyFor(header.kid);
    const { compactVerify } = await jose();
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
    const jws = `${parts[0]}.${bytes.toString("base64url")}.${parts[2]}`;
    let result;
    try {
      result = await compactVerify(jws, key, { algorithms: ["EdDSA"] });
    } catch (error) {
      throw new SignatureError(`the signature does not verify: ${error.code || error.name}: ${error.message}`);
    }
    if (!Buffer.from(result.payload).equals(bytes)) throw new SignatureError("the signed payload differs");
    return result.protectedHeader;
  };
}

module.exports = { SignatureError, jose, loadPublicKeys, protectedHeader, verifier };
