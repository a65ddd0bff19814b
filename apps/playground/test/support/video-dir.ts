/**
 * vitest global setup: a video directory for the run, holding the video the end-to-end test
 * generates (GENERATED), rendered once here by an emulator from the request the gateway sends.
 * The gateway's embedded emulator keeps its videos there, so the task ends when its upstream
 * time is up instead of when a render, slowed by a busy machine, is done: the test is about the
 * playground, and the emulator's suites test rendering.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NovitaClient, parseVideoInput, pollTask, toCreateTaskRequest } from '@wan-video/core';
import { startEmulator } from '@wan-video/emulator';
import type { TestProject } from 'vitest/node';
import { GENERATED } from './videos.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the gateway's embedded emulator keeps its videos. */
    videoDir: string;
  }
}

async function prerender(storageDir: string) {
  const emulator = await startEmulator({ storageDir, timeScale: 1000 });
  try {
    const client = new NovitaClient({ apiKey: 'playground-prerender', baseUrl: emulator.url });
    const taskId = await client.createTask(toCreateTaskRequest(parseVideoInput(GENERATED)));
    const polling = pollTask(client, taskId, { minIntervalMs: 50 });
    let step = await polling.next();
    while (!step.done) step = await polling.next();
    if (step.value.status !== 'SUCCEEDED')
      throw new Error(`rendering the test's video ended ${step.value.status}`);
  } finally {
    await emulator.close();
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), 'wan-playground-videos-'));
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
