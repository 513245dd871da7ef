#!/usr/bin/env node
'use strict';
// Throughput of rxloop's decoders on prebuilt input in several chunk sizes, side by side with
// baselines that do the same job with the same output type: split2 (lines as strings, split on
// '\n' with the same 64 KiB limit), binary-split (lines as Buffers), it-length-prefixed (length-
// and varint-prefixed frames) and redis-parser (RESP, as Buffers and as strings). Each is fed the
// same chunks synchronously: rxloop through a bare Observable, split2 and binary-split through
// their streams (flowing before the clock starts, so each write is processed as it is made),
// it-length-prefixed through its sync-iterable decode, redis-parser through execute. Construction
// is outside the clock; three untimed warm-up runs of each precede the rounds; the two alternate
// within each round, and the ratio is the median of the rounds' own ratios (each pair runs back to
// back, so a slow spell of the machine slows both). Each workload runs in a fresh process that
// builds only its own input, as a server running one protocol would: run one after another in a
// process, the later workloads measured slower on rxloop's side (respCommands at 64 B chunks: 1.75×
// after all the others, 2.0× alone), from what the earlier ones left behind.
//
//   npm run build && npm run bench -- operators [--rounds N] [--mb N] [--no-write] [--only TEXT]
//
// --only runs just the workloads whose name contains TEXT, and writes nothing.
//
// Writes the table into bench/RESULTS.md between <!-- operators:begin --> and <!-- operators:end -->.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { once } = require('node:events');
const { Observable } = require('rxjs');
const split2 = require('split2');
const binarySplit = require('binary-split');
const RedisParser = require('redis-parser');
const ops = require('../dist/operators');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const ROUNDS = option('rounds', 9);
const TARGET_BYTES = option('mb', 8) * 1024 * 1024;
// Internal: the workload a child process measures (see inChildProcess).
const WORKLOAD = args.includes('--workload') ? option('workload', 0) : undefined;
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const WRITE = !args.includes('--no-write') && ONLY === undefined;
const CHUNK_SIZES = [64, 1024, 16 * 1024, 64 * 1024];
// Untimed runs of each before the rounds. respCommands' first chunk size in a fresh process took
// 450–600 ns per command in its first run, 170–270 in its second and 130–145 from the third on: V8
// was still optimizing, so with one warm-up run the first timed rounds measured the compiler.
const WARMUP_RUNS = 3;

/** A deterministic PRNG and random lowercase text from it, so that every run measures the same input. */
function randomness(seed) {
  let state = seed;
  // Math.imul: a plain `*` passes 2^53, loses the low bits, and falls into a cycle of a few hundred values.
  const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const text = (length) => Array.from({ length }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');
  return { random, text };
}

/**
 * An input built when first used, from a seed of its own: a child process builds only its own
 * workload's, and gets the same bytes as any other run. `makeFrames` gets the randomness and
 * returns the frame maker.
 */
function lazyInput(seed, makeFrames) {
  let input;
  return () => (input ??= buildInput(makeFrames(randomness(seed))));
}

function buildInput(makeFrame) {
  const parts = [];
  let bytes = 0;
  let frames = 0;
  while (bytes < TARGET_BYTES) {
    const part = makeFrame(frames);
    parts.push(part);
    bytes += part.length;
    frames++;
  }
  return { data: Buffer.concat(parts), frames };
}

function chunksOf(data, size) {
  const chunks = [];
  for (let start = 0; start < data.length; start += size) chunks.push(data.subarray(start, start + size));
  return chunks;
}

const fourByteLength = (list) => {
  if (list.byteLength < 4) throw new RangeError('need 4 bytes');
  return list.getUint32(0);
};
fourByteLength.bytes = 4;

// Each implementation is a `prepare(chunks)` that builds whatever it needs outside the clock and
// returns `run()`, which feeds all chunks and resolves to the number of frames it emitted.

function viaOperator(makeOperator, framesIn = () => 1) {
  return async (chunks) => {
    const operator = makeOperator();
    return () => {
      let frames = 0;
      // A bare Observable as the source: a Subject would add an array copy per chunk to rxloop's side only.
      const input = new Observable((subscriber) => {
        for (const chunk of chunks) subscriber.next(chunk);
        subscriber.complete();
      });
      input.pipe(operator).subscribe({ next: (value) => (frames += framesIn(value)), error: (error) => { throw error; } });
      return frames;
    };
  };
}

function viaRedisParser(returnBuffers) {
  return async (chunks) => {
    let frames = 0;
    const parser = new RedisParser({
      returnBuffers,
      returnReply: () => frames++,
      returnError: () => frames++,
      returnFatalError: (error) => { throw error; },
    });
    return () => {
      for (const chunk of chunks) parser.execute(chunk);
      return frames;
    };
  };
}

/** A Transform stream, flowing before the clock starts: each write is then transformed and emitted synchronously. */
function viaStream(makeStream) {
  return async (chunks) => {
    let frames = 0;
    const stream = makeStream();
    stream.on('data', () => frames++);
    await new Promise((resolve) => setImmediate(resolve));
    return async () => {
      const ended = once(stream, 'end');
      for (const chunk of chunks) stream.write(chunk);
      stream.end();
      await ended;
      return frames;
    };
  };
}

function viaItLengthPrefixed(decode, options) {
  return async (chunks) => () => {
    let frames = 0;
    for (const frame of decode(chunks, options)) frames += frame.byteLength >= 0 ? 1 : 0;
    return frames;
  };
}

/** Measures one workload at every chunk size: its rows of the table. */
async function measureWorkload(workload) {
  const rows = [];
  for (const size of CHUNK_SIZES) {
    const input = workload.input();
    const chunks = chunksOf(input.data, size);
    const times = { ours: [], baseline: [] };
    const ratios = [];
    const measure = async (which, timed) => {
      const run = await workload[which](chunks);
      const started = process.hrtime.bigint();
      const frames = await run();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (frames !== input.frames) throw new Error(`${workload.name} / ${which}: ${frames} frames, expected ${input.frames}`);
      if (timed) times[which].push(seconds);
      return seconds;
    };
    for (let run = 0; run < WARMUP_RUNS; run++) {
      await measure('ours', false);
      await measure('baseline', false);
    }
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which one runs first, so neither always gets the warmer caches.
      const order = round % 2 === 0 ? ['ours', 'baseline'] : ['baseline', 'ours'];
      const seconds = {};
      for (const which of order) seconds[which] = await measure(which, true);
      ratios.push(seconds.baseline / seconds.ours);
    }
    const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const ours = median(times.ours);
    const baseline = median(times.baseline);
    const row = {
      workload: workload.name,
      chunk: size >= 1024 ? `${size / 1024} KiB` : `${size} B`,
      oursFrames: input.frames / ours,
      oursMB: input.data.length / ours / 1e6,
      baselineName: workload.baselineName,
      baselineFrames: input.frames / baseline,
      baselineMB: input.data.length / baseline / 1e6,
      ratio: median(ratios),
      ratioRange: [Math.min(...ratios), Math.max(...ratios)],
    };
    rows.push(row);
    console.error(`${row.workload} @ ${row.chunk}: ${row.ratio.toFixed(2)}×`);
  }
  return rows;
}

