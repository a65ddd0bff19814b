import { LIMITS, MODEL_NAME, VIDEO_SIZES } from '@wan-video/core';
import { Command, CommanderError, Option } from 'commander';
import {
  type CommandContext,
  generateCommand,
  listCommand,
  statusCommand,
  watchCommand,
} from './commands.js';
import { DEFAULT_GATEWAY_URL, parseEndpoint } from './endpoint.js';
import { GatewayError, InputError, isCliError, UsageError } from './errors.js';
import { EXIT_CODE_HELP, EXIT_CODES } from './exit-codes.js';
import { createGatewayClient, type GatewayClient } from './gateway-client.js';
import { DEFAULT_SIZE, optionFor, toNumber } from './input.js';
import { Output, type TextStream } from './output.js';
import type { ProgressMode } from './progress.js';

/** Everything `run` needs from the outside world, injected (the bin passes the process's own). */
export interface CliEnvironment {
  /** The arguments after `wan-video`. */
  readonly args: readonly string[];
  /** Where WAN_VIDEO_URL and WAN_VIDEO_API_KEY are read. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: TextStream;
  readonly stderr: TextStream;
  /** Aborted on Ctrl-C: requests stop, a followed task is left to run. */
  readonly signal: AbortSignal;
  /** The WebSocket class for graphql-ws (`ws` in Node). */
  readonly webSocketImpl: unknown;
  /** @default globalThis.fetch */
  readonly fetch?: typeof globalThis.fetch;
  /** This package's version, for `--version`. */
  readonly version: string;
}

interface GlobalOptions {
  readonly url?: string;
  readonly key?: string;
  readonly json?: boolean;
  readonly timeout: number;
}

const SIZES = VIDEO_SIZES.map((size) => `${size.width}x${size.height}`).join(', ');
const DEFAULT_TIMEOUT_SECONDS = 30;

const collect = (value: string, previous: readonly string[] = []) => [...previous, value];

const HELP_AFTER = `
Environment:
  WAN_VIDEO_URL      the gateway, like --url (default ${DEFAULT_GATEWAY_URL})
  WAN_VIDEO_API_KEY  the API key, like --key (preferred: it stays out of the process list)

Output: data on stdout, progress and diagnostics on stderr. Following a task (generate --wait,
watch) draws a bar when stderr is a terminal, else prints one line per change
("PROCESSING 45% eta 8s"). With --json, stdout holds JSON only: one document for generate
(without --wait), status and list; one snapshot per line (NDJSON) for generate --wait and watch;
on failure a last {"error": {"code", "message", "exitCode"}} document.

Exit codes:
${EXIT_CODE_HELP.map(([code, meaning]) => `  ${String(code).padStart(3)}  ${meaning}`).join('\n')}
`;

