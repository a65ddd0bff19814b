import type { VideoTask } from '@wan-video/operations';
import { print } from 'graphql';

// The documents and their wire types come from @wan-video/operations, typed from the gateway's
// committed schema.graphql; nothing here re-types what the gateway returns.
export type { GatewayInfo, VideoTask } from '@wan-video/operations';

/** A page of the caller's tasks, newest first. */
export interface VideoTaskPage {
  readonly tasks: readonly VideoTask[];
  readonly hasNextPage: boolean;
  readonly endCursor: string | null;
}

export const isTerminal = (task: Pick<VideoTask, 'status'> | null | undefined): boolean =>
  task?.status === 'SUCCEEDED' || task?.status === 'FAILED';

const texts = new WeakMap<object, string>();

/** A document's text, printed once, for the transports that send text (graphql-ws). */
export function textOf(document: Parameters<typeof print>[0]): string {
  let text = texts.get(document);
  if (text === undefined) {
    text = print(document);
    texts.set(document, text);
  }
  return text;
}
