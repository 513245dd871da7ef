#!/usr/bin/env node
'use strict';
// Throughput of rxloop's decoders on prebuilt input in several chunk sizes, side by side with
// split2 (lines), it-length-prefixed (length- and varint-prefixed frames) and redis-parser (RESP
// commands and replies). Each implementation is fed the same chunks synchronously (split2 through
// its stream, it-length-prefixed through its sync-iterable decode, redis-parser through execute),
// implementations alternate within each round, and the median of the rounds is reported.
//
//   npm run build && npm run bench -- operators [--rounds N] [--mb N] [--no-write]
//
// Writes the table into bench/RESULTS.md between <!-- operators:begin --> and <!-- operators:end -->.
const fs = require('node:fs');
const path = require('node:path');
const { once } = require('node:events');
const { Observable } = require('rxjs');
const split2 = require('split2');
const RedisParser = require('redis-parser');
const ops = require('../dist/operators');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const ROUNDS = option('rounds', 3);
const TARGET_BYTES = option('mb', 8) * 1024 * 1024;
const WRITE = !args.includes('--no-write');
const CHUNK_SIZES = [64, 1024, 16 * 1024, 64 * 1024];

// A deterministic PRNG, so every run measures the same input.
let seed = 0x2545f491;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const text = (length) => Array.from({ length }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');

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

function viaOperator(operator, framesIn = () => 1) {
  return (chunks) => {
    let frames = 0;
    // A bare Observable as the source: a Subject would add an array copy per chunk to rxloop's side only.
    const input = new Observable((subscriber) => {
      for (const chunk of chunks) subscriber.next(chunk);
      subscriber.complete();
    });
    input.pipe(operator).subscribe({ next: (value) => (frames += framesIn(value)), error: (error) => { throw error; } });
    return frames;
  };
}

function viaRedisParser(chunks) {
  let frames = 0;
  const parser = new RedisParser({
    returnBuffers: true,
    returnReply: () => frames++,
    returnError: () => frames++,
    returnFatalError: (error) => { throw error; },
  });
  for (const chunk of chunks) parser.execute(chunk);
  return frames;
}

async function viaSplit2(chunks) {
  let frames = 0;
  const stream = split2();
  stream.on('data', () => frames++);
  const ended = once(stream, 'end');
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await ended;
  return frames;
}

function viaItLengthPrefixed(decode, options) {
  return (chunks) => {
    let frames = 0;
    for (const frame of decode(chunks, options)) frames += frame.byteLength >= 0 ? 1 : 0;
    return frames;
  };
}

async function main() {
  const { decode: lpDecode } = await import('it-length-prefixed');
  const respCommandsInput = buildInput((index) => {
    const key = `key:${String(index % 100000).padStart(6, '0')}`;
    return index % 2 === 0 ? ops.encodeReply(['SET', key, text(32)]) : ops.encodeReply(['GET', key]);
  });
  const replyValues = [ops.resp.simple('OK'), text(32), 12345, [text(8), text(16), null]];
  const workloads = [
    {
      name: 'lines → strings',
      input: buildInput(() => Buffer.from(text(8 + Math.floor(random() * 72)) + '\n')),
      ours: viaOperator(ops.lines({ encoding: 'utf8' })),
      baselineName: 'split2',
      baseline: viaSplit2,
    },
    {
      name: 'lines → Buffers',
      input: buildInput(() => Buffer.from(text(8 + Math.floor(random() * 72)) + '\n')),
      ours: viaOperator(ops.lines()),
      baselineName: 'split2 (strings)',
      baseline: viaSplit2,
    },
    {
      name: 'lengthPrefixed (4-byte BE)',
      input: buildInput(() => {
        const payload = Buffer.from(text(16 + Math.floor(random() * 240)));
        const header = Buffer.alloc(4);
        header.writeUInt32BE(payload.length);
        return Buffer.concat([header, payload]);
      }),
      ours: viaOperator(ops.lengthPrefixed()),
      baselineName: 'it-length-prefixed (4-byte decoder)',
      baseline: viaItLengthPrefixed(lpDecode, { lengthDecoder: fourByteLength }),
    },
    {
      name: 'varintPrefixed',
      input: buildInput(() => {
        const payload = Buffer.from(text(16 + Math.floor(random() * 240)));
        const header = payload.length < 128 ? Buffer.from([payload.length]) : Buffer.from([(payload.length & 0x7f) | 0x80, payload.length >> 7]);
        return Buffer.concat([header, payload]);
      }),
      ours: viaOperator(ops.varintPrefixed()),
      baselineName: 'it-length-prefixed',
      baseline: viaItLengthPrefixed(lpDecode),
    },
    {
      name: 'respCommands (SET/GET pipeline)',
      input: respCommandsInput,
      ours: viaOperator(ops.respCommands()),
      baselineName: 'redis-parser (Buffers)',
      baseline: viaRedisParser,
    },
    {
      name: 'respCommandBatches (same pipeline)',
      input: respCommandsInput,
      ours: viaOperator(ops.respCommandBatches(), (batch) => batch.length),
      baselineName: 'redis-parser (Buffers)',
      baseline: viaRedisParser,
    },
    {
      name: 'respReplies (+OK, bulk, :int, array)',
      input: buildInput((index) => ops.encodeReply(replyValues[index % replyValues.length])),
      ours: viaOperator(ops.respReplies()),
      baselineName: 'redis-parser (Buffers)',
      baseline: viaRedisParser,
    },
  ];

  const rows = [];
  for (const workload of workloads) {
    for (const size of CHUNK_SIZES) {
      const chunks = chunksOf(workload.input.data, size);
      const times = { ours: [], baseline: [] };
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which one runs first, so neither always gets the warmer caches.
        const order = round % 2 === 0 ? ['ours', 'baseline'] : ['baseline', 'ours'];
        for (const which of order) {
          const started = process.hrtime.bigint();
          const frames = await workload[which](chunks);
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          if (frames !== workload.input.frames) throw new Error(`${workload.name} / ${which}: ${frames} frames, expected ${workload.input.frames}`);
          times[which].push(seconds);
        }
      }
      const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
      const ours = median(times.ours);
      const baseline = median(times.baseline);
      const row = {
        workload: workload.name,
        chunk: size >= 1024 ? `${size / 1024} KiB` : `${size} B`,
        oursFrames: workload.input.frames / ours,
        oursMB: workload.input.data.length / ours / 1e6,
        baselineName: workload.baselineName,
        baselineFrames: workload.input.frames / baseline,
        baselineMB: workload.input.data.length / baseline / 1e6,
        ratio: baseline / ours,
      };
      rows.push(row);
      console.error(`${row.workload} @ ${row.chunk}: ${row.ratio.toFixed(2)}×`);
    }
  }

  const millions = (value) => `${(value / 1e6).toFixed(2)}M`;
  const table = [
    '| workload | chunk | rxloop frames/s | rxloop MB/s | baseline | baseline frames/s | baseline MB/s | rxloop ÷ baseline |',
    '|---|---|---:|---:|---|---:|---:|---:|',
    ...rows.map((row) => `| ${row.workload} | ${row.chunk} | ${millions(row.oursFrames)} | ${row.oursMB.toFixed(0)} | ${row.baselineName} | ${millions(row.baselineFrames)} | ${row.baselineMB.toFixed(0)} | ${row.ratio.toFixed(2)}× |`),
  ].join('\n');
  const date = new Date().toISOString().slice(0, 10);
  const command = `npm run bench -- operators${args.length ? ' ' + args.join(' ') : ''}`;
  const section = [
    '<!-- operators:begin -->',
    '## Operators: decoder throughput',
    '',
    `${date}, Node ${process.version}, \`${command}\`: ${(TARGET_BYTES / 1024 / 1024).toFixed(0)} MiB of prebuilt input per workload, cut into chunks of each size,`,
    `fed synchronously to each implementation; median of ${ROUNDS} alternating rounds.`,
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
