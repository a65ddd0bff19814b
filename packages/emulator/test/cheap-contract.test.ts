/**
 * The same cheap contract, against the emulator always and against Novita's real API when
 * NOVITA_API_KEY is set (NOVITA_BASE_URL overrides the address). Nothing it sends creates a task.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Emulator } from '../src/index.js';
import { cheapContract } from './support/cheap-contract.js';
import { emulators, KEY } from './support/harness.js';

const pool = emulators();
let emu: Emulator;
beforeAll(async () => {
  emu = await pool.start({ apiKeys: [KEY] });
});
afterAll(() => pool.stopAll());

cheapContract('the emulator', () => ({ baseUrl: emu.url, apiKey: KEY }), true);

const realKey = process.env.NOVITA_API_KEY;
if (realKey) {
  cheapContract(
    'the real Novita API',
    () => ({ baseUrl: process.env.NOVITA_BASE_URL ?? 'https://api.novita.ai', apiKey: realKey }),
    false,
  );
} else {
  describe('cheap contract: the real Novita API', () => {
    it.skip('skipped: NOVITA_API_KEY is not set (set it to run this suite against the real API)', () => {});
  });
}
