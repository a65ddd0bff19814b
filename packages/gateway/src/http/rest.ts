/**
 * The seed's REST contract on the gateway: `POST /v3/async/wan-t2v` and
 * `GET /v3/async/task-result?task_id=`, with the seed's bodies and errors, so code written for
 * Novita's API (its curl examples, `novita-sdk`) runs against the gateway with only its base URL
 * and key changed. The same tasks as GraphQL: created here, watched with the subscription, and
 * the reverse; the gateway's client keys, limits, idempotency (`Idempotency-Key`) and ownership
 * apply as they do there.
 */
import {
  CREATE_TASK_PATH,
  fromCreateTaskRequest,
  safeParseCreateTaskRequest,
  TASK_RESULT_PATH,
} from '@wan-video/core';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Auth } from '../auth.js';
import type { Logger } from '../logger.js';
import type { VideoService } from '../service.js';
import { taskResultBodyOf } from '../webhooks/event.js';

/** The seed's error body: `{code, reason, message, metadata}`. */
const seedError = (
  status: number,
  reason: string,
  message: string,
  metadata: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) =>
  new Response(JSON.stringify({ code: status, reason, message, metadata }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

const ok = (body: unknown) =>
  new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });

/** How each gateway error code reads at the seed's door: HTTP status and machine reason. */
const AS_SEED: Readonly<Record<string, readonly [number, string]>> = {
  BAD_USER_INPUT: [400, 'INVALID_REQUEST_BODY'],
  UNAUTHENTICATED: [401, 'INVALID_API_KEY'],
  NOT_FOUND: [404, 'TASK_NOT_FOUND'],
  RATE_LIMITED: [429, 'RATE_LIMIT_EXCEEDED'],
  IDEMPOTENCY_CONFLICT: [409, 'IDEMPOTENCY_CONFLICT'],
  UPSTREAM_REJECTED: [400, 'UPSTREAM_REJECTED'],
  UPSTREAM_UNAVAILABLE: [503, 'SERVICE_UNAVAILABLE'],
  SERVICE_UNAVAILABLE: [503, 'SERVICE_UNAVAILABLE'],
};

/** A gateway error as the seed's error answer; anything else is a 500 that names nothing. */
function asSeedError(error: unknown, logger: Logger): Response {
  const extensions = error instanceof GraphQLError ? error.extensions : undefined;
  const mapped = typeof extensions?.code === 'string' ? AS_SEED[extensions.code] : undefined;
  if (!error || !mapped || !(error instanceof GraphQLError)) {
    logger.error({ err: error }, 'a REST request failed');
    return seedError(500, 'INTERNAL_SERVER_ERROR', 'Unexpected error.');
  }
  const { code: _code, ...metadata } = extensions ?? {};
  if (Array.isArray(metadata.issues)) {
    // One issue shape at this door, the one its own validation gives: `field` named as in the
    // seed's body (the webhook's URL is `extra.webhook.url` here, `webhook.url` on GraphQL).
    metadata.issues = (
      metadata.issues as { path?: unknown[]; rule?: string; message?: string }[]
    ).map((issue) => ({
      field: restField(issue.path ?? []),
      rule: issue.rule,
      message: issue.message,
    }));
  }
  const retry = extensions?.retryAfterSeconds;
  return seedError(
    mapped[0],
    mapped[1],
    error.message,
    metadata,
    typeof retry === 'number' ? { 'retry-after': String(retry) } : {},
  );
}

/** A gateway issue path as the seed's body names it. */
function restField(path: readonly unknown[]): string {
  const [head, ...rest] = path.map(String);
  if (head === 'webhook') return ['extra', 'webhook', ...rest].join('.');
  if (head === 'idempotencyKey') return 'Idempotency-Key';
  return (head === 'input' ? rest : path.map(String)).join('.');
}

/**
 * The caller, from `Authorization: Bearer <key>` or the bare key (as `novita-sdk` sends it).
 */
const bearer = (header: string | null) =>
  header === null || /^Bearer\s/i.test(header) ? header : `Bearer ${header.trim()}`;

export interface RestOptions {
  readonly service: VideoService;
  readonly auth: Auth;
  readonly logger: Logger;
  /** The origin of links for this request (`PUBLIC_URL`, or the host the client reached). */
  readonly originOf: (request: Request) => string;
}

export const useRestContract = (options: RestOptions): Plugin => ({
  async onRequest({ request, url, endResponse }) {
    const path = url.pathname;
    if (path !== CREATE_TASK_PATH && path !== TASK_RESULT_PATH) return;
    endResponse(await answer(options, request, url));
  },
});

async function answer(options: RestOptions, request: Request, url: URL): Promise<Response> {
  const { service, auth, logger } = options;
  const isCreate = url.pathname === CREATE_TASK_PATH;
  const method = isCreate ? 'POST' : 'GET';
  if (request.method !== method) {
    return seedError(405, 'METHOD_NOT_ALLOWED', `Use ${method}.`, {}, { allow: method });
  }
  try {
    const owner = auth.callerFor(bearer(request.headers.get('authorization'))).id;
    if (!isCreate) {
      const taskId = url.searchParams.get('task_id') ?? '';
      if (taskId === '') return seedError(400, 'INVALID_REQUEST_PARAMS', 'task_id is required');
      const record = await service.visible(owner, taskId);
      return ok(taskResultBodyOf(record, options.originOf(request)));
    }
    let json: unknown;
    try {
      json = JSON.parse(await request.text());
    } catch {
      return seedError(400, 'INVALID_REQUEST_BODY', 'The request body is not valid JSON.');
    }
    const parsed = safeParseCreateTaskRequest(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({
        field: issue.path.join('.'),
        rule: issue.rule,
        message: issue.message,
      }));
      const message = issues.map((issue) => issue.message).join('; ');
      return seedError(400, 'INVALID_REQUEST_BODY', message, { issues });
    }
    const input = fromCreateTaskRequest(parsed.data);
    // `extra.webhook`: the gateway delivers the seed's event itself, signed (see webhooks/).
    const webhook = parsed.data.extra?.webhook;
    const created = await service.generate(owner, input, request.headers.get('idempotency-key'), {
      origin: options.originOf(request),
      ...(webhook?.url === undefined
        ? {}
        : {
            webhook: {
              url: webhook.url,
              ...(webhook.test_mode
                ? {
                    testMode: {
                      enabled: webhook.test_mode.enabled,
                      ...(webhook.test_mode.return_task_status
                        ? { returnTaskStatus: webhook.test_mode.return_task_status }
                        : {}),
                    },
                  }
                : {}),
            },
          }),
    });
    return ok({ task_id: created.id });
  } catch (error) {
    return asSeedError(error, logger);
  }
}
