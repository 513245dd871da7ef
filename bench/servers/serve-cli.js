'use strict';
// What every baseline server here shares: `--port`/`--host` (and any extra options), the
// `listening tcp://HOST:PORT` line once bound, exit 1 on a listen error, exit 0 on SIGINT/SIGTERM.
const { parseArgs } = require('node:util');

/** The command line's values: port and host, with `extra` parseArgs options. */
function serverArgs(defaultPort, extra = {}) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: String(defaultPort) },
      host: { type: 'string', default: '127.0.0.1' },
      ...extra,
    },
  });
  return values;
}

/** Listens `server` (a net or http server) where the command line says, and announces it. */
function listen(name, server, values) {
  server.on('error', (err) => {
    console.error(`${name}: ${err.message}`);
    process.exit(1);
  });
  server.listen(Number(values.port), values.host, () => {
    const { address, family, port } = server.address();
    const host = family === 'IPv6' ? `[${address}]` : address;
    console.log(`listening tcp://${host}:${port}`);
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
}

module.exports = { serverArgs, listen };
