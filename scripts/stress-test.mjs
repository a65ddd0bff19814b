// `pnpm test:stress`: runs `pnpm test` several times in a row while other processes keep every
// core busy, as on a loaded CI machine, and says per run whether it passed and how long it took.
//
// Usage: pnpm test:stress [--runs N] [--burners N] [--verbose] [-- ARGS]
//   --runs N     how many `pnpm test` runs, one after the other (default 3)
//   --burners N  busy-loop processes kept running meanwhile (default: one per core; 0 = no load)
//   --verbose    stream each run's output here instead of only writing it to its log file
//   -- ARGS      passed on to `pnpm test`, so to turbo (e.g. `-- --concurrency=1`)
//
// Each run's output goes to test-results/stress/run-N.log; the failed tests of a run are listed
// from the JSON reports vitest writes into test-results/. Exits non-zero when any run failed.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const resultsDir = join(root, 'test-results');
const logDir = join(resultsDir, 'stress');

const { values, positionals: testArgs } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '3' },
    burners: { type: 'string', default: String(availableParallelism()) },
    verbose: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const burnerCount = Number(values.burners);
if (!Number.isInteger(runs) || runs < 1) usage('--runs must be a whole number of at least 1');
if (!Number.isInteger(burnerCount) || burnerCount < 0)
  usage('--burners must be a whole number of at least 0');

function usage(message) {
  console.error(
    `${message}\nusage: pnpm test:stress [--runs N] [--burners N] [--verbose] [-- ARGS]`,
  );
  process.exit(2);
}

/** Busy loops at the same priority as the tests: each one keeps a core at 100 %. */
const burners = Array.from({ length: burnerCount }, () =>
  spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
);
let current; // the `pnpm test` child of the run in progress

function stopBurners() {
  for (const burner of burners) if (burner.exitCode === null) burner.kill('SIGKILL');
}
process.on('exit', stopBurners);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the burners and the test run`);
    stopBurners();
    if (current?.exitCode === null) current.kill(signal);
    process.exit(130);
  });
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** Failed tests listed by the vitest JSON reports of the last run. */
async function failedTests() {
  const failures = [];
  let files = [];
  try {
    files = (await readdir(resultsDir)).filter((name) => name.endsWith('.json'));
  } catch {
    return failures;
  }
  for (const name of files.sort()) {
    const report = JSON.parse(await readFile(join(resultsDir, name), 'utf8'));
    for (const file of report.testResults ?? []) {
      const failedAssertions = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
      for (const test of failedAssertions) {
        let why = (test.failureMessages?.[0] ?? '').split('\n')[0].slice(0, 160);
        // vitest's JSON report keeps only the stack of a timeout, not its message.
        if (why === 'Error: STACK_TRACE_ERROR') why = 'timed out';
        const took = seconds(test.duration ?? 0);
        failures.push(`${name.replace(/\.json$/, '')}: ${test.fullName} (${took}) — ${why}`);
      }
      if (failedAssertions.length === 0 && file.status === 'failed') {
        const why = (file.message ?? '').split('\n')[0].slice(0, 160);
        failures.push(`${name.replace(/\.json$/, '')}: ${file.name} (suite) — ${why}`);
      }
    }
  }
  return failures;
}

function runTests(logFile) {
  return new Promise((resolve) => {
    const log = createWriteStream(logFile);
    current = spawn('pnpm', ['test', ...testArgs], {
      cwd: root,
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [current.stdout, current.stderr]) {
      stream.pipe(log, { end: false });
      if (values.verbose) stream.pipe(process.stdout, { end: false });
    }
    current.on('close', (code, signal) => {
      log.end();
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

await mkdir(logDir, { recursive: true });
console.log(
  `pnpm test${testArgs.map((arg) => ` ${arg}`).join('')} × ${runs}, with ${burnerCount} busy-loop process(es) on ${availableParallelism()} core(s); logs in ${logDir}`,
);
const results = [];
for (let run = 1; run <= runs; run++) {
  for (const name of await readdir(resultsDir)) {
    if (name.endsWith('.json')) await rm(join(resultsDir, name), { force: true });
  }
  const logFile = join(logDir, `run-${run}.log`);
  const started = performance.now();
  const code = await runTests(logFile);
  const wall = performance.now() - started;
  const failures = await failedTests();
  const ok = code === 0;
  results.push({ run, ok, wall });
  console.log(
    `run ${run}/${runs}: ${ok ? 'PASS' : `FAIL (exit ${code})`} in ${seconds(wall)}, load average ${loadavg()[0].toFixed(1)}`,
  );
  for (const failure of failures) console.log(`  ✗ ${failure}`);
  if (!ok && failures.length === 0) console.log(`  see ${logFile}`);
}
stopBurners();

const failed = results.filter((r) => !r.ok).length;
const walls = results.map((r) => r.wall);
console.log(
  `\n${failed === 0 ? 'PASS' : 'FAIL'}: ${runs - failed}/${runs} runs passed under ${burnerCount} burner(s); ` +
    `wall time min ${seconds(Math.min(...walls))}, max ${seconds(Math.max(...walls))}`,
);
process.exit(failed === 0 ? 0 : 1);
