/**
 * vitest global setup: a video directory for the run, holding the videos the tests wait for
 * (PRERENDERED), rendered once here by an emulator from the same requests the gateway sends.
 * Every live gateway's emulator keeps its videos there (see live-gateway.ts), so a task ends
 * when its upstream time is up instead of when a render, slowed by a busy machine, is done.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NovitaClient, parseVideoInput, pollTask, toCreateTaskRequest } from '@wan-video/core';
import { startEmulator } from '@wan-video/emulator';
import type { TestProject } from 'vitest/node';
import { PRERENDERED } from './videos.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the live gateways' emulators keep their videos. */
    videoDir: string;
  }
}

async function prerender(storageDir: string) {
  const emulator = await startEmulator({ storageDir, timeScale: 1000 });
  try {
    const client = new NovitaClient({ apiKey: 'hooks-test-prerender', baseUrl: emulator.url });
    await Promise.all(
      PRERENDERED.map(async (input) => {
        const taskId = await client.createTask(toCreateTaskRequest(parseVideoInput(input)));
        const polling = pollTask(client, taskId, { minIntervalMs: 50 });
        let step = await polling.next();
        while (!step.done) step = await polling.next();
        if (step.value.status !== 'SUCCEEDED')
          throw new Error(`rendering ${JSON.stringify(input)} ended ${step.value.status}`);
      }),
    );
  } finally {
    await emulator.close();
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), 'wan-hooks-videos-'));
  try {
    await prerender(dir);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  project.provide('videoDir', dir);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}