/**
 * Runs workload `index` in a process of its own and returns its rows: what one workload leaves
 * behind (optimised code, inline caches, heap) would otherwise weigh on the next ones.
 */
function inChildProcess(index) {
  const child = spawnSync(process.execPath, [__filename, '--workload', String(index), '--rounds', String(ROUNDS), '--mb', String(TARGET_BYTES / 1024 / 1024)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`workload ${index}: ${child.error?.message ?? `exit ${child.status ?? child.signal}`}`);
  return JSON.parse(child.stdout);
}

async function main() {
  const { decode: lpDecode } = await import('it-length-prefixed');
  const respCommandsInput = lazyInput(1, ({ text }) => (index) => {
    const key = `key:${String(index % 100000).padStart(6, '0')}`;
    return index % 2 === 0 ? ops.encodeReply(['SET', key, text(32)]) : ops.encodeReply(['GET', key]);
  });
  const replyInput = lazyInput(2, ({ text }) => {
    const replyValues = [ops.resp.simple('OK'), text(32), 12345, [text(8), text(16), null]];
    return (index) => ops.encodeReply(replyValues[index % replyValues.length]);
  });
  const lineInput = lazyInput(3, ({ random, text }) => () => Buffer.from(text(8 + Math.floor(random() * 72)) + '\n'));
  // Frames of 16 to 255 bytes of text, with the header that `encodeHeader(length)` makes.
  const prefixedInput = (seed, encodeHeader) => lazyInput(seed, ({ random, text }) => () => {
    const payload = Buffer.from(text(16 + Math.floor(random() * 240)));
    return Buffer.concat([encodeHeader(payload.length), payload]);
  });
  const workloads = [
    {
      name: 'lines → strings',
      input: lineInput,
      ours: viaOperator(() => ops.lines({ encoding: 'utf8' })),
      // The same job as lines(): split on '\n' only (split2's default /\r?\n/ also strips '\r'), 64 KiB limit.
      baselineName: "split2('\\n', { maxLength: 64 KiB })",
      baseline: viaStream(() => split2('\n', { maxLength: 64 * 1024 })),
    },
    {
      name: 'lines → Buffers',
      input: lineInput,
      ours: viaOperator(() => ops.lines()),
      baselineName: "binary-split('\\n')",
      baseline: viaStream(() => binarySplit('\n')),
    },
    {
      name: 'lengthPrefixed (4-byte BE)',
      input: prefixedInput(4, (length) => {
        const header = Buffer.alloc(4);
        header.writeUInt32BE(length);
        return header;
      }),
      ours: viaOperator(() => ops.lengthPrefixed()),
      baselineName: 'it-length-prefixed (4-byte decoder)',
      baseline: viaItLengthPrefixed(lpDecode, { lengthDecoder: fourByteLength }),
    },
    {
      name: 'varintPrefixed',
      input: prefixedInput(5, (length) => (length < 128 ? Buffer.from([length]) : Buffer.from([(length & 0x7f) | 0x80, length >> 7]))),
      ours: viaOperator(() => ops.varintPrefixed()),
      baselineName: 'it-length-prefixed',
      baseline: viaItLengthPrefixed(lpDecode),
    },
    {
      name: 'respCommands (SET/GET pipeline)',
      input: respCommandsInput,
      ours: viaOperator(() => ops.respCommands()),
      baselineName: 'redis-parser (Buffers)',
      baseline: viaRedisParser(true),
    },
    {
      name: 'respCommandBatches (same pipeline)',
      input: respCommandsInput,
      ours: viaOperator(() => ops.respCommandBatches(), (batch) => batch.length),
      baselineName: 'redis-parser (Buffers)',
      baseline: viaRedisParser(true),
    },
    {
      name: 'respReplies → Buffers (+OK, bulk, :int, array)',
      input: replyInput,
      ours: viaOperator(() => ops.respReplies()),
      // returnBuffers also makes +OK a Buffer, where respReplies makes it a string: one value in four.
      baselineName: 'redis-parser (returnBuffers)',
      baseline: viaRedisParser(true),
    },
    {
      name: "respReplies → strings (same, encoding 'utf8')",
      input: replyInput,
      ours: viaOperator(() => ops.respReplies({ encoding: 'utf8' })),
      baselineName: 'redis-parser (strings)',
      baseline: viaRedisParser(false),
    },
  ];

  if (WORKLOAD !== undefined) {
    process.stdout.write(JSON.stringify(await measureWorkload(workloads[WORKLOAD])));
    return;
  }
  const rows = [];
  for (const [index, workload] of workloads.entries()) {
    if (ONLY !== undefined && !workload.name.includes(ONLY)) continue;
    rows.push(...inChildProcess(index));
  }

  const millions = (value) => `${(value / 1e6).toFixed(2)}M`;
  const table = [
    '| workload | chunk | rxloop frames/s | rxloop MB/s | baseline | baseline frames/s | baseline MB/s | rxloop ÷ baseline (range) |',
    '|---|---|---:|---:|---|---:|---:|---:|',
    ...rows.map((row) => `| ${row.workload} | ${row.chunk} | ${millions(row.oursFrames)} | ${row.oursMB.toFixed(0)} | ${row.baselineName} | ${millions(row.baselineFrames)} | ${row.baselineMB.toFixed(0)} | ${row.ratio.toFixed(2)}× (${row.ratioRange.map((ratio) => ratio.toFixed(2)).join('–')}) |`),
  ].join('\n');
  const date = new Date().toISOString().slice(0, 10);
  const command = `npm run bench -- operators${args.length ? ' ' + args.join(' ') : ''}`;
  const section = [
    '<!-- operators:begin -->',
    '## Operators: decoder throughput',
    '',
    `${date}, Node ${process.version}, \`${command}\`: ${(TARGET_BYTES / 1024 / 1024).toFixed(0)} MiB of prebuilt input per workload, cut into chunks of each size,`,
    `fed synchronously to each implementation, construction outside the clock, after ${WARMUP_RUNS} warm-up runs of each; each workload in a fresh process;`,
    `${ROUNDS} rounds, the two alternating within each. Frames/s and MB/s are medians over rounds; the ratio is the median`,
    `of the rounds' own ratios (each pair runs back to back), with their range.`,
    '',
    'Each baseline does the same job with the same output: split2 splits on `\'\\n\'` as `lines()` does (its default',
    '`/\\r?\\n/` also strips `\'\\r\'`) with the same 64 KiB limit; binary-split emits Buffers as `lines()` does (split2 can only',
    "emit strings); redis-parser's returnBuffers makes `+OK` a Buffer where respReplies makes it a string (one reply in",
    'four), and in strings mode both emit strings throughout. None of the baselines checks CRLFs, digits or limits as',
    'respReplies does.',
    '',
    table,
    '<!-- operators:end -->',
  ].join('\n');
  console.log(table);

  if (WRITE) {
    const resultsPath = path.join(__dirname, 'RESULTS.md');
    const existing = fs.existsSync(resultsPath) ? fs.readFileSync(resultsPath, 'utf8') : '# Benchmark results\n';
    const pattern = /<!-- operators:begin -->[\s\S]*?<!-- operators:end -->/;
    const updated = pattern.test(existing) ? existing.replace(pattern, section) : `${existing.trimEnd()}\n\n${section}\n`;
    fs.writeFileSync(resultsPath, updated);
    console.error(`wrote ${path.relative(process.cwd(), resultsPath)}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
