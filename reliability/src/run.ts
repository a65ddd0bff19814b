/**
 * `pnpm test:reliability`: runs every attack at full scale, prints the table and writes
 * RELIABILITY.md at the repository's root. Exits 1 when any attack failed.
 *
 *   --only ID[,ID…]  run only these attacks (prints the table, writes nothing)
 *   --fast           the fast set at fast scale, as `pnpm test` runs it (writes nothing)
 *   --out PATH       write the document here instead
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleGatewayBin } from '@wan-video/test-utils/gateway-process';
import { type Attack, outcome, type Scale } from './attack.js';
import { ATTACKS } from './attacks/index.js';
import { document, type Result, table } from './report.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    fast: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const scale: Scale = values.fast ? 'fast' : 'full';
const only = values.only?.split(',').map((id) => id.trim());
const unknown = only?.filter((id) => !ATTACKS.some((attack) => attack.id === id)) ?? [];
if (unknown.length > 0) {
  console.error(
    `no attack ${unknown.join(', ')}; there are: ${ATTACKS.map((attack) => attack.id).join(', ')}`,
  );
  process.exit(2);
}
const chosen: Attack[] = ATTACKS.filter(
  (attack) => (only ? only.includes(attack.id) : true) && (scale === 'full' || attack.fast),
);

const removeBundle = await bundleGatewayBin();
const started = Date.now();
const results: Result[] = [];
try {
  for (const attack of chosen) {
    process.stderr.write(`${attack.id}: ${attack.title}… `);
    const before = Date.now();
    const result = await attack
      .run(scale)
      .catch((error: unknown) =>
        outcome(
          false,
          `the attack itself failed: ${error instanceof Error ? error.message : String(error)}`,
          {},
        ),
      );
    results.push({ attack, outcome: result, ms: Date.now() - before });
    process.stderr.write(
      `${result.held ? 'held' : 'FAILED'} (${((Date.now() - before) / 1000).toFixed(1)} s)\n`,
    );
  }
} finally {
  await removeBundle();
}

console.log(`\n${table(results)}\n`);
if (!only && scale === 'full') {
  const out = values.out ?? join(import.meta.dirname, '../../RELIABILITY.md');
  await writeFile(out, document(results, scale, (Date.now() - started) / 1000));
  console.log(`written to ${out}`);
}
process.exit(results.every((result) => result.outcome.held) ? 0 : 1);
