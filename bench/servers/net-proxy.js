#!/usr/bin/env node
'use strict';
// The plain node:net TCP proxy that rxloop's proxy example is measured against: the idiomatic
// hand-written version, each accepted socket connected to the backend and the two piped into each
// other. pipe() gives backpressure both ways; with allowHalfOpen, a FIN on one side ends the other
// side's output only (half-close), as rxloop's proxy does. Nagle is off on both sockets.
//
//   node bench/servers/net-proxy.js --to tcp://HOST:PORT [--port 7000] [--host 127.0.0.1]
//
// Prints `listening tcp://HOST:PORT` once bound; exits 0 on SIGINT/SIGTERM.
const net = require('node:net');
const { listen, serverArgs } = require('./serve-cli');

const values = serverArgs(7000, { to: { type: 'string' } });
const target = values.to ? new URL(values.to) : null;
if (!target || target.protocol !== 'tcp:' || !target.port) {
  console.error('net-proxy: --to tcp://HOST:PORT is required');
  process.exit(2);
}
const backend = { host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port), noDelay: true, allowHalfOpen: true };

const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  const upstream = net.connect(backend);
  client.pipe(upstream);
  upstream.pipe(client);
  // A failure on either side (the backend refusing included) ends both.
  const fail = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', fail);
  upstream.on('error', fail);
  // Once both directions have ended, release the sockets.
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});

listen('net-proxy', server, values);
