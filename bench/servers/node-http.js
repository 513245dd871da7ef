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
const { listen, serverArgs } = require('./serve-cli');
const { burnCpu } = require('../../dist/examples/http/compute-worker.js');

const values = serverArgs(8080);

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

listen('node-http', server, values);
