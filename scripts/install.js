#!/usr/bin/env node
'use strict';
// npm's install step: build the addon with node-gyp-build (or use a prebuild). A platform the
// addon cannot build on still gets a working install: rxloop then warns once at run time and
// uses its node:net backend, so the failure is reported here without failing the install.
const { spawnSync } = require('node:child_process');

const result = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], {
  stdio: 'inherit',
  env: process.env,
});
if (result.status !== 0) {
  console.warn(
    'rxloop: the native addon did not build; rxloop will use its node:net backend. ' +
      'Run `npm rebuild rxloop --foreground-scripts` to see why.',
  );
}
