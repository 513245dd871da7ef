// 3,000 connections that come and go — closing normally, resetting, half-closing — must leave the
// echo server (a child process, watched through /proc) with the fds it had before, and idle.
import { strict as assert } from 'node:assert';

import { ChildServer } from './support/child-server';
import { BACKENDS, delay, eventually } from './support/helpers';
import { churn } from './support/peers';

const CONNECTIONS = 3000;

for (const backend of BACKENDS) {
  describe(`connection churn (${backend} backend, echo server in a child process)`, function () {
    this.timeout(120_000);
    let server: ChildServer;

    before(async () => {
      server = await ChildServer.start(['echo', '--port', '0', '--backend', backend]);
    });

    after(async () => {
      assert.equal(await server.stop(), 0, 'the server exits 0 on SIGTERM');
    });

    it(`${CONNECTIONS} connections closing, resetting and half-closing leave the fds where they were and the server idle`, async () => {
      const [port] = server.ports;
      // One connection first, so that everything made once (slabs, the loop's fds) is there.
      await churn(port!, 3, 1);
      await delay(200);
      const fdsBefore = server.openFds();

      const { departed, errors } = await churn(port!, CONNECTIONS, 32);
      assert.deepEqual(errors.map(String), []);
      assert.deepEqual(departed, { close: CONNECTIONS / 3, reset: CONNECTIONS / 3, halfClose: CONNECTIONS / 3 });

      // The server closes its side of the last connections a moment after the peers leave.
      await eventually(() => server.openFds() <= fdsBefore, 10_000, `the server's fds to return to ${fdsBefore} (now ${server.openFds()})`);
      const fdsAfter = server.openFds();
      await delay(500); // let the last closes' work (and any timers they start) finish
      const cpuBefore = server.cpuSeconds();
      await delay(1000);
      const idleCpu = (server.cpuSeconds() - cpuBefore) * 100; // percent of one core over 1 s
      console.log(`      open fds ${fdsBefore} before, ${fdsAfter} after; idle CPU ${idleCpu.toFixed(1)}%`);
      assert.equal(fdsAfter, fdsBefore);
      assert.ok(idleCpu < 2, `the server used ${idleCpu.toFixed(1)}% of a core while idle`);
    });
  });
}
