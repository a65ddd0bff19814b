import { parseArgs } from 'node:util';
import { type Faults, faultsSchema } from './faults.js';
import type { EmulatorOptions } from './server.js';

export const USAGE = `wan-video-emulator: a local server with Novita's Wan 2.1 text-to-video REST contract

Options (each also read from the environment variable in brackets):
  --port N             port to listen on [PORT] (default 4010)
  --host ADDR          address to listen on [HOST] (default 127.0.0.1)
  --api-key KEY        an API key that passes; repeat for more [EMULATOR_API_KEYS, comma-separated]
                       (none given: any non-empty bearer key passes)
  --time-scale N       divide every simulated duration by N [EMULATOR_TIME_SCALE] (default 1)
  --storage-dir DIR    where rendered videos are kept [EMULATOR_STORAGE_DIR]
  --state-dir DIR      keep tasks there, so a restart loses none [EMULATOR_STATE_DIR]
  --video-ttl SECONDS  how long a video URL works [EMULATOR_VIDEO_TTL] (default 3600)
  --max-renders N      renders at once [EMULATOR_MAX_RENDERS] (default 2)
  --faults JSON        faults in force from the start [EMULATOR_FAULTS]
  --public-url URL     base of video URLs when clients use another address [EMULATOR_PUBLIC_URL]
  --no-admin           switch off /__emulator/faults and /__emulator/requests
  --help               show this text`;

export class UsageError extends Error {
  override name = 'UsageError' as const;
}

function number(
  name: string,
  raw: string | undefined,
  check: (n: number) => boolean,
  rule: string,
): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || !check(value))
    throw new UsageError(`${name} must be ${rule} (got ${JSON.stringify(raw)})`);
  return value;
}

/** Reads the command line and the environment into emulator options; throws `UsageError`. */
export function readCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): (EmulatorOptions & { help?: false }) | { help: true } {
  let parsed: ReturnType<typeof parseArgs>['values'];
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'api-key': { type: 'string', multiple: true },
        'time-scale': { type: 'string' },
        'storage-dir': { type: 'string' },
        'state-dir': { type: 'string' },
        'video-ttl': { type: 'string' },
        'max-renders': { type: 'string' },
        faults: { type: 'string' },
        'public-url': { type: 'string' },
        'no-admin': { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.help) return { help: true };
  const str = (key: string) => parsed[key] as string | undefined;
  const keys =
    (parsed['api-key'] as string[] | undefined) ?? (env.EMULATOR_API_KEYS ?? '').split(',');
  const faultsText = str('faults') ?? env.EMULATOR_FAULTS;
  let faults: Faults | undefined;
  if (faultsText) {
    let json: unknown;
    try {
      json = JSON.parse(faultsText);
    } catch {
      throw new UsageError('--faults must be JSON');
    }
    const result = faultsSchema.safeParse(json);
    if (!result.success)
      throw new UsageError(
        `--faults: ${result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
      );
    faults = result.data;
  }
  const options: EmulatorOptions = {
    port:
      number(
        '--port',
        str('port') ?? env.PORT,
        (n) => Number.isInteger(n) && n >= 0 && n < 65536,
        'a port number',
      ) ?? 4010,
    host: str('host') ?? env.HOST ?? '127.0.0.1',
    apiKeys: keys.map((key) => key.trim()).filter(Boolean),
    timeScale:
      number(
        '--time-scale',
        str('time-scale') ?? env.EMULATOR_TIME_SCALE,
        (n) => n > 0,
        'a positive number',
      ) ?? 1,
    videoUrlTtlSeconds:
      number(
        '--video-ttl',
        str('video-ttl') ?? env.EMULATOR_VIDEO_TTL,
        (n) => Number.isInteger(n) && n > 0,
        'a whole number of seconds',
      ) ?? 3600,
    maxConcurrentRenders:
      number(
        '--max-renders',
        str('max-renders') ?? env.EMULATOR_MAX_RENDERS,
        (n) => Number.isInteger(n) && n > 0,
        'a whole number above 0',
      ) ?? 2,
    admin: !parsed['no-admin'],
  };
  const storageDir = str('storage-dir') ?? env.EMULATOR_STORAGE_DIR;
  if (storageDir) options.storageDir = storageDir;
  const stateDir = str('state-dir') ?? env.EMULATOR_STATE_DIR;
  if (stateDir) options.stateDir = stateDir;
  const publicUrl = str('public-url') ?? env.EMULATOR_PUBLIC_URL;
  if (publicUrl) options.publicUrl = publicUrl;
  if (faults) options.faults = faults;
  return options;
}
