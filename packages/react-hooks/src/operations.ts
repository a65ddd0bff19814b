import type { TaskStatus } from '@wan-video/core';

/** A video task as the gateway's GraphQL schema returns it. */
export interface VideoTask {
  readonly id: string;
  readonly status: TaskStatus;
  /** 0 to 100; never goes backwards. */
  readonly progressPercent: number;
  readonly etaSeconds: number | null;
  readonly failureReason: string | null;
  readonly input: {
    readonly prompt: string;
    readonly negativePrompt: string | null;
    readonly width: number;
    readonly height: number;
    /** The seed used, once the upstream reports it (a -1 request shows the concrete seed). */
    readonly seed: number;
    readonly steps: number;
    readonly guidanceScale: number;
    readonly flowShift: number;
    readonly loras: readonly { readonly path: string; readonly scale: number }[];
    readonly modelName: string;
  };
  readonly videos: readonly {
    readonly url: string;
    readonly type: string;
    readonly expiresAt: string;
  }[];
  /** ISO 8601. */
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly completedAt: string | null;
}

const TASK_FIELDS = /* GraphQL */ `
  id
  status
  progressPercent
  etaSeconds
  failureReason
  input { prompt negativePrompt width height seed steps guidanceScale flowShift loras { path scale } modelName }
  videos { url type expiresAt }
  createdAt
  updatedAt
  completedAt
`;

export const GENERATE_VIDEO = /* GraphQL */ `
  mutation GenerateVideo($input: GenerateVideoInput!, $idempotencyKey: String) {
    generateVideo(input: $input, idempotencyKey: $idempotencyKey) { ${TASK_FIELDS} }
  }
`;

export const VIDEO_TASK_SUBSCRIPTION = /* GraphQL */ `
  subscription WatchVideoTask($id: ID!) {
    videoTask(id: $id) { ${TASK_FIELDS} }
  }
`;

export const VIDEO_TASKS = /* GraphQL */ `
  query VideoTasks($first: Int, $after: String) {
    videoTasks(first: $first, after: $after) {
      edges { cursor node { ${TASK_FIELDS} } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

export const GATEWAY_INFO = /* GraphQL */ `
  query GatewayInfo {
    gateway { emulated authRequired webhooks maxInFlightTasks mutationsPerMinute }
  }
`;

export interface GatewayInfo {
  readonly emulated: boolean;
  readonly authRequired: boolean;
  readonly webhooks: boolean;
  readonly maxInFlightTasks: number;
  readonly mutationsPerMinute: number;
}

export interface VideoTaskPage {
  readonly tasks: readonly VideoTask[];
  readonly hasNextPage: boolean;
  readonly endCursor: string | null;
}

export const isTerminal = (task: Pick<VideoTask, 'status'> | null | undefined): boolean =>
  task?.status === 'SUCCEEDED' || task?.status === 'FAILED';
