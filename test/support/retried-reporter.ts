import { appendFileSync } from 'node:fs';
import type { Reporter, TestCase } from 'vitest/node';

/**
 * Writes each test that passed only on a retry (`--retry N`, as `.ci/run` runs the suites) to the file
 * named by RETRIED_TESTS_FILE, one line each, so that the run can name them at its end: a retry lets a
 * test that lost a race with a loaded machine pass, and this keeps that visible.
 */
export default class RetriedReporter implements Reporter {
  onTestCaseResult(testCase: TestCase): void {
    const file = process.env.RETRIED_TESTS_FILE;
    const retries = testCase.diagnostic()?.retryCount ?? 0;
    if (!file || retries === 0 || testCase.result().state !== 'passed') return;
    const where = testCase.module.moduleId.replace(`${process.cwd()}/`, '');
    appendFileSync(file, `${testCase.project.name} ${where} > ${testCase.fullName} (passed on retry ${retries})\n`);
  }
}
