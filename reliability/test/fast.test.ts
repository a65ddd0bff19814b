/**
 * The fast set of the reliability suite, as tests: each attack at fast scale against its own
 * gateway process; a failed attack fails with what it observed and its counts.
 */
import { describe, expect, it } from 'vitest';
import { ATTACKS } from '../src/attacks/index.js';

describe('reliability, fast set', () => {
  for (const attack of ATTACKS.filter((each) => each.fast)) {
    // An attack runs several steps against its own processes: its ceiling is the attack's own.
    it(`${attack.id}: ${attack.expected}`, { timeout: 120_000 }, async () => {
      const result = await attack.run('fast');
      console.log(`${attack.id}: ${result.observed} ${JSON.stringify(result.counts)}`);
      expect(result.counts, result.observed).toMatchObject({
        lost: 0,
        doubleCreates: 0,
        orphaned: 0,
        http500: 0,
        leaks: 0,
      });
      expect(result.held, result.observed).toBe(true);
    });
  }
});
