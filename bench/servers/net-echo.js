#!/usr/bin/env node
'use strict';
// The plain node:net echo server that rxloop is measured against: the idiomatic hand-written
// version, `socket.on('data', d => socket.write(d))`, with Nagle off (as in rxloop's default).
// Note that it ignores backpressure on purpose, as most hand-written servers do: a peer that never
// reads makes it buffer without bound (bench/idle.js shows how much).
//
//   node bench/servers/net-echo.js [--port 5000] [--host 127.0.0.1]
//
// Prints `listening tcp://HOST:PORT` once bound; exits 0 on SIGINT/SIGTERM.
const net = require('node:net');
const { listen, serverArgs } = require('./serve-cli');

const values = serverArgs(5000);

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', (d) => socket.write(d));
  socket.on('error', () => socket.destroy()); // a reset peer is not the server's problem
});

listen('net-echo', server, values);
