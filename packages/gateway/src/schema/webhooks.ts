import { builder } from '../builder.js';
import {
  WEBHOOK_DELIVERY_STATUSES,
  type WebhookAttempt,
  type WebhookDeliveryRecord,
} from '../webhooks/types.js';
import { DateTime } from './scalars.js';
import { VideoTask } from './video-task.js';

const WebhookDeliveryStatus = builder.enumType('WebhookDeliveryStatus', {
  description:
    'PENDING until the task ends and while tries remain; DELIVERED at the first 2xx; FAILED after the last try.',
  values: WEBHOOK_DELIVERY_STATUSES,
});

const WebhookAttemptRef = builder.objectRef<WebhookAttempt>('WebhookAttempt').implement({
  description: 'One try to deliver the event.',
  fields: (t) => ({
    attempt: t.exposeInt('attempt', { description: '1 for the first try.' }),
    at: t.field({ type: DateTime, resolve: (a) => a.at }),
    statusCode: t.int({
      nullable: true,
      description: "The receiver's HTTP status, when it answered.",
      resolve: (a) => a.statusCode,
    }),
    error: t.string({
      nullable: true,
      description:
        'Why the try failed (a status that is not 2xx, a redirect, a timeout, a refused address); null when delivered.',
      resolve: (a) => a.error,
    }),
    durationMs: t.exposeInt('durationMs'),
  }),
});

const WebhookDelivery = builder.objectRef<WebhookDeliveryRecord>('WebhookDelivery').implement({
  description: "The delivery of a task's final event to the webhook it was created with.",
  fields: (t) => ({
    url: t.exposeString('url'),
    status: t.field({ type: WebhookDeliveryStatus, resolve: (d) => d.status }),
    test: t.exposeBoolean('test', { description: 'A test event (testMode): no video was made.' }),
    attempts: t.field({ type: [WebhookAttemptRef], resolve: (d) => [...d.attempts] }),
    nextAttemptAt: t.field({
      type: DateTime,
      nullable: true,
      description:
        'When the next try is due, while the delivery is PENDING and the task has ended.',
      resolve: (d) => (d.status === 'PENDING' && d.attempts.length > 0 ? d.nextAttemptAt : null),
    }),
  }),
});

builder.objectField(VideoTask, 'webhook', (t) =>
  t.field({
    type: WebhookDelivery,
    nullable: true,
    description: "The delivery of this task's final event, when it was created with a webhook.",
    resolve: async (task, _args, ctx) => {
      const delivery = await ctx.service.webhooks?.delivery(task.id);
      return delivery && delivery.owner === ctx.caller.id ? delivery : null;
    },
  }),
);

builder.queryField('webhookSecret', (t) =>
  t.string({
    description:
      "Your signing secret (`whsec_…`): verify each webhook's `webhook-signature` with it (Standard Webhooks). Each client has its own.",
    resolve: (_root, _args, ctx) => {
      const webhooks = ctx.service.webhooks;
      if (!webhooks?.available) throw new Error('webhooks are not available');
      return webhooks.secretFor(ctx.caller.id);
    },
  }),
);
