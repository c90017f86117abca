// Mocha's spec reporter, plus one plain closing line ("mocha: N passed, N failed, N skipped")
// so every runner that reads test summaries understands the result.
const Mocha = require("mocha");
const { EVENT_RUN_END } = Mocha.Runner.constants;

class WeftReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      process.stdout.write(
        `\nmocha: ${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} skipped\n`,
      );
    });
  }
}

module.exports = WeftReporter;
