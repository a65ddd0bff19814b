/** The renderer: bounded ffmpeg children, one render per distinct video, pictures that differ. */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Renderer, type RenderParams, renderKey } from '../src/index.js';

const base: RenderParams = {
  width: 480,
  height: 832,
  seed: 1,
  prompt: 'a cat',
  steps: 10,
  guidanceScale: 5,
  flowShift: 5,
};
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/**
 * A stand-in for ffmpeg that logs when each run starts and ends, and in between takes a moment
 * and writes its output file. These tests are about how the renderer runs its children, not
 * about the pictures (the contract and browser suites render real ones): the real ffmpeg would
 * only add CPU work, which a busy machine makes slow. A moment long enough that runs started
 * together would overlap in the log.
 */
async function loggingFfmpeg() {
  const dir = await mkdtemp(join(tmpdir(), 'wan-render-test-'));
  dirs.push(dir);
  const log = join(dir, 'runs.log');
  const script = join(dir, 'ffmpeg');
  await writeFile(
    script,
    `#!/bin/sh\necho start >> "${log}"\nsleep 0.2\nfor arg; do out="$arg"; done\necho video > "$out"\necho end >> "${log}"\n`,
  );
  await chmod(script, 0o755);
  return {
    dir,
    script,
    runs: async () =>
      (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean),
  };
}

describe('Renderer', () => {
  it('runs at most maxConcurrentRenders ffmpeg children at once', async () => {
    const ffmpeg = await loggingFfmpeg();
    const renderer = new Renderer({
      storageDir: join(ffmpeg.dir, 'videos'),
      maxConcurrentRenders: 1,
      ffmpegPath: ffmpeg.script,
    });
    await Promise.all([1, 2, 3].map((seed) => renderer.render({ ...base, seed })));
    expect(await ffmpeg.runs()).toEqual(['start', 'end', 'start', 'end', 'start', 'end']);
  });

  it('renders a video once: concurrent and later requests for it share the file', async () => {
    const ffmpeg = await loggingFfmpeg();
    const renderer = new Renderer({
      storageDir: join(ffmpeg.dir, 'videos'),
      maxConcurrentRenders: 2,
      ffmpegPath: ffmpeg.script,
    });
    const [a, b] = await Promise.all([renderer.render(base), renderer.render({ ...base })]);
    const c = await renderer.render(base);
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(await ffmpeg.runs()).toEqual(['start', 'end']);
  });

  it('lets renderers that share a storage directory render the same video at once', async () => {
    const ffmpeg = await loggingFfmpeg();
    const storageDir = join(ffmpeg.dir, 'videos');
    const renderers = [1, 2, 3, 4].map(
      () => new Renderer({ storageDir, maxConcurrentRenders: 1, ffmpegPath: ffmpeg.script }),
    );
    const files = await Promise.all(renderers.map((renderer) => renderer.render(base)));
    expect(new Set(files).size).toBe(1);
    expect(await readFile(files[0] ?? '', 'utf8')).toBe('video\n');
  });

  it('keys every parameter that changes the picture', () => {
    const key = renderKey(base);
    const changes: Partial<RenderParams>[] = [
      { seed: 2 },
      { prompt: 'a dog' },
      { negativePrompt: 'blur' },
      { steps: 11 },
      { guidanceScale: 5.5 },
      { flowShift: 6 },
      { width: 832, height: 480 },
      { loras: [{ path: 'style.safetensors', scale: 0.7 }] },
    ];
    const keys = changes.map((change) => renderKey({ ...base, ...change }));
    expect(new Set([key, ...keys]).size).toBe(changes.length + 1);
  });

  it('reports an ffmpeg failure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wan-render-test-'));
    dirs.push(dir);
    const renderer = new Renderer({
      storageDir: dir,
      maxConcurrentRenders: 1,
      ffmpegPath: '/bin/false',
    });
    await expect(renderer.render(base)).rejects.toThrow(/ffmpeg failed/);
  });
});
