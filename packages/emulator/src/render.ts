import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import pLimit from 'p-limit';
import { markImage } from './mark.js';

/** Every video: 81 frames at 16 fps, about 5 s, as Wan 2.1 makes them. */
export const FRAME_COUNT = 81;
export const FPS = 16;
export const DURATION_SECONDS = FRAME_COUNT / FPS;

/** What a video is rendered from. Same parameters, same bytes. */
export interface RenderParams {
  readonly width: number;
  readonly height: number;
  /** The seed used (never -1 here: a random request seed is resolved first). */
  readonly seed: number;
  readonly prompt: string;
  readonly negativePrompt?: string | undefined;
  readonly steps: number;
  readonly guidanceScale: number;
  readonly flowShift: number;
  readonly loras?: readonly { readonly path: string; readonly scale: number }[] | undefined;
}

/** FNV-1a, 32 bits: a stable hash of text. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fixed = (value: number, digits = 4): string => value.toFixed(digits);
const hex = (value: number): string =>
  Math.max(0, Math.min(255, Math.round(value)))
    .toString(16)
    .padStart(2, '0');

/** A stable key of the parameters: the file name of the rendered video. */
export function renderKey(params: RenderParams): string {
  const canonical = JSON.stringify([
    params.width,
    params.height,
    params.seed,
    params.prompt,
    params.negativePrompt ?? '',
    params.steps,
    params.guidanceScale,
    params.flowShift,
    (params.loras ?? []).map((lora) => [lora.path, lora.scale]),
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** How big the mark's font pixels are for a frame size. */
export const markScale = (params: Pick<RenderParams, 'width' | 'height'>): number =>
  Math.max(2, Math.round(Math.min(params.width, params.height) / 160));

/**
 * The ffmpeg filter graph that draws the video. Pure: the picture is a function of the
 * parameters alone.
 *
 * - The prompt picks the palette and the shapes (a hash of it seeds a PRNG); the seed moves them.
 * - `flow_shift` sets the speed of every motion: the background's scroll and the shapes' orbits.
 * - `guidance_scale` sets the contrast of the background; `steps` the number of shapes; each
 *   LoRA adds a tinted band; a negative prompt mutes the colours.
 * - Input 0 is the "EMULATOR" mark, overlaid bottom right.
 */
export function renderGraph(params: RenderParams): string {
  const { width: W, height: H } = params;
  const look = prng(hash32(params.prompt));
  const motion = prng(hash32(`${params.seed}:${params.prompt}`));
  const amplitude = 40 + 8 * params.guidanceScale;
  const channel = () => {
    const base = 70 + look() * 110;
    const waves = 1 + Math.floor(look() * 3);
    const phase = look() * Math.PI * 2;
    const slant = 40 + look() * 120;
    const amp = Math.min(base, 255 - base, amplitude);
    return `${fixed(base, 1)}+${fixed(amp, 1)}*sin(2*PI*${waves}*X/${W}+Y/${fixed(slant, 2)}+${fixed(phase)})`;
  };
  const speed = (params.flowShift * W) / 20;
  const graph: string[] = [
    `color=c=black:s=${2 * W}x${H}:r=${FPS}:d=${fixed(1 / FPS)},format=rgb24,` +
      `geq=r='${channel()}':g='${channel()}':b='${channel()}',` +
      `loop=loop=${FRAME_COUNT - 1}:size=1:start=0,setpts=N/${FPS}/TB,` +
      `crop=w=${W}:h=${H}:x='mod(t*${fixed(speed, 2)},${W})':y=0[bg0]`,
  ];
  const shapes = 2 + Math.floor(params.steps / 10);
  let last = 'bg0';
  for (let i = 0; i < shapes; i++) {
    const size = Math.round(H * (0.08 + look() * 0.12));
    const colour = `0x${hex(look() * 255)}${hex(look() * 255)}${hex(look() * 255)}`;
    const wx = fixed(params.flowShift * (0.15 + motion() * 0.35));
    const wy = fixed(params.flowShift * (0.15 + motion() * 0.35));
    const cx = fixed(0.2 + motion() * 0.6);
    const cy = fixed(0.2 + motion() * 0.6);
    const ax = fixed(0.1 + motion() * 0.25);
    const ay = fixed(0.1 + motion() * 0.25);
    const px = fixed(motion() * Math.PI * 2);
    const py = fixed(motion() * Math.PI * 2);
    graph.push(
      `color=c=${colour}:s=${size}x${size}:r=${FPS}:d=${fixed(DURATION_SECONDS)}[s${i}]`,
      `[${last}][s${i}]overlay=x='W*${cx}+W*${ax}*sin(t*${wx}+${px})-w/2':` +
        `y='H*${cy}+H*${ay}*cos(t*${wy}+${py})-h/2':shortest=1[bg${i + 1}]`,
    );
    last = `bg${i + 1}`;
  }
  const bands = (params.loras ?? []).map((lora, i) => {
    const tint = prng(hash32(lora.path));
    const colour = `0x${hex(tint() * 255)}${hex(tint() * 255)}${hex(tint() * 255)}`;
    const opacity = fixed(Math.min(0.8, 0.15 + Math.abs(lora.scale) * 0.3), 2);
    const y = Math.round(((i + 1) * H) / 5);
    return `drawbox=x=0:y=${y}:w=${W}:h=${Math.max(4, Math.round(H / 40))}:color=${colour}@${opacity}:t=fill`;
  });
  const mute = params.negativePrompt ? ['hue=s=0.6'] : [];
  const margin = markScale(params) * 2;
  graph.push(
    `[${last}]${[...bands, ...mute, 'null'].join(',')}[pic]`,
    '[0:v]format=rgba,colorchannelmixer=aa=0.7[mark]',
    `[pic][mark]overlay=x=W-w-${margin}:y=H-h-${margin},format=yuv420p[out]`,
  );
  return graph.join(';');
}

/** The ffmpeg arguments that render `params` to `output`, H.264 in MP4 with faststart. */
export function renderArgs(params: RenderParams, markFile: string, output: string): string[] {
  return [
    ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-y'],
    ...['-i', markFile],
    ...['-filter_complex', renderGraph(params), '-map', '[out]'],
    ...['-frames:v', String(FRAME_COUNT), '-r', String(FPS)],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-pix_fmt', 'yuv420p'],
    ...['-threads', '2', '-movflags', '+faststart', '-map_metadata', '-1'],
    ...['-fflags', '+bitexact', '-flags:v', '+bitexact', '-f', 'mp4', output],
  ];
}

export interface RendererOptions {
  /** Where videos (and the mark images) are kept. */
  storageDir: string;
  /** Renders at once; more wait their turn. */
  maxConcurrentRenders: number;
  /** The ffmpeg binary. Default: the static build from `@ffmpeg-installer/ffmpeg`. */
  ffmpegPath?: string;
}

/**
 * Renders videos in ffmpeg child processes, a bounded number at once, so the server stays
 * responsive. A video already rendered for the same parameters is reused: same inputs, same
 * bytes, no second render. Two requests for the same video share one render.
 */
export class Renderer {
  readonly #options: Required<RendererOptions>;
  readonly #limit: ReturnType<typeof pLimit>;
  readonly #inFlight = new Map<string, Promise<string>>();
  readonly #children = new Set<ReturnType<typeof spawn>>();
  #closed = false;

  constructor(options: RendererOptions) {
    this.#options = { ffmpegPath: ffmpegInstaller.path, ...options };
    this.#limit = pLimit(Math.max(1, options.maxConcurrentRenders));
  }

  /** The file of the video for `params`, rendering it first when needed. */
  render(params: RenderParams): Promise<string> {
    const key = renderKey(params);
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const job = this.#renderOnce(key, params).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, job);
    return job;
  }

  /** How many renders are running or waiting. */
  get pending(): number {
    return this.#inFlight.size;
  }

  /** Stops running renders; waiting ones fail. */
  close(): void {
    this.#closed = true;
    this.#limit.clearQueue();
    for (const child of this.#children) child.kill('SIGKILL');
  }

  async #renderOnce(key: string, params: RenderParams): Promise<string> {
    const file = join(this.#options.storageDir, `${key}.mp4`);
    if (await exists(file)) return file;
    return this.#limit(async () => {
      if (this.#closed) throw new Error('the renderer is closed');
      if (await exists(file)) return file;
      await mkdir(this.#options.storageDir, { recursive: true });
      const mark = await this.#markFile(markScale(params));
      const partial = `${file}.${randomUUID()}.part`;
      try {
        await this.#ffmpeg(renderArgs(params, mark, partial));
        await rename(partial, file);
      } finally {
        await rm(partial, { force: true });
      }
      return file;
    });
  }

  async #markFile(scale: number): Promise<string> {
    const file = join(this.#options.storageDir, `mark-${scale}.pgm`);
    if (!(await exists(file))) {
      // Its own partial file: emulators that share a storage directory (the default one) may
      // write the same mark at once, and neither may rename the other's half-written file.
      const partial = `${file}.${randomUUID()}.part`;
      await writeFile(partial, markImage(scale).pgm);
      await rename(partial, file);
    }
    return file;
  }

  #ffmpeg(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.#options.ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      this.#children.add(child);
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        if (stderr.length < 4000) stderr += chunk;
      });
      child.on('error', (error) => {
        this.#children.delete(child);
        reject(error);
      });
      child.on('close', (code, signal) => {
        this.#children.delete(child);
        if (code === 0) resolve();
        else reject(new Error(`ffmpeg failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
      });
    });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}
