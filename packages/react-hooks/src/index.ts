export {
  type ConnectionState,
  EMPTY_TASK_STATE,
  type TaskState,
  VideoGatewayClient,
  type VideoGatewayClientOptions,
} from './client.js';
export {
  isVideoGatewayError,
  VIDEO_GATEWAY_ERROR_KINDS,
  VideoGatewayError,
  type VideoGatewayErrorKind,
  type VideoGatewayIssue,
} from './errors.js';
export {
  type GenerateOptions,
  type UseGenerateVideoResult,
  type UseVideoTaskResult,
  type UseVideoTasksResult,
  useConnectionState,
  useGenerateVideo,
  useVideoTask,
  useVideoTasks,
} from './hooks.js';
export { type GatewayInfo, isTerminal, type VideoTask, type VideoTaskPage } from './operations.js';
export {
  useVideoGatewayClient,
  VideoGatewayProvider,
  type VideoGatewayProviderProps,
} from './provider.js';
