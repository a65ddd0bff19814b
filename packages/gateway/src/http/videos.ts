import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { MountedEmulator } from '@wan-video/emulator';
import { request } from 'undici';
import { errorBody } from '../errors.js';
import type { Logger } from '../logger.js';
import type { VideoService } from '../service.js';
import type { TaskStore } from '../store/types.js';

/**
 * `GET /videos/<task id>/<n>.mp4`: a finished task's video, served from the gateway's own origin
 * for as long as the task is kept. The bytes come from the upstream link of the moment (read
 * again when it is about to expire or is refused), Range requests included, so players seek and
 * `?download` saves the file instead of playing it. The link is a capability, as the upstream's
 * are: the task id is a random UUID, never listed to anyone but its owner.
 */
export const VIDEO_PATH = /^\/videos\/([0-9a-f-]{36})\/(\d{1,2})\.mp4$/;

/** The gateway's link to a task's `index`-th video. */
export const videoLink = (origin: string, taskId: string, index: number) =>
  `${origin}/videos/${taskId}/${index}.mp4`;

/** Request headers passed on to the upstream: what a player sends to seek and revalidate. */
const ASKED = ['range', 'if-range', 'if-none-match', 'if-modified-since'] as const;
/** Answer headers passed back. */
const ANSWERED = [
  'content-type',
  'content-length',
  'content-range',
  'accept-ranges',
  'etag',
  'last-modified',
] as const;

export interface VideoRouteOptions {
  readonly store: TaskStore;
  readonly service: VideoService;
  readonly logger: Logger;
  /** The embedded emulator: its links are answered in-process, by its own file server. */
  readonly emulator: MountedEmulator | undefined;
}

/** The route; returns `false` for any other path. */
export function createVideoRoute(options: VideoRouteOptions) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    const match = VIDEO_PATH.exec(url.pathname);
    if (!match) return false;
    serve(
      options,
      req,
      res,
      match[1] as string,
      Number(match[2]),
      url.searchParams.has('download'),
    ).catch((error: unknown) => {
      options.logger.warn({ err: error, path: url.pathname }, 'serving a video failed');
      if (!res.headersSent)
        unavailable(res, 502, 'The video could not be fetched from the upstream.');
      else res.destroy();
    });
    return true;
  };
}

async function serve(
  options: VideoRouteOptions,
  req: IncomingMessage,
  res: ServerResponse,
  taskId: string,
  index: number,
  download: boolean,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    unavailable(res, 405, 'Use GET.');
    return;
  }
  const record = await options.store.get(taskId);
  if (record?.status !== 'SUCCEEDED' || record.videos[index] === undefined) {
    unavailable(
      res,
      404,
      'No such video: the task is unknown, not finished, or has no video at this index.',
    );
    return;
  }
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('cache-control', 'private, max-age=3600');
  if (download) {
    res.setHeader('content-disposition', `attachment; filename="wan-video-${taskId}-${index}.mp4"`);
  }
  for (const force of [false, true]) {
    const videos = await options.service.freshVideos(record, force);
    const link = videos[index]?.url;
    if (link === undefined) break;
    if (options.emulator) {
      // The emulator's own file server answers, Range and all, with no socket in between.
      const upstream = new URL(link);
      req.url = `${upstream.pathname}${upstream.search}`;
      options.emulator.handle(req, res);
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of ASKED) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answer = await request(link, {
      method: req.method === 'HEAD' ? 'HEAD' : 'GET',
      headers,
      signal: AbortSignal.timeout(30_000),
    });
    if ((answer.statusCode === 401 || answer.statusCode === 403) && !force) {
      // A link the upstream no longer takes: read the task again for a fresh one, once.
      await answer.body.dump();
      continue;
    }
    if (answer.statusCode >= 400 && answer.statusCode !== 416) {
      await answer.body.dump();
      options.logger.warn({ taskId, status: answer.statusCode }, 'the upstream refused a video');
      unavailable(
        res,
        502,
        `The upstream no longer serves this video (HTTP ${answer.statusCode}).`,
      );
      return;
    }
    res.statusCode = answer.statusCode;
    for (const name of ANSWERED) {
      const value = answer.headers[name];
      if (value !== undefined) res.setHeader(name, value);
    }
    if (req.method === 'HEAD') {
      await answer.body.dump();
      res.end();
      return;
    }
    await pipeline(answer.body, res);
    return;
  }
  unavailable(res, 502, 'The upstream no longer serves this video.');
}

function unavailable(res: ServerResponse, status: number, message: string): void {
  const code =
    status === 404 ? 'NOT_FOUND' : status === 405 ? 'BAD_REQUEST' : 'UPSTREAM_UNAVAILABLE';
  res.removeHeader('content-disposition');
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(errorBody(code, message)));
}
