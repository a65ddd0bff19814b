import { graphql } from './graphql.js';

// Each text is a `const` literal, so `graphql()` types its document from the schema as it does
// every other document here (and the tests validate each against schema.graphql).
const GENERATE = `mutation Generate {
  generateVideo(
    input: {
      prompt: "a lighthouse at dusk, waves crashing"
      width: 832
      height: 480
      steps: 20
    }
  ) {
    id
    status
  }
}`;

const WATCH = `subscription Watch($id: ID!) {
  videoTask(id: $id) {
    id
    status
    progressPercent
    etaSeconds
    failureReason
    videos { url type expiresAt }
  }
}`;

const HISTORY = `query History {
  videoTasks(first: 10) {
    edges {
      node { id status createdAt input { prompt seed } }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

/**
 * The example operations, in the order a person runs them: start a video, watch it, list them.
 * `id` is stable, `note` is one sentence on what it does, `text` is what is shown and
 * `document` is that text as a typed document.
 */
export const EXAMPLES = [
  {
    id: 'mutation',
    title: 'Start a video',
    note: 'Returns at once with the task QUEUED.',
    text: GENERATE,
    document: graphql(GENERATE),
  },
  {
    id: 'subscription',
    title: 'Watch it live',
    note: 'The task now, then every change, until SUCCEEDED or FAILED.',
    text: WATCH,
    document: graphql(WATCH),
  },
  {
    id: 'query',
    title: 'List your history',
    note: 'Your tasks, newest first.',
    text: HISTORY,
    document: graphql(HISTORY),
  },
] as const;

/** One operation a person can paste into GraphiQL or copy into their code, with its typed document. */
export type ExampleOperation = (typeof EXAMPLES)[number];

/** All the examples in one text, with how to run them: GraphiQL's default query. */
export const EXAMPLE_OPERATIONS = `# Start a video (it returns at once, QUEUED), then watch it live.
# Run "Generate", copy the id into the variables, then run "Watch".

${EXAMPLES.map((example) => example.text).join('\n\n')}
`;
