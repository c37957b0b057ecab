// Serves a catch-all Express application behind the corsadmin middleware, once per bootstrap
// file, each on its own loopback port: `node express_server.js OPTIONS_JSON`. OPTIONS_JSON is
// a JSON list of middleware option sets (apis, bootstrapFile, publicKeys, ...). Prints the
// JSON list of ports once every server listens and has loaded its document.
"use strict";
const http = require("node:http");
const path = require("node:path");
const { createRequire } = require("node:module");

const pkg = path.resolve(__dirname, "../../clients/node");
const requireFromPackage = createRequire(path.join(pkg, "package.json"));
const express = requireFromPackage("express");
const { middleware } = require(pkg);

async function main() {
  const options = JSON.parse(process.argv[2]);
  const ports = [];
  for (const option of options) {
    // Logs go to stderr: stdout carries only the ports.
    const logger = { info: console.error, warn: console.error, error: console.error };
    const cors = middleware({ telemetry: false, logger, ...option });
    await cors.ready;
    const app = express();
    app.use(cors);
    app.use((req, res) => res.type("text/plain").send("ok"));
    const server = http.createServer(app);
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    ports.push(server.address().port);
  }
  console.log(JSON.stringify(ports));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
