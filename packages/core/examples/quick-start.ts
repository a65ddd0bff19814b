// The README's quick start, type-checked in CI (`pnpm typecheck`) so it cannot rot.
import {
  isUpstreamError,
  isValidationError,
  NovitaClient,
  parseVideoInput,
  pollTask,
  toCreateTaskRequest,
} from '@wan-video/core';

export async function generate(apiKey: string): Promise<string | undefined> {
  const client = new NovitaClient({ apiKey });
  try {
    // 1. Validate the request (camelCase, defaults filled: steps 30, guidance 5, flow shift 5).
    const input = parseVideoInput({
      prompt: 'a lighthouse at dusk, waves',
      width: 832,
      height: 480,
    });
    // 2. Create the task: a create is never retried when a task might already exist.
    const taskId = await client.createTask(toCreateTaskRequest(input));
    // 3. Follow it: each real change once, the interval adapting to the eta.
    for await (const snapshot of pollTask(client, taskId, { deadline: Date.now() + 10 * 60_000 })) {
      if (snapshot.status === 'PROCESSING') console.log(`${snapshot.progressPercent}%`);
      if (snapshot.status === 'FAILED') throw new Error(snapshot.failureReason ?? 'failed');
      if (snapshot.status === 'SUCCEEDED') return snapshot.videos[0]?.url;
    }
  } catch (error) {
    if (isValidationError(error)) for (const issue of error.issues) console.error(issue.message);
    else if (isUpstreamError(error))
      console.error(error.message, error.retryable ? '(try again later)' : '');
    else throw error;
  }
  return undefined;
}
