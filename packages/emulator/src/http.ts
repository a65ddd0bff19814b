import type { IncomingMessage, ServerResponse } from 'node:http';

/** The upstream's error body: `{code, reason, message, metadata}`. */
export function errorBody(
  code: number,
  reason: string,
  message: string,
  metadata: Record<string, unknown> = {},
) {
  return { code, reason, message, metadata };
}

export const isLoopback = (address: string | undefined): boolean =>
  address !== undefined &&
  (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));

export const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLarge extends Error {}

/** The whole body as text; throws `BodyTooLarge` past 1 MiB. */
export async function readBody(req: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** An answer of the API routes, before it is written: the same for HTTP and in-process calls. */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body text; a `malformed` fault cuts it in half. */
  readonly body: string;
}

export function jsonAnswer(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  malformed = false,
): Answer {
  let text = JSON.stringify(body);
  if (malformed) text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: text };
}

export function writeAnswer(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/** The bearer key of an `Authorization` header, or '' when there is none. */
export function bearerKey(req: Pick<IncomingMessage, 'headers'>): string {
  const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return match?.[1]?.trim() ?? '';
}
