export {
  type ApiRoute,
  type Faults,
  faultsSchema,
} from './faults.js';
export {
  DURATION_SECONDS,
  FPS,
  FRAME_COUNT,
  Renderer,
  type RenderParams,
  renderKey,
} from './render.js';
export {
  type Emulator,
  type EmulatorOptions,
  type MountedEmulator,
  type MountOptions,
  mountEmulator,
  type RequestLogEntry,
  startEmulator,
  type WebhookLogEntry,
} from './server.js';
export { REFERENCE_DURATION_MS, taskDurationMs } from './tasks.js';
export { WEBHOOK_ATTEMPTS, WEBHOOK_BACKOFF_MS, WEBHOOK_TIMEOUT_MS } from './webhooks.js';
