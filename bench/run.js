#!/usr/bin/env node
'use strict';
// `npm run bench -- <name> [args]` runs bench/<name>.js; with no name, lists them.
const fs = require('node:fs');
const path = require('node:path');

const available = fs.readdirSync(__dirname)
  .filter((f) => f.endsWith('.js') && f !== 'run.js')
  .map((f) => f.slice(0, -3));
const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join('|')}> [options]`);
  process.exit(name ? 2 : 0);
}
process.argv = [process.argv[0], path.join(__dirname, `${name}.js`), ...args];
require(`./${name}.js`);