/** Builds the `wan-video` command line. Actions report their exit code through `onExit`. */
function createProgram(
  environment: CliEnvironment,
  output: Output,
  onExit: (code: number) => void,
): Command {
  const program = new Command('wan-video')
    .description(
      'Generate Wan 2.1 text-to-video videos through a wan-video gateway, follow them live and download them.',
    )
    .version(environment.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print help')
    .option(
      '--url <url>',
      `the gateway's GraphQL URL or origin (env: WAN_VIDEO_URL, default: ${DEFAULT_GATEWAY_URL})`,
    )
    .option('--key <key>', 'API key, sent as Authorization: Bearer (env: WAN_VIDEO_API_KEY)')
    .option('--json', 'JSON on stdout for scripts (see Output below)')
    .addOption(
      new Option('--timeout <seconds>', 'how long one request may take')
        .default(DEFAULT_TIMEOUT_SECONDS)
        .argParser(toNumber),
    )
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => output.data(text.replace(/\n$/, '')),
      writeErr: (text) => output.note(text.replace(/\n$/, '')),
    })
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('afterAll', HELP_AFTER);

  /** The context of a command, from the global options (read when its action runs). */
  const contextFor = (command: Command): CommandContext => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    const apiKey = globals.key ?? environment.env.WAN_VIDEO_API_KEY;
    output.addSecret(apiKey);
    if (!Number.isFinite(globals.timeout) || globals.timeout <= 0) {
      throw new UsageError(
        `--timeout must be a positive number of seconds (got ${globals.timeout})`,
      );
    }
    const endpoint = parseEndpoint(
      globals.url ?? (environment.env.WAN_VIDEO_URL || DEFAULT_GATEWAY_URL),
    );
    const json = globals.json === true;
    const progress: ProgressMode = json
      ? 'ndjson'
      : output.interactive && environment.env.TERM !== 'dumb'
        ? 'bar'
        : 'lines';
    let client: GatewayClient | undefined;
    return {
      output,
      json,
      progress,
      signal: environment.signal,
      ...(environment.fetch ? { fetch: environment.fetch } : {}),
      client: () => {
        client ??= createGatewayClient({
          endpoint,
          apiKey,
          timeoutMs: globals.timeout * 1000,
          signal: environment.signal,
          webSocketImpl: environment.webSocketImpl,
          ...(environment.fetch ? { fetch: environment.fetch } : {}),
          onReconnecting: (reason) => {
            if (progress !== 'bar') output.note(`live connection lost (${reason}): reconnecting`);
          },
        });
        return client;
      },
    };
  };

  program
    .command('generate')
    .description(
      'start a video from a prompt; prints its task id, or with --wait follows it to the end',
    )
    .argument(
      '<prompt>',
      `what to generate (${LIMITS.prompt.minLength} to ${LIMITS.prompt.maxLength} characters)`,
    )
    .option(
      '--size <WxH>',
      `frame size: ${SIZES} (default: ${DEFAULT_SIZE.width}x${DEFAULT_SIZE.height})`,
    )
    .option('--width <n>', 'frame width (instead of --size, with --height)', toNumber)
    .option('--height <n>', 'frame height, tied to the width', toNumber)
    .option(
      '--steps <n>',
      `denoising steps, ${LIMITS.steps.min} to ${LIMITS.steps.max} (default: ${LIMITS.steps.default})`,
      toNumber,
    )
    .option(
      '--seed <n>',
      `${LIMITS.seed.min} to ${LIMITS.seed.max}; same seed and parameters, same video (default: ${LIMITS.seed.random}, random)`,
      toNumber,
    )
    .option(
      '--guidance-scale <x>',
      `${LIMITS.guidanceScale.min} to ${LIMITS.guidanceScale.max} (default: ${LIMITS.guidanceScale.default})`,
      toNumber,
    )
    .option(
      '--flow-shift <x>',
      `${LIMITS.flowShift.min} to ${LIMITS.flowShift.max}; higher: faster, larger motion (default: ${LIMITS.flowShift.default})`,
      toNumber,
    )
    .option(
      '--negative-prompt <text>',
      `what to keep out (up to ${LIMITS.negativePrompt.maxLength} characters)`,
    )
    .option(
      '--lora <path:scale>',
      `a LoRA and its scale; repeat for more (at most ${LIMITS.loras.maxItems})`,
      collect,
    )
    .option('--model-name <name>', `the model (default: ${MODEL_NAME})`)
    .option(
      '--idempotency-key <key>',
      'a retry with the same key returns the same task instead of paying twice',
    )
    .option('--wait', 'follow the task to its end; prints the video URL')
    .option('-o, --out <file>', 'save the video to this file (implies --wait); prints its path')
    .action(async (prompt: string, options: object, command: Command) => {
      onExit(await generateCommand(contextFor(command), prompt, options));
    });

  program
    .command('watch')
    .description('follow a task to its end (the same progress as generate --wait)')
    .argument('<id>', 'the task id')
    .option('-o, --out <file>', 'save the video to this file; prints its path')
    .action(async (id: string, options: { out?: string }, command: Command) => {
      onExit(await watchCommand(contextFor(command), id, options));
    });

  program
    .command('status')
    .description('read a task once (exits 1 if it FAILED)')
    .argument('<id>', 'the task id')
    .action(async (id: string, _options: object, command: Command) => {
      onExit(await statusCommand(contextFor(command), id));
    });

  program
    .command('list')
    .description("your tasks, newest first; the next page's cursor is printed on stderr")
    .addOption(new Option('--first <n>', 'how many, 1 to 100').default(20).argParser(toNumber))
    .option('--after <cursor>', 'the page after this cursor (from the previous page)')
    .action(async (options: { first: number; after?: string }, command: Command) => {
      if (!Number.isInteger(options.first) || options.first < 1 || options.first > 100) {
        throw new UsageError(`--first must be a whole number from 1 to 100 (got ${options.first})`);
      }
      onExit(await listCommand(contextFor(command), options));
    });

  return program;
}

/**
 * Runs `wan-video` with `environment.args` and resolves with the exit code. Expected failures
 * (see `EXIT_CODES`) are one line on stderr naming the field or the gateway's code; with
 * `--json`, also an `{"error": …}` document on stdout.
 */
export async function run(environment: CliEnvironment): Promise<number> {
  const output = new Output(environment.stdout, environment.stderr);
  // The key may be printed by nothing: not by an error echoing an argument either.
  output.addSecret(environment.env.WAN_VIDEO_API_KEY);
  for (const [i, arg] of environment.args.entries()) {
    if (arg === '--key') output.addSecret(environment.args[i + 1]);
    else if (arg.startsWith('--key=')) output.addSecret(arg.slice('--key='.length));
  }
  const json = environment.args.includes('--json');
  let exitCode: number = EXIT_CODES.ok;
  const program = createProgram(environment, output, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...environment.args], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander has already printed its own error message.
      if (error.exitCode === 0) return EXIT_CODES.ok;
      if (json) {
        output.json({
          error: { code: 'USAGE', message: error.message, exitCode: EXIT_CODES.badInput },
        });
      }
      return EXIT_CODES.badInput;
    }
    if (isCliError(error)) {
      report(output, error, json);
      return error.exitCode;
    }
    output.note(
      `wan-video: unexpected error (please report it): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return EXIT_CODES.internal;
  }
}

/** One line per problem on stderr (a field's issue names the option too); JSON on stdout. */
function report(output: Output, error: import('./errors.js').CliError, json: boolean): void {
  const issues = error instanceof InputError || error instanceof GatewayError ? error.issues : [];
  if (issues.length > 0) {
    for (const issue of issues) {
      const path = error instanceof GatewayError ? issue.path.slice(1) : issue.path;
      const option = optionFor(path);
      output.note(`wan-video: ${option ? `${option}: ` : ''}${issue.message}`);
    }
  } else {
    const code = error instanceof GatewayError ? ` (${error.code})` : '';
    output.note(`wan-video: ${error.message}${code}`);
  }
  if (json) {
    output.json({
      error: {
        code: error.code,
        message: error.message,
        exitCode: error.exitCode,
        ...(issues.length > 0
          ? { issues: issues.map((issue) => ({ path: issue.path, message: issue.message })) }
          : {}),
      },
    });
  }
}
