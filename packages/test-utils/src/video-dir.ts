/**
 * A vitest global setup that makes one video directory for a package's run and renders into it,
 * once, the videos its tests wait for: an emulator asked for the same video again serves the file
 * at once, so a test's task ends when its upstream time is up instead of when a render, slowed by
 * a busy machine, is done. The suites read the directory with `inject('videoDir')`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CreateTaskRequestInput, NovitaClient, pollTask } from '@wan-video/core';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the run's emulators keep their videos. */
    videoDir: string;
  }
}

/** The emulator's `startEmulator`, passed in: the emulator's own suites use this too. */
export type StartEmulator = (options: {
  storageDir: string;
  timeScale: number;
}) => Promise<{ readonly url: string; close(): Promise<void> }>;

async function render(
  storageDir: string,
  startEmulator: StartEmulator,
  requests: readonly CreateTaskRequestInput[],
) {
  const emulator = await startEmulator({ storageDir, timeScale: 1000 });
  try {
    const client = new NovitaClient({ apiKey: 'video-dir-prerender', baseUrl: emulator.url });
    await Promise.all(
      requests.map(async (request) => {
        const taskId = await client.createTask(request);
        const polling = pollTask(client, taskId, { minIntervalMs: 50 });
        let step = await polling.next();
        while (!step.done) step = await polling.next();
        if (step.value.status !== 'SUCCEEDED') {
          throw new Error(`rendering ${JSON.stringify(request)} ended ${step.value.status}`);
        }
      }),
    );
  } finally {
    await emulator.close();
  }
}

/** The global setup: a directory named after `name`, holding the videos of `requests`. */
export function videoDirSetup(
  name: string,
  startEmulator: StartEmulator,
  requests: readonly CreateTaskRequestInput[],
) {
  return async function setup(project: TestProject) {
    const dir = await mkdtemp(join(tmpdir(), `wan-${name}-videos-`));
    try {
      await render(dir, startEmulator, requests);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    project.provide('videoDir', dir);
    return async () => {
      await rm(dir, { recursive: true, force: true });
    };
  };
}
