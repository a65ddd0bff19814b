import type { ResolvedVideoInput, VideoInput } from '@wan-video/core';

/**
 * Copyable code for the call the form stands for: curl, JavaScript (Node 20) and React. Pure
 * functions of the parameters, so each snippet is tested by running it against a real gateway.
 */
export interface SnippetParams {
  /** The gateway's GraphQL endpoint over HTTP: `http://127.0.0.1:4000/graphql`. */
  readonly url: string;
  /** The API key, when the gateway needs one: sent as `Authorization: Bearer <key>`. */
  readonly apiKey: string | null;
  /** The request, as the form sends it. */
  readonly input: VideoInput;
}

export type SnippetLanguage = 'curl' | 'javascript' | 'react';

export const SNIPPET_LANGUAGES: readonly {
  readonly id: SnippetLanguage;
  readonly label: string;
}[] = [
  { id: 'curl', label: 'curl' },
  { id: 'javascript', label: 'JavaScript' },
  { id: 'react', label: 'React' },
];

export const GENERATE_MUTATION = `mutation GenerateVideo($input: GenerateVideoInput!) {
  generateVideo(input: $input) {
    id
    status
  }
}`;

export const WATCH_SUBSCRIPTION = `subscription WatchVideo($id: ID!) {
  videoTask(id: $id) {
    status
    progressPercent
    etaSeconds
    failureReason
    videos { url }
  }
}`;

/** The fields the form sets, without the ones it cannot (the model) or left empty. */
export function snippetInput(input: ResolvedVideoInput): VideoInput {
  return {
    prompt: input.prompt,
    ...(input.negativePrompt ? { negativePrompt: input.negativePrompt } : {}),
    width: input.width,
    height: input.height,
    seed: input.seed,
    steps: input.steps,
    guidanceScale: input.guidanceScale,
    flowShift: input.flowShift,
    ...(input.loras && input.loras.length > 0
      ? { loras: input.loras.map((lora) => ({ path: lora.path, scale: lora.scale })) }
      : {}),
  };
}

/** Text in single quotes for a POSIX shell: `it's` → `'it'\''s'`. */
export const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** A JavaScript object literal, indented, with bare keys where they are identifiers. */
export function jsLiteral(value: unknown, indent = 0): string {
  const pad = ' '.repeat(indent);
  return JSON.stringify(value, null, 2)
    .replace(/^(\s*)"([A-Za-z_$][\w$]*)":/gm, '$1$2:')
    .split('\n')
    .map((line, i) => (i === 0 ? line : `${pad}${line}`))
    .join('\n');
}

const bearer = (apiKey: string | null): string | null =>
  apiKey && apiKey.trim() !== '' ? `Bearer ${apiKey.trim()}` : null;

/** `curl` posting the `generateVideo` mutation; the body is a quoted here-document, so no quoting gets in the way. */
export function curlSnippet({ url, apiKey, input }: SnippetParams): string {
  const auth = bearer(apiKey);
  const body = JSON.stringify({ query: GENERATE_MUTATION, variables: { input } }, null, 2);
  return [
    `curl -sS ${shellQuote(url)} \\`,
    `  -H 'Content-Type: application/json' \\`,
    ...(auth ? [`  -H ${shellQuote(`Authorization: ${auth}`)} \\`] : []),
    `  --data-binary @- <<'JSON'`,
    body,
    'JSON',
  ].join('\n');
}

/** Node 20: graphql-request starts the video, graphql-ws (on `ws`) follows it to the end. */
export function javascriptSnippet({ url, apiKey, input }: SnippetParams): string {
  const auth = bearer(apiKey);
  const headers = auth ? `{ authorization: ${JSON.stringify(auth)} }` : '{}';
  return `// npm install graphql graphql-request graphql-ws ws, then: node generate.mjs
import { GraphQLClient } from 'graphql-request';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = ${JSON.stringify(url)};
const headers = ${headers};

const input = ${jsLiteral(input)};

// Start the video: it returns at once, QUEUED.
const http = new GraphQLClient(url, { headers });
const { generateVideo } = await http.request(\`${GENERATE_MUTATION}\`, { input });
console.log(\`task \${generateVideo.id}\`);

// Watch it live until SUCCEEDED or FAILED.
const ws = createClient({
  url: url.replace(/^http/, 'ws'),
  webSocketImpl: WebSocket,
  connectionParams: headers,
});
let task;
for await (const result of ws.iterate({
  query: \`${WATCH_SUBSCRIPTION}\`,
  variables: { id: generateVideo.id },
})) {
  if (result.errors) throw new Error(result.errors[0].message);
  task = result.data.videoTask;
  console.log(\`\${task.status} \${task.progressPercent}%\`);
}
await ws.dispose();
console.log(task.status === 'SUCCEEDED' ? task.videos[0].url : task.failureReason);
`;
}

/** A React component on `@wan-video/react-hooks`: the provider, `useGenerateVideo` and `useVideoTask`. */
export function reactSnippet({ url, apiKey, input }: SnippetParams): string {
  const key = apiKey && apiKey.trim() !== '' ? apiKey.trim() : null;
  const auth = key ? `\n      getAuthToken={() => ${JSON.stringify(key)}}` : '';
  return `// npm install @wan-video/react-hooks
import { useGenerateVideo, useVideoTask, VideoGatewayProvider } from '@wan-video/react-hooks';
import { useState } from 'react';

const input = ${jsLiteral(input)};

export function App() {
  return (
    <VideoGatewayProvider
      url=${JSON.stringify(url)}${auth}
    >
      <Generate />
    </VideoGatewayProvider>
  );
}

function Generate() {
  const { generate, isPending, error } = useGenerateVideo();
  const [taskId, setTaskId] = useState<string | null>(null);
  return (
    <section>
      <button
        type="button"
        disabled={isPending}
        onClick={() => void generate(input).then((task) => setTaskId(task?.id ?? null))}
      >
        Generate
      </button>
      {error && <p role="alert">{error.message}</p>}
      {taskId && <Task id={taskId} />}
    </section>
  );
}

function Task({ id }: { id: string }) {
  const { status, progressPercent, etaSeconds, videos, task } = useVideoTask(id);
  if (status === 'SUCCEEDED' && videos[0]) {
    return <video src={videos[0].url} controls loop muted />;
  }
  if (status === 'FAILED') return <p>Failed: {task?.failureReason}</p>;
  return (
    <p>
      {status ?? 'Starting'} {progressPercent}%{etaSeconds !== null && \`, about \${etaSeconds} s left\`}
    </p>
  );
}
`;
}

/** The snippet in `language` for these parameters. */
export function snippetFor(language: SnippetLanguage, params: SnippetParams): string {
  switch (language) {
    case 'curl':
      return curlSnippet(params);
    case 'javascript':
      return javascriptSnippet(params);
    case 'react':
      return reactSnippet(params);
  }
}
