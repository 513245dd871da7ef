#!/usr/bin/env bun
'use strict';
// Bun.serve's hello world, for bench/http.js: `Hello World!\n` as text/plain.
//
//   bun bench/servers/bun-http.js [--port 8080] [--host 127.0.0.1]
//
// Prints `listening tcp://HOST:PORT` once bound; exits 0 on SIGINT/SIGTERM.
const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const server = Bun.serve({
  hostname: values.host,
  port: Number(values.port),
  fetch: () => new Response('Hello World!\n', { headers: { 'Content-Type': 'text/plain' } }),
});
console.log(`listening tcp://${values.host}:${server.port}`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
