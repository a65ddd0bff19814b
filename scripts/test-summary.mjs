// Sums the JSON reports that each package's vitest run wrote into test-results/ and prints
// one closing line: "N passed, N failed, N skipped". Exits non-zero when a test failed or
// when no test ran at all.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const dir = join(import.meta.dirname, '..', 'test-results');
let files = [];
try {
  files = (await readdir(dir)).filter((name) => name.endsWith('.json'));
} catch {
  // No reports: nothing ran.
}
let passed = 0;
let failed = 0;
let skipped = 0;
for (const name of files.sort()) {
  const report = JSON.parse(await readFile(join(dir, name), 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  console.log(
    `  ${name.replace(/\.json$/, '').padEnd(16)} ok ${report.numPassedTests} / failed ${report.numFailedTests}`,
  );
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
