import { describe, expect, it } from 'vitest';
import { post, result, wire } from './harness.js';

export interface ContractTarget {
  readonly baseUrl: string;
  readonly apiKey: string;
}

/**
 * The read-only and cheap part of the contract: nothing here creates a task that would run
 * (every create is invalid), so it may run against the real, paid API. `exact` also checks the
 * emulator's documented error bodies, which the real API does not promise field by field.
 */
export function cheapContract(name: string, target: () => ContractTarget, exact: boolean) {
  describe(`cheap contract: ${name}`, () => {
    const auth = () => ({ authorization: `Bearer ${target().apiKey}` });

    it('refuses a missing or wrong key with 401 and a JSON body', async () => {
      for (const headers of [{}, { authorization: 'Bearer wan-video-contract-wrong-key' }]) {
        const created = await post(target().baseUrl, wire({ height: 832 }), headers);
        expect(created.status).toBe(401);
        expect(typeof created.json).toBe('object');
      }
    });

    it.each([
      ['height', { height: 832 }],
      ['seed', { seed: 10_000_000_000 }],
      ['steps', { steps: 41 }],
      ['guidance_scale', { guidance_scale: 10.5 }],
      ['flow_shift', { flow_shift: 0.5 }],
      ['prompt', { prompt: '' }],
      ['loras', { loras: Array(4).fill({ path: 'a', scale: 1 }) }],
    ])('refuses an invalid %s with 400', async (field, patch) => {
      const created = await post(target().baseUrl, wire(patch), auth());
      expect(created.status).toBe(400);
      if (exact) {
        expect(created.json).toMatchObject({ code: 400, reason: 'INVALID_REQUEST_BODY' });
        expect(
          created.json.metadata.issues.map((issue: { field: string }) => issue.field.split('.')[0]),
        ).toEqual([field]);
      }
    });

    it('answers an unknown task id with a 4xx JSON error, not a crash', async () => {
      const unknown = await result(
        target().baseUrl,
        '00000000-0000-4000-8000-000000000000',
        auth(),
      );
      expect(unknown.status).toBeGreaterThanOrEqual(400);
      expect(unknown.status).toBeLessThan(500);
      expect(typeof unknown.json).toBe('object');
    });
  });
}
