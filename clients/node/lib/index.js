"use strict";
/**
 * corsadmin for Node.js: the CORS decision engine (`decide`, RE2 semantics, the same answers
 * as the Python engine on every conformance case) and the Express/Connect `middleware` that
 * keeps its policy fresh from central and verifies every document's signature.
 */
const cors = require("./cors");
const { ConfigurationError, PolicyClient, configFromEnv, ownOrigin } = require("./client");
const { middleware } = require("./middleware");
const { SignatureError, loadPublicKeys, verifier } = require("./signature");

module.exports = {
  ...cors,
  ConfigurationError,
  PolicyClient,
  configFromEnv,
  SignatureError,
  loadPublicKeys,
  middleware,
  ownOrigin,
  verifier,
};
