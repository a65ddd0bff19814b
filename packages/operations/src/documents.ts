import type { ResultOf, VariablesOf } from 'gql.tada';
import { graphql } from './graphql.js';

/** Every field of a task the clients read: the same in a mutation, a query and each snapshot. */
export const VideoTaskFields = graphql(`
  fragment VideoTaskFields on VideoTask {
    id
    status
    progressPercent
    etaSeconds
    progressEstimated
    failureReason
    input {
      prompt
      negativePrompt
      width
      height
      seed
      steps
      guidanceScale
      flowShift
      loras {
        path
        scale
      }
      modelName
    }
    videos {
      url
      type
      expiresAt
    }
    createdAt
    updatedAt
    completedAt
  }
`);

/** Starts a video; the task comes back at once, QUEUED. */
export const GenerateVideoMutation = graphql(
  `
    mutation GenerateVideo($input: GenerateVideoInput!, $idempotencyKey: String) {
      generateVideo(input: $input, idempotencyKey: $idempotencyKey) {
        ...VideoTaskFields
      }
    }
  `,
  [VideoTaskFields],
);

/** The task now, then every change; completes after SUCCEEDED or FAILED. */
export const VideoTaskSubscription = graphql(
  `
    subscription WatchVideoTask($id: ID!) {
      videoTask(id: $id) {
        ...VideoTaskFields
      }
    }
  `,
  [VideoTaskFields],
);

/** One task, once (fresh video URLs included); `null` when it is not the caller's. */
export const VideoTaskQuery = graphql(
  `
    query VideoTask($id: ID!) {
      videoTask(id: $id) {
        ...VideoTaskFields
      }
    }
  `,
  [VideoTaskFields],
);

/** The caller's tasks, newest first, a page at a time. */
export const VideoTasksQuery = graphql(
  `
    query VideoTasks($first: Int, $after: String) {
      videoTasks(first: $first, after: $after) {
        edges {
          cursor
          node {
            ...VideoTaskFields
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  `,
  [VideoTaskFields],
);

/** How the gateway runs: emulated upstream, keys required, webhooks, limits. */
export const GatewayInfoQuery = graphql(`
  query GatewayInfo {
    gateway {
      emulated
      authRequired
      webhooks
      maxInFlightTasks
      mutationsPerMinute
    }
  }
`);

/** A video task as the gateway returns it (the fields of `VideoTaskFields`). */
export type VideoTask = ResultOf<typeof VideoTaskFields>;
/** Where a task is in its life; SUCCEEDED and FAILED are final. */
export type VideoTaskStatus = VideoTask['status'];
/** How the gateway runs, as `GatewayInfoQuery` reads it. */
export type GatewayInfo = ResultOf<typeof GatewayInfoQuery>['gateway'];
/** What `generateVideo` takes, as the schema types it. */
export type GenerateVideoInput = VariablesOf<typeof GenerateVideoMutation>['input'];
