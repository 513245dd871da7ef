#!/usr/bin/env node
'use strict';
require('../dist/examples/cli.js').main(process.argv.slice(2));
