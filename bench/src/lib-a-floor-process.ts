/**
 * The stack floor of the mutation benchmark (`mutation.ts`): the least a GraphQL server on this
 * stack can do to create a task, in a process of its own. A bare graphql-yoga server with one
 * mutation, `generateVideo(input) { id status }`, that checks nothing beyond what GraphQL
 * itself checks (the document and the input's types), sends the create to the upstream
 * (`POST /v3/async/wan-t2v`, the body the gateway sends for the same input) through an undici
 * `Pool` with keep-alive, as `packages/gateway/src/upstream-http.ts` does, stores one row in
 * SQLite (libsql, WAL, `synchronous = NORMAL`, one prepared INSERT) and answers `QUEUED`. No
 * authentication, limits, idempotency, tracking, metrics or logs, and no body-size check.
 *
 * `common.ts` forks it like the gateway child: its options come as JSON in argv[2], the URL goes
 * back over IPC as `{ url }`, it stops on `'close'` or when the parent goes away, and it answers
 * `'stats:reset'` / `'stats:read'` (event-loop delay and CPU time over a window) the same way.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CREATE_TASK_PATH, LIMITS, MODEL_NAME } from '@wan-video/core';
import { createSchema, createYoga } from 'graphql-yoga';
import Database from 'libsql';
import { Pool } from 'undici';
import { serveParent } from './lib-a-child.js';

if (process.send === undefined) throw new Error('start this file with child_process.fork');

export interface FloorOptions {
  /** The upstream's base URL (the emulator). */
  readonly upstreamUrl: string;
  readonly apiKey: string;
  /** The SQLite file (created). */
  readonly databasePath: string;
}

const options = JSON.parse(process.argv[2] ?? '{}') as FloorOptions;

// --- the upstream: one keep-alive pool to its origin, as the gateway's ----------------------

const { origin } = new URL(options.upstreamUrl);
const pool = new Pool(origin, { connections: 64, keepAliveTimeout: 30_000 });
const upstreamHeaders = {
  authorization: `Bearer ${options.apiKey}`,
  accept: 'application/json',
  'content-type': 'application/json',
};

interface Input {
  prompt: string;
  negativePrompt?: string | null;
  width: number;
  height: number;
  seed?: number | null;
  steps?: number | null;
  guidanceScale?: number | null;
  flowShift?: number | null;
  loras?: { path: string; scale: number }[] | null;
  modelName?: string | null;
}

/** The upstream's body for `input`: core's `toCreateTaskRequest` field order and defaults, unchecked. */
function upstreamBody(input: Input): string {
  return JSON.stringify({
    model_name: input.modelName ?? MODEL_NAME,
    width: input.width,
    height: input.height,
    seed: input.seed ?? LIMITS.seed.random,
    prompt: input.prompt,
    ...(input.negativePrompt == null ? {} : { negative_prompt: input.negativePrompt }),
    steps: input.steps ?? LIMITS.steps.default,
    guidance_scale: input.guidanceScale ?? LIMITS.guidanceScale.default,
    flow_shift: input.flowShift ?? LIMITS.flowShift.default,
    ...(input.loras == null ? {} : { loras: input.loras }),
  });
}

async function createUpstream(body: string): Promise<string> {
  const answer = await pool.request({
    path: CREATE_TASK_PATH,
    method: 'POST',
    headers: upstreamHeaders,
    body,
  });
  const text = await answer.body.text();
  if (answer.statusCode < 200 || answer.statusCode >= 300) {
    throw new Error(`the upstream answered ${answer.statusCode}`);
  }
  const taskId = (JSON.parse(text) as { task_id?: unknown }).task_id;
  if (typeof taskId !== 'string') throw new Error('no task_id in the answer');
  return taskId;
}

// --- the store: one table, one prepared INSERT ------------------------------------------------

const db = new Database(options.databasePath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  upstream_task_id TEXT NOT NULL,
  status TEXT NOT NULL,
  input_json TEXT NOT NULL,
  created_at INTEGER NOT NULL
)`);
const insert = db.prepare(
  `INSERT INTO tasks (id, upstream_task_id, status, input_json, created_at) VALUES (?, ?, 'QUEUED', ?, ?)`,
);

// --- GraphQL ----------------------------------------------------------------------------------

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    input LoraInput {
      path: String!
      scale: Float!
    }
    input GenerateVideoInput {
      prompt: String!
      negativePrompt: String
      width: Int!
      height: Int!
      seed: Float
      steps: Int
      guidanceScale: Float
      flowShift: Float
      loras: [LoraInput!]
      modelName: String
    }
    type VideoTask {
      id: ID!
      status: String!
    }
    type Query {
      ok: Boolean!
    }
    type Mutation {
      generateVideo(input: GenerateVideoInput!): VideoTask!
    }
  `,
  resolvers: {
    Query: { ok: () => true },
    Mutation: {
      generateVideo: async (_root: unknown, args: { input: Input }) => {
        const upstreamTaskId = await createUpstream(upstreamBody(args.input));
        const id = randomUUID();
        insert.run(id, upstreamTaskId, JSON.stringify(args.input), Date.now());
        return { id, status: 'QUEUED' };
      },
    },
  },
});

const yoga = createYoga({
  schema,
  graphqlEndpoint: '/graphql',
  landingPage: false,
  graphiql: false,
  logging: false,
  // Nor yoga's body-size check (a TransformStream piped through every body), which the gateway
  // also turns off: the floor pays for nothing the gateway does not.
  maxRequestBodySize: false,
});
const server = createServer(yoga);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

serveParent(`http://127.0.0.1:${port}`, async () => {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
  await pool.close();
  db.close();
});
