import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { printedSchema } from '../src/index.js';

describe('schema.graphql', () => {
  it('is the printed schema: run `pnpm --filter @wan-video/gateway print-schema` after a change', async () => {
    const committed = await readFile(new URL('../schema.graphql', import.meta.url), 'utf8');
    expect(printedSchema()).toBe(committed);
  });

  it('has the contract the clients rely on', () => {
    const sdl = printedSchema();
    for (const line of [
      'generateVideo(idempotencyKey: String, input: GenerateVideoInput!, webhook: WebhookInput): VideoTask!',
      'webhookSecret: String!',
      'webhook: WebhookDelivery\n',
      'input WebhookInput {\n  testMode: WebhookTestModeInput\n  url: String!\n}',
      'enum WebhookDeliveryStatus {\n  DELIVERED\n  FAILED\n  PENDING\n}',
      'videoTask(id: ID!): VideoTask\n',
      'videoTasks(after: String, first: Int = 20): VideoTaskConnection!',
      'videoTask(id: ID!): VideoTask!',
      'scalar Seed',
      'enum VideoTaskStatus {\n  FAILED\n  PROCESSING\n  QUEUED\n  SUCCEEDED\n}',
    ]) {
      expect(sdl).toContain(line);
    }
  });
});
