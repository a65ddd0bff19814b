/**
 * vitest global setup: one video directory for the whole run of this package's suites, so that
 * emulators asking for the same video (same parameters) render it once between them. The test
 * files run one after the other, each with its own emulators; they share only these files.
 *
 * The videos several tests ask for (SHARED_VIDEOS, one of them 720×1280) are rendered here,
 * before the suites, by an emulator like theirs: a render is the one slow step of a test, and a
 * busy machine makes a big one slower than a test may take. The tests then check the files the
 * emulator serves; the tests about rendering itself still render on demand.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NovitaClient, pollTask } from '@wan-video/core';
import type { TestProject } from 'vitest/node';
import { startEmulator } from '../../src/index.js';
import { AUTH, KEY, SHARED_VIDEOS, wire } from './wire.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the suites' emulators keep their videos. */
    videoDir: string;
  }
}

async function renderSharedVideos(storageDir: string) {
  const emulator = await startEmulator({ storageDir, timeScale: 1000 });
  try {
    const client = new NovitaClient({ apiKey: KEY, baseUrl: emulator.url });
    await Promise.all(
      SHARED_VIDEOS.map(async (patch) => {
        const created = await fetch(`${emulator.url}/v3/async/wan-t2v`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...AUTH },
          body: JSON.stringify(wire(patch)),
        });
        const { task_id: taskId } = (await created.json()) as { task_id: string };
        const polling = pollTask(client, taskId, { minIntervalMs: 50 });
        let step = await polling.next();
        while (!step.done) step = await polling.next();
        if (step.value.status !== 'SUCCEEDED')
          throw new Error(`rendering ${JSON.stringify(patch)} ended ${step.value.status}`);
      }),
    );
  } finally {
    await emulator.close();
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), 'wan-emulator-videos-'));
  try {
    await renderSharedVideos(dir);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  project.provide('videoDir', dir);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}
