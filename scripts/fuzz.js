#!/usr/bin/env node
'use strict';
// npm run fuzz -- [--minutes M | --runs N] [--seed S]
//
// The long run of spec/operators/fuzz.spec.ts: every decoder (lines, delimited, lengthPrefixed,
// varintPrefixed, fixed, respCommands, respReplies, httpRequests) against mutated valid input and
// arbitrary bytes. By default the properties share 5 minutes; --runs N runs each property N times
// instead. A failure prints fast-check's seed and path: --seed S replays the same inputs.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run fuzz -- [--minutes M (default 5) | --runs N] [--seed S]');
  process.exit(0);
}

const positive = (text, name) => {
  const value = Number(text);
  if (!(value > 0)) {
    console.error(`fuzz: ${name} must be a positive number, not '${text}'`);
    process.exit(2);
  }
  return value;
};

const env = { ...process.env };
if (values.runs !== undefined) {
  env.FUZZ_RUNS = String(Math.ceil(positive(values.runs, '--runs')));
  delete env.FUZZ_SECONDS;
} else {
  env.FUZZ_SECONDS = String(Math.round(positive(values.minutes ?? '5', '--minutes') * 60));
}
if (values.seed !== undefined) env.FUZZ_SEED = String(Math.trunc(Number(values.seed)));

const root = path.resolve(__dirname, '..');
const spec = path.join(root, 'dist', 'spec', 'operators', 'fuzz.spec.js');
// --no-config: .mocharc would add the whole suite and its 20 s timeout.
const mocha = require.resolve('mocha/bin/mocha.js', { paths: [root] });
const started = Date.now();
const result = spawnSync(process.execPath, [mocha, '--no-config', '--exit', '--timeout', '0', '--reporter', 'spec', spec], { cwd: root, env, stdio: 'inherit' });
console.log(`fuzz: ${values.runs !== undefined ? `${env.FUZZ_RUNS} runs per property` : `${env.FUZZ_SECONDS} s budget`}, took ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(result.status ?? 1);
