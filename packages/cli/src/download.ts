import { createWriteStream } from 'node:fs';
import { access, constants, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { DownloadError, UsageError } from './errors.js';

/** Checks before anything is sent (or paid for) that `--out`'s folder exists and is writable. */
export async function checkWritable(out: string): Promise<void> {
  const dir = dirname(resolve(out));
  try {
    await access(dir, constants.W_OK);
  } catch (error) {
    throw new UsageError(`--out: cannot write in ${dir} (${codeOf(error)})`, { cause: error });
  }
  const existing = await stat(out).catch(() => undefined);
  if (existing?.isDirectory()) throw new UsageError(`--out: ${out} is a directory; name a file`);
}

const codeOf = (error: unknown): string =>
  typeof (error as { code?: unknown })?.code === 'string'
    ? (error as { code: string }).code
    : error instanceof Error
      ? error.message
      : String(error);

/**
 * Downloads `url` to `out`: streamed into a temporary file beside it, renamed over `out` once
 * complete, so `out` is never a partial video. A non-2xx answer, a network failure or a write
 * error throws a `DownloadError` (and the temporary file is removed).
 */
export async function download(
  url: string,
  out: string,
  options: { signal: AbortSignal; fetch?: typeof globalThis.fetch },
): Promise<{ path: string; bytes: number }> {
  const path = resolve(out);
  const partial = join(dirname(path), `.${basename(path)}.${process.pid}.part`);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    response = await fetchImpl(url, { signal: options.signal });
  } catch (error) {
    throw new DownloadError(`could not fetch the video: ${describe(error)}`, { cause: error });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw new DownloadError(`the video's URL answered HTTP ${response.status}`);
  }
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      createWriteStream(partial, { flags: 'w' }),
      { signal: options.signal },
    );
    const { size } = await stat(partial);
    if (size === 0) throw new DownloadError('the video was empty');
    await rename(partial, path);
    return { path, bytes: size };
  } catch (error) {
    await rm(partial, { force: true });
    if (error instanceof DownloadError) throw error;
    throw new DownloadError(`could not save the video to ${out}: ${describe(error)}`, {
      cause: error,
    });
  }
}

function describe(error: unknown): string {
  const code =
    (error as { cause?: { code?: unknown }; code?: unknown })?.cause?.code ??
    (error as { code?: unknown })?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}
