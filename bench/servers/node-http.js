#!/usr/bin/env node
'use strict';
// The node:http server that rxloop's http example is measured against: the idiomatic hand-written
// hello world (`res.end('Hello World!\n')`, text/plain), keep-alive as node:http does it.
// /compute?ms=N does the example's CPU work (burnCpu, from the build in dist/) on the one
// thread, as a server does that has no worker pool: bench/http.js shows what that does to GET /.
//
//   node bench/servers/node-http.js [--port 8080] [--host 127.0.0.1]
//
// Prints `listening tcp://HOST:PORT` once bound; exits 0 on SIGINT/SIGTERM.
const http = require('node:http');
const { parseArgs } = require('node:util');
const { burnCpu } = require('../../dist/examples/http/compute-worker.js');

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const server = http.createServer((req, res) => {
  // GET / is routed without parsing a URL, as a minimal hello server would.
  if (req.url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('Hello World!\n');
  } else if (req.url.startsWith('/compute?')) {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(burnCpu(Number(new URL(req.url, 'http://x').searchParams.get('ms')) || 0));
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  }
});

server.on('error', (err) => {
  console.error(`node-http: ${err.message}`);
  process.exit(1);
});

server.listen(Number(values.port), values.host, () => {
  const { address, family, port } = server.address();
  const host = family === 'IPv6' ? `[${address}]` : address;
  console.log(`listening tcp://${host}:${port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
