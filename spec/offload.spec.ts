import { strict as assert } from 'node:assert';
import { join } from 'node:path';

import { Piscina } from 'piscina';
import { Subject, from, lastValueFrom, map, tap, toArray } from 'rxjs';

import type { Connection } from '../lib';
import { lines, offload } from '../operators';
import { BACKENDS, closed, connect, delay, eventually, seededRandom, startServer } from './support/helpers';

const WORKER = join(__dirname, 'support', 'offload-worker.js');

describe('offload', function () {
  this.timeout(20_000);
  let pool: Piscina;

  before(() => {
    pool = new Piscina({ filename: WORKER, minThreads: 4, maxThreads: 4 });
  });
  after(() => pool.destroy());

  it('emits results in input order whatever the task durations', async () => {
    const random = seededRandom(3);
    const tasks = Array.from({ length: 200 }, (_, id) => ({ id, ms: Math.floor(random() * 15) }));
    const results = await lastValueFrom(from(tasks).pipe(offload<{ id: number; ms: number }, number>(pool), toArray()));
    assert.deepEqual(results, tasks.map((task) => task.id));
  });

  it('runs up to `concurrency` tasks at once', async () => {
    // 8 tasks of 100 ms on 4 threads: about 200 ms when 4 run at once, 800 ms one by one.
    const tasks = Array.from({ length: 8 }, (_, id) => ({ id, ms: 100 }));
    const started = Date.now();
    await lastValueFrom(from(tasks).pipe(offload(pool), toArray()));
    const parallel = Date.now() - started;
    const startedSerial = Date.now();
    await lastValueFrom(from(tasks.slice(0, 4)).pipe(offload(pool, { concurrency: 1 }), toArray()));
    const serial = Date.now() - startedSerial;
    assert.ok(parallel < 700, `8 tasks took ${parallel} ms with concurrency 4`);
    assert.ok(serial >= 400, `4 tasks took only ${serial} ms with concurrency 1`);
  });

  it('emits each result when it is ready with ordered: false', async () => {
    // Gaps of 100 ms and more, so that a loaded machine cannot reorder them.
    const tasks = [500, 10, 300, 150].map((ms, id) => ({ id, ms }));
    const results = await lastValueFrom(from(tasks).pipe(offload(pool, { ordered: false }), toArray()));
    assert.deepEqual(results, [1, 3, 2, 0]);
  });

  it('keeps values answered by bypass in their turn', async () => {
    const values = [{ id: 0, ms: 80 }, 'inline a', { id: 2, ms: 10 }, 'inline b'];
    const results = await lastValueFrom(
      from(values).pipe(
        offload<{ id: number; ms: number } | string, number | string>(pool, {
          bypass: (value) => (typeof value === 'string' ? value : undefined),
        }),
        toArray(),
      ),
    );
    assert.deepEqual(results, [0, 'inline a', 2, 'inline b']);
  });

  it("maps a worker's error to that value's result with onError", async () => {
    const results = await lastValueFrom(
      from([1, 2, 3, 4]).pipe(
        offload<number, number | string>(pool, { name: 'failOdd', onError: (error, value) => `${value}: ${(error as Error).message}` }),
        toArray(),
      ),
    );
    assert.deepEqual(results, ['1: odd: 1', 2, '3: odd: 3', 4]);
  });

  it('errors the output in its turn without onError, after the results before it', async () => {
    const seen: unknown[] = [];
    await assert.rejects(
      lastValueFrom(from([2, 4, 5, 6]).pipe(offload<number, number>(pool, { name: 'failOdd' }), tap((value) => seen.push(value)))),
      /odd: 5/,
    );
    assert.deepEqual(seen, [2, 4]);
  });

  it('cancels its tasks when unsubscribed', async () => {
    // concurrency 6 on 4 threads: 4 tasks run, 2 wait in Piscina's queue, 4 more wait here.
    // A pool of its own: in the shared one, the previous test's cancellation can leave a replacement
    // thread starting, and Piscina's queueSize counts a starting thread as holding a task, so
    // queueSize === 2 would already hold with 3 tasks running (and 3 stopped threads to see).
    const pool = new Piscina({ filename: WORKER, minThreads: 4, maxThreads: 4 });
    const input = new Subject<number>();
    const results: number[] = [];
    let workersStopped = 0;
    const onDestroy = (): void => void workersStopped++;
    pool.on('workerDestroy', onDestroy);
    try {
      const subscription = input.pipe(offload<number, number>(pool, { name: 'spin', concurrency: 6 })).subscribe((r) => results.push(r));
      for (let i = 0; i < 10; i++) input.next(400);
      // Threads that start slowly on a loaded machine take their first task late.
      await eventually(() => pool.queueSize === 2, 5000, 'four tasks to run and two to queue');
      subscription.unsubscribe();
      assert.equal(pool.queueSize, 0, "the queued tasks left Piscina's queue");
      // The 4 running tasks' workers.
      await eventually(() => workersStopped >= 4, 5000, 'the running tasks to be stopped');
      await delay(500);
      assert.deepEqual(results, []);
    } finally {
      pool.off('workerDestroy', onDestroy);
      await pool.destroy();
    }
  });

  it('copies the bytes of a Buffer that views shared memory, and moves only what it owns', async () => {
    const slab = Buffer.alloc(1024 * 1024);
    const view = slab.subarray(1000, 1005);
    view.write('hello');
    const [viewed, inObject] = await lastValueFrom(
      from([view, { body: view }]).pipe(offload<unknown, { length: number; memory: number; text: string }>(pool, { name: 'measure' }), toArray()),
    );
    assert.deepEqual(viewed, { length: 5, memory: 5, text: 'hello' }, 'not the whole slab');
    assert.deepEqual(inObject, { length: 5, memory: 5, text: 'hello' });
    assert.equal(slab.byteLength, 1024 * 1024, 'the slab stays here, intact');
    assert.equal(view.toString(), 'hello');

    const owned = Buffer.from(new TextEncoder().encode('moved').buffer); // all of its ArrayBuffer
    const shared = Buffer.from('pooled'); // a view of Node's shared allocation pool
    const moved = await lastValueFrom(
      from([owned, shared]).pipe(offload<Buffer, { text: string }>(pool, { name: 'measure', transfer: true }), toArray()),
    );
    assert.deepEqual(moved.map((r) => r.text), ['moved', 'pooled']);
    assert.equal(owned.byteLength, 0, 'a Buffer owning its memory was moved');
    assert.equal(shared.toString(), 'pooled', 'a pooled Buffer was copied, not moved');
  });

  for (const backend of BACKENDS) {
    describe(`on a connection (${backend} backend)`, () => {
      it('pauses a flooding peer while its queue is full, and answers every line in order', async () => {
        let taken = 0;
        let answered = 0;
        let peakHeld = 0;
        let conn!: Connection;
        const { server, port } = await startServer(backend, (c) => {
          conn = c;
          return c.input$.pipe(
            lines({ encoding: 'latin1' }),
            tap(() => (peakHeld = Math.max(peakHeld, ++taken - answered))),
            map((line) => ({ id: Number(line), ms: 2 })),
            offload<{ id: number; ms: number }, number>(pool, { connection: c, highWaterMark: 8 }),
            tap(() => answered++),
            map((id) => `${id}\n`),
          );
        });
        try {
          const socket = await connect(port);
          const total = 400_000;
          // One write of 400,000 lines (2.6 MB): far more than the server may take at once.
          socket.write(Array.from({ length: total }, (_, i) => `${i}\n`).join(''));
          await delay(1000);
          const readAfterOneSecond = server.stats()!.bytesIn;
          assert.ok(readAfterOneSecond < 2_000_000, `read ${readAfterOneSecond} bytes in the first second`);
          // Held values: at most the high-water mark plus the lines of one read.
          assert.ok(peakHeld < 8 + 64 * 1024 / 2, `held ${peakHeld} values`);
          socket.destroy();
          await eventually(() => conn.isClosed, 5000, 'the server to see the close');

          // A peer that sends less is answered in full, in order, across pauses and resumes.
          const second = await connect(port);
          const replies: string[] = [];
          second.on('data', (data: Buffer) => replies.push(data.toString()));
          second.end(Array.from({ length: 300 }, (_, i) => `${i}\n`).join(''));
          await closed(second);
          assert.equal(replies.join(''), Array.from({ length: 300 }, (_, i) => `${i}\n`).join(''));
        } finally {
          await server.close();
        }
      });
    });
  }
});
