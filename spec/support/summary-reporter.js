'use strict';
// The spec reporter, plus the plain closing line CI reads: "N passed, N failed". Mocha does not
// force an exit: the suite must leave nothing open (sockets, servers, timers, threads). If the
// process is still alive a while after the last test, what holds it is printed and it fails.
const Mocha = require('mocha');

const LEAK_GRACE_MS = 15_000;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, () => passed++);
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, () => failed++);
    runner.on(Mocha.Runner.constants.EVENT_TEST_PENDING, () => skipped++);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
      setTimeout(() => {
        process.stderr.write(`the suite left resources open: ${process.getActiveResourcesInfo().join(', ')}\n`);
        // After mocha's own exit handler, which would set the code to the number of failures.
        process.on('exit', () => (process.exitCode = 1));
        process.exit(1);
      }, LEAK_GRACE_MS).unref();
    });
  }
}

module.exports = SummaryReporter;
