// The frame of a hostile-input suite: an example server in a child process for the enclosing
// describe, a normal client's check before and after, and its memory growth in between.
import { strict as assert } from 'node:assert';

import { ChildServer } from './child-server';

const MB = 1_000_000;

/**
 * Under `npm run test:asan` the server (which inherits LD_PRELOAD) frees through ASan's quarantine,
 * which keeps freed memory on purpose, 256 MiB of it unless ASAN_OPTIONS says otherwise.
 */
function quarantineBytes(): number {
  if (!process.env.LD_PRELOAD?.includes('libasan')) return 0;
  const configured = /quarantine_size_mb=(\d+)/.exec(process.env.ASAN_OPTIONS ?? '');
  return (configured ? Number(configured[1]) : 256) * 1024 * 1024;
}

/** How much more resident memory the hostile clients may leave the server with. */
const MAX_GROWTH = 100 * MB + quarantineBytes();

export class HostileSuite {
  private child?: ChildServer;
  private rssBefore = 0;

  /**
   * Starts `node bin/rxloop.js <args>` before the suite's tests, once `servesNormally` passes
   * against it, and stops it after them (it must exit 0).
   */
  constructor(args: readonly string[], private readonly servesNormally: (port: number) => Promise<void>) {
    before(async () => {
      this.child = await ChildServer.start(args);
      await servesNormally(this.port);
      this.rssBefore = this.server.rss();
    });
    after(async () => {
      assert.equal(await this.child?.stop(), 0, 'the server exits 0 on SIGTERM');
    });
  }

  get server(): ChildServer {
    return this.child!;
  }

  get port(): number {
    return this.server.ports[0]!;
  }

  /** The suite's last test: the server still serves, and grew by less than 100 MB. */
  itStillServesAndGrewLittle(): void {
    it("still serves a normal client, and grew by less than 100 MB (plus ASan's quarantine under test:asan)", async () => {
      await this.servesNormally(this.port);
      const rssAfter = this.server.rss();
      const growth = rssAfter - this.rssBefore;
      console.log(`      RSS ${(this.rssBefore / MB).toFixed(1)} MB before the hostile clients, ${(rssAfter / MB).toFixed(1)} MB after (${(growth / MB).toFixed(1)} MB growth)`);
      assert.ok(growth < MAX_GROWTH, `RSS grew ${(growth / MB).toFixed(1)} MB (allowed: ${(MAX_GROWTH / MB).toFixed(0)} MB)`);
    });
  }
}
