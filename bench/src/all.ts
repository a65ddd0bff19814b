/**
 * `pnpm bench`: every benchmark, one after the other, then `bench/RESULTS.md` with the machine,
 * the date, Node and the commit, a summary of every target (met or missed) and each section's
 * tables. Each benchmark runs its servers and load generators in child processes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Section } from './common.js';

export type { Section, Target } from './common.js';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const started = performance.now();

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: benchDir,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync(
      'git',
      ['status', '--porcelain', '--', '../packages', '../bench/src'],
      { cwd: benchDir, encoding: 'utf8' },
    ).trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

/** The emulator benchmark is a script of its own (it writes RESULTS-emulator.md): run it as is. */
async function emulatorSection(): Promise<Section> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(benchDir, 'src/emulator.ts')], {
      cwd: benchDir,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`emulator benchmark exited ${code}`)),
    );
  });
  const text = await readFile(join(benchDir, 'RESULTS-emulator.md'), 'utf8');
  const body = text.slice(text.indexOf('## Render time'));
  return { title: 'Emulator render time', markdown: body.replace(/^## /gm, '### '), targets: [] };
}

const sections: Section[] = [];
const failures: string[] = [];
const steps: [string, () => Promise<Section>][] = [
  ['mutation overhead', async () => (await import('./mutation.js')).run()],
  ['fan-out', async () => (await import('./fanout.js')).run()],
  ['upstream economy', async () => (await import('./economy.js')).run()],
  ['progress freshness', async () => (await import('./progress.js')).run()],
  ['scale-out', async () => (await import('./scale-out.js')).run()],
  ['emulator render time', emulatorSection],
];
for (const [name, step] of steps) {
  const t0 = performance.now();
  console.error(`bench: ${name}...`);
  try {
    const section = await step();
    sections.push(section);
    console.log(`\n## ${section.title}\n\n${section.markdown}`);
  } catch (error) {
    failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    console.error(`bench: ${name} failed:`, error);
  }
  console.error(`bench: ${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const targets = sections.flatMap((section) =>
  section.targets.map((target) => ({ section: section.title, ...target })),
);
const summary = [
  '| section | target | goal | measured | |',
  '| --- | --- | --- | --- | --- |',
  ...targets.map(
    (t) =>
      `| ${t.section} | ${t.name} | ${t.target} | ${t.measured} | ${t.met ? 'met' : '**missed**'} |`,
  ),
].join('\n');
const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
const report = `# wan-video benchmarks

- Machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB of memory, ${os.platform()} ${os.release()}
- Date: ${new Date().toISOString()}
- Node: ${process.version}
- Commit: ${commit()}
- Run time: ${((performance.now() - started) / 1000).toFixed(0)} s (\`pnpm bench\`)

Every figure below was measured in this one run, each against its baseline measured in the same run.

## Targets

${summary}
${failures.length > 0 ? `\nThese benchmarks failed to run: ${failures.join('; ')}\n` : ''}
${sections.map((section) => `## ${section.title}\n\n${section.markdown}`).join('\n\n')}
`;
await writeFile(join(benchDir, 'RESULTS.md'), report);
console.error(`bench: wrote ${join(benchDir, 'RESULTS.md')}`);
process.exitCode = failures.length > 0 ? 1 : 0;
