#!/usr/bin/env node
'use strict';
// The server bench/soak.js keeps under load: the echo example and the redis example in one
// process, so that one RSS, one fd table and one CPU figure cover both.
//
//   node bench/servers/soak-server.js [--echo-port 0] [--redis-port 0] [--host 127.0.0.1] [--backend native|node]
//
// Prints `listening tcp://HOST:PORT` for the echo server, then for the redis server; on SIGINT or
// SIGTERM closes both gracefully and exits 0.
const { parseArgs } = require('node:util');

const { serve } = require('../../dist/lib');
const { startRedisServer } = require('../../dist/examples/redis');

const { values } = parseArgs({
  options: {
    'echo-port': { type: 'string', default: '0' },
    'redis-port': { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    backend: { type: 'string', default: 'native' },
  },
});

async function main() {
  const url = (port) => `tcp://${values.host}:${port}`;
  const servers = [
    serve(url(values['echo-port']), (conn) => conn.input$, { backend: values.backend }),
    startRedisServer({ address: url(values['redis-port']), backend: values.backend }),
  ];
  for (const server of servers) {
    for (const address of await server.listening) process.stdout.write(`listening ${address}\n`);
  }
  const stop = () => {
    setTimeout(() => process.exit(0), 5000).unref(); // connections that never finish do not hold the exit
    Promise.all(servers.map((server) => server.close())).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  console.error(`soak-server: ${error.message}`);
  process.exit(1);
});
