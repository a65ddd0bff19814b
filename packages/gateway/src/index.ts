export { createGateway, type Gateway, type GatewayDeps, type GatewayOptions } from './app.js';
export type { Caller, GatewayContext, GatewayInfo } from './builder.js';
export { ConfigError, type GatewayConfig, readConfig } from './config.js';
export { ERROR_CODES, type ErrorCode } from './errors.js';
export type { TaskEvent, TaskEventStream, TaskEvents } from './events/types.js';
export type { Limits } from './limits/types.js';
export { printedSchema, schema } from './schema/index.js';
export type { GenerateOptions } from './service.js';
export { SqliteTaskStore } from './store/sqlite.js';
export type {
  InsertResult,
  NewTask,
  StoredStatus,
  TaskPage,
  TaskRecord,
  TaskStore,
} from './store/types.js';
export type { Tracking } from './tracking/types.js';
export type { WebhookOption } from './webhooks/outbox.js';
export type {
  WebhookAttempt,
  WebhookDeliveryRecord,
  WebhookDeliveryStatus,
  WebhookStore,
} from './webhooks/types.js';
