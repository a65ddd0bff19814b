import { builder } from '../builder.js';
import type { WebhookOption } from '../webhooks/outbox.js';

const WebhookTestStatus = builder.enumType('WebhookTestStatus', {
  description: "The status a test event reports (the seed's `return_task_status`).",
  values: {
    SUCCEEDED: { value: 'TASK_STATUS_SUCCEED' as const },
    FAILED: { value: 'TASK_STATUS_FAILED' as const },
  },
});

const WebhookTestModeInput = builder.inputType('WebhookTestModeInput', {
  description:
    "The seed's `test_mode`: with `enabled`, nothing is generated or paid for; the task ends at once with `returnTaskStatus` (SUCCEEDED by default, with no video) and its event is delivered.",
  fields: (t) => ({
    enabled: t.boolean({ required: true }),
    returnTaskStatus: t.field({ type: WebhookTestStatus }),
  }),
});

/** `generateVideo`'s `webhook` argument. */
export const WebhookInput = builder.inputType('WebhookInput', {
  description:
    "Where the gateway POSTs the task's final ASYNC_TASK_RESULT event, signed per Standard Webhooks with your `webhookSecret`. http(s) only; hosts that resolve to loopback, private, link-local or metadata addresses are refused.",
  fields: (t) => ({
    url: t.string({ required: true }),
    testMode: t.field({ type: WebhookTestModeInput }),
  }),
});

/** The GraphQL argument as `generate`'s option. */
export const webhookOptionOf = (
  input:
    | {
        url: string;
        testMode?:
          | {
              enabled: boolean;
              returnTaskStatus?: 'TASK_STATUS_SUCCEED' | 'TASK_STATUS_FAILED' | null | undefined;
            }
          | null
          | undefined;
      }
    | null
    | undefined,
): WebhookOption | undefined =>
  input
    ? {
        url: input.url,
        testMode: input.testMode
          ? {
              enabled: input.testMode.enabled,
              returnTaskStatus: input.testMode.returnTaskStatus ?? undefined,
            }
          : null,
      }
    : undefined;
