// Prints one plain closing line, "vitest: N passed, N failed, N skipped",
// that any CI log reader understands, after vitest's own summary.
import type { Reporter, RunnerTestFile, RunnerTask } from 'vitest/node';

function count(tasks: RunnerTask[], totals: { passed: number; failed: number; skipped: number }): void {
  for (const task of tasks) {
    if (task.type === 'suite') {
      count(task.tasks, totals);
      continue;
    }
    const state = task.result?.state;
    if (state === 'pass') totals.passed++;
    else if (state === 'fail') totals.failed++;
    else totals.skipped++;
  }
}

export default class SummaryReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = [], errors: unknown[] = []): void {
    const totals = { passed: 0, failed: 0, skipped: 0 };
    for (const file of files) {
      // a file that failed to load counts as a failure
      if (file.result?.state === 'fail' && file.tasks.length === 0) totals.failed++;
      count(file.tasks, totals);
    }
    totals.failed += errors.length;
    process.stdout.write(`\nvitest: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
  }
}
