/**
 * vitest global setup: one video directory for the whole run of this package's suites, so that
 * emulators asking for the same video (same parameters) render it once between them. The test
 * files run one after the other, each with its own emulators; they share only these files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the suites' emulators keep their videos. */
    videoDir: string;
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), 'wan-emulator-videos-'));
  project.provide('videoDir', dir);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}
