/** The table `RELIABILITY.md` holds, and the lines the runner prints. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import type { Attack, Outcome, Scale } from './attack.js';

export interface Result {
  readonly attack: Attack;
  readonly outcome: Outcome;
  readonly ms: number;
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** The markdown table: attack, expected, observed, counts, held or failed. */
export function table(results: readonly Result[]): string {
  const lines = [
    '| attack | expected | observed | cases | lost | double creates | orphaned paid | 5xx | leaks | result |',
    '|---|---|---|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const { attack, outcome } of results) {
    const { counts } = outcome;
    lines.push(
      `| **${cell(attack.title)}** (\`${attack.id}\`) | ${cell(attack.expected)} | ${cell(outcome.observed)} | ${counts.cases} | ${counts.lost} | ${counts.doubleCreates} | ${counts.orphaned} | ${counts.http500} | ${counts.leaks} | ${outcome.held ? 'held' : '**FAILED**'} |`,
    );
  }
  return lines.join('\n');
}

/** The whole of RELIABILITY.md. */
export function document(results: readonly Result[], scale: Scale, seconds: number): string {
  const held = results.filter((result) => result.outcome.held).length;
  const total = (key: keyof Outcome['counts']) =>
    results.reduce((sum, result) => sum + result.outcome.counts[key], 0);
  return `# Reliability

What \`pnpm test:reliability\` found: every attack and fault we know of, aimed at real gateway
processes (started as users start them, each on its own database) in front of the emulator, over
loopback. Each row says what must hold and what was observed, with counts read off the emulator's
request log and the gateway's own database, not off the gateway's word. The fast rows run in
\`pnpm test\` (so in CI) with fewer rounds; this file is written by the full run.

- Run: ${new Date().toISOString().slice(0, 10)}, ${scale} scale, ${Math.round(seconds)} s, commit ${commit()}
- Machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${loadavg()
    .map((load) => load.toFixed(1))
    .join(' ')} at the end
- **${held} of ${results.length} held.** In all: ${total('cases')} cases, ${total('lost')} tasks lost, ${total('doubleCreates')} double creates, ${total('orphaned')} orphaned paid tasks, ${total('http500')} 5xx answers, ${total('leaks')} leaks.

${table(results)}

Run it: \`pnpm test:reliability\` (everything, writes this file), \`pnpm test:reliability --only <id>\`
(one row, prints it), \`pnpm --filter @wan-video/reliability test\` (the fast rows as tests).
`;
}
