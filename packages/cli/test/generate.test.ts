/**
 * `wan-video generate`, `watch`, `status` and `list` as users run them: the built CLI as a child
 * process against a real gateway (a child process too, on its embedded emulator), over loopback.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { safeParseVideoInput } from '@wan-video/core';
import { freePort, GATEWAY_DIR } from '@wan-video/test-utils/gateway-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand, cliEnv, runCli } from './support/cli-process.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';

let gateway: TestGateway;
let dir: string;
/** A fixed seed: the emulator renders each input once and serves the same file again. */
const SEED = ['--seed', '42'];

beforeAll(async () => {
  [gateway, dir] = await Promise.all([startTestGateway(), mkdtemp(join(tmpdir(), 'wan-cli-out-'))]);
});

afterAll(async () => {
  await gateway?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** core's own messages for an input: what the CLI must print, word for word. */
function coreMessages(input: Record<string, unknown>): string[] {
  const parsed = safeParseVideoInput(input);
  if (parsed.success) throw new Error(`core accepts ${JSON.stringify(input)}`);
  return parsed.error.issues.map((issue) => issue.message);
}

/** The video's duration in seconds, read by the emulator's ffmpeg (`ffmpeg -i` prints it). */
async function durationOf(file: string): Promise<number | undefined> {
  const emulator = createRequire(join(GATEWAY_DIR, '../emulator/package.json'));
  let ffmpeg: string;
  try {
    ffmpeg = (emulator('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  } catch {
    return undefined;
  }
  const stderr = await new Promise<string>((resolve) => {
    execFile(ffmpeg, ['-hide_banner', '-i', file], (_error, _stdout, text) => resolve(text));
  });
  const match = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(stderr);
  if (!match) return undefined;
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

const PROGRESS_LINE = /^(QUEUED|PROCESSING|SUCCEEDED) \d{1,3}%( eta \d+(m\d\d)?s)?$/;

describe('wan-video generate', () => {
  it('--out follows the task with plain progress lines and saves a playable 5 s MP4 (exit 0)', async () => {
    const out = join(dir, 'fox.mp4');
    const run = await runCli([
      '--url',
      gateway.url,
      'generate',
      'a red fox in the snow',
      ...SEED,
      '--out',
      out,
    ]);
    expect(run.stderr).not.toContain('\u001b'); // not a terminal: no bar, no escape codes
    expect(run.code, run.stderr).toBe(0);
    // stdout: the saved path, and nothing else.
    expect(run.stdout).toBe(`${out}\n`);
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^created task [0-9a-f-]{36}$/);
    const progress = lines.slice(1, -1);
    expect(progress[0]).toBe('QUEUED 0%');
    for (const line of progress) expect(line).toMatch(PROGRESS_LINE);
    expect(progress.at(-1)).toBe('SUCCEEDED 100%');
    expect(lines.at(-1)).toMatch(new RegExp(`^saved ${out} \\(\\d+ KB\\)$`));

    const file = await open(out);
    const head = Buffer.alloc(8);
    await file.read(head, 0, 8, 0);
    await file.close();
    expect(head.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect((await stat(out)).size).toBeGreaterThan(10 * 1024);
    const seconds = await durationOf(out);
    if (seconds !== undefined) expect(seconds).toBeGreaterThan(4.5);
    if (seconds !== undefined) expect(seconds).toBeLessThan(5.5);
    // Only the finished file: the temporary one was renamed.
    expect((await readFile(out)).length).toBe((await stat(out)).size);
  });

  it('--json prints the created task as one JSON document', async () => {
    const run = await runCli(['--url', gateway.url, '--json', 'generate', 'a quiet lake', ...SEED]);
    expect(run.code, run.stderr).toBe(0);
    const task = JSON.parse(run.stdout);
    expect(task).toMatchObject({ status: 'QUEUED', input: { prompt: 'a quiet lake', seed: 42 } });
    expect(task.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('--wait --json prints every snapshot as NDJSON, the last one SUCCEEDED with its video', async () => {
    const run = await runCli([
      '--url',
      gateway.url,
      'generate',
      'a paper boat',
      ...SEED,
      '--size',
      '480x832',
      '--steps',
      '20',
      '--guidance-scale',
      '6.5',
      '--flow-shift',
      '3',
      '--negative-prompt',
      'blur',
      '--lora',
      'https://example.com/loras/ink.safetensors:0.7',
      '--model-name',
      'wan2.1-t2v',
      '--wait',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const snapshots = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    expect(new Set(snapshots.map((task) => task.id)).size).toBe(1);
    expect(snapshots[0].status).toBe('QUEUED');
    const last = snapshots.at(-1);
    expect(last.status).toBe('SUCCEEDED');
    expect(last.videos[0].url).toMatch(/^http:\/\//);
    expect(last.input).toMatchObject({
      width: 480,
      height: 832,
      seed: 42,
      steps: 20,
      guidanceScale: 6.5,
      flowShift: 3,
      negativePrompt: 'blur',
      loras: [{ path: 'https://example.com/loras/ink.safetensors', scale: 0.7 }],
      modelName: 'wan2.1-t2v',
    });
  });

  it('refuses bad input with core’s field messages (exit 2) and sends no request', async () => {
    const creates = () => gateway.metric('wan_upstream_requests_total', { route: 'create' });
    const tasks = () => gateway.metric('wan_tasks');
    const before = { creates: await creates(), tasks: await tasks() };
    // A listener that counts connections: the CLI must not even connect.
    let connections = 0;
    const counter: Server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => counter.listen(0, '127.0.0.1', resolve));
    const port = (counter.address() as { port: number }).port;
    try {
      const cases: { args: string[]; input: Record<string, unknown> }[] = [
        {
          args: ['a cat', '--steps', '0'],
          input: { prompt: 'a cat', width: 832, height: 480, steps: 0 },
        },
        {
          args: ['a cat', '--size', '100x100'],
          input: { prompt: 'a cat', width: 100, height: 100 },
        },
        { args: [''], input: { prompt: '', width: 832, height: 480 } },
        {
          args: ['a cat', '--width', '1280', '--height', '480', '--guidance-scale', '11'],
          input: { prompt: 'a cat', width: 1280, height: 480, guidanceScale: 11 },
        },
      ];
      // Every case where nothing listens but the counter; two at the gateway itself, whose
      // counters must not move.
      const runs = [
        ...cases.map((each) => ({ ...each, url: `http://127.0.0.1:${port}` })),
        ...cases.slice(0, 2).map((each) => ({ ...each, url: gateway.url })),
      ];
      for (const { args, input, url } of runs) {
        const run = await runCli(['--url', url, 'generate', ...args, '--wait']);
        expect(run.code, run.stderr).toBe(2);
        expect(run.stdout).toBe('');
        const messages = coreMessages(input);
        expect(messages.length).toBeGreaterThan(0);
        for (const message of messages) expect(run.stderr).toContain(message);
        expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
      }
      const json = await runCli(['--url', gateway.url, '--json', 'generate', 'x', '--steps', '41']);
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toEqual({
        error: {
          code: 'BAD_USER_INPUT',
          message: expect.stringContaining('steps must be between 1 and 40 (got 41)'),
          exitCode: 2,
          issues: [{ path: ['steps'], message: 'steps must be between 1 and 40 (got 41)' }],
        },
      });
    } finally {
      await new Promise<void>((resolve) => counter.close(() => resolve()));
    }
    expect(connections).toBe(0);
    expect({ creates: await creates(), tasks: await tasks() }).toEqual(before);
  });

  it('refuses bad usage (exit 2) before any request: a missing prompt, --size big, --lora without a scale, an unknown option or command', async () => {
    const port = await freePort(); // nothing listens: a request would be exit 3, not 2
    const cases: [args: string[], message: RegExp][] = [
      [['generate'], /missing required argument 'prompt'/],
      [
        ['generate', 'x', '--size', 'big'],
        /--size must be WIDTHxHEIGHT, like 832x480 \(got "big"\)/,
      ],
      [['generate', 'x', '--lora', 'no-scale'], /--lora must be PATH:SCALE/],
      [['generate', 'x', '--bogus'], /unknown option '--bogus'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(['--url', `http://127.0.0.1:${port}`, ...args]);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
  });

  it('exits 1 when the task FAILS, printing its reason', async () => {
    await gateway.setFaults({ failTasks: { reason: 'content policy: the test says no' } });
    try {
      const run = await runCli([
        '--url',
        gateway.url,
        'generate',
        'a doomed video',
        ...SEED,
        '--wait',
      ]);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^FAILED: content policy: the test says no$/m);
      expect(run.stderr).toMatch(/^task [0-9a-f-]{36} FAILED: content policy: the test says no$/m);
      const id = /^created task (\S+)$/m.exec(run.stderr)?.[1] ?? '';
      // status reads it once, and exits 1 too.
      const status = await runCli(['--url', gateway.url, 'status', id]);
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(/^status {6}FAILED$/m);
      expect(status.stdout).toMatch(/^reason {6}content policy: the test says no$/m);
    } finally {
      await gateway.setFaults({});
    }
  });

  it('exits 3 with a clear message when nothing listens at the URL', async () => {
    const port = await freePort();
    const run = await runCli(['--url', `http://127.0.0.1:${port}`, 'generate', 'a cat', '--wait']);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `wan-video: cannot reach the gateway at http://127.0.0.1:${port}/graphql: connection refused (ECONNREFUSED)\n`,
    );
    const json = await runCli(['--url', `http://127.0.0.1:${port}`, '--json', 'list']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'UNREACHABLE', exitCode: 3 });
  });
});

describe('wan-video watch, status and list', () => {
  it('watch follows an existing task to its end and saves its video; a finished one ends at once', async () => {
    const created = await runCli([
      '--url',
      `${gateway.url}/graphql`,
      'generate',
      'a lighthouse',
      ...SEED,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const id = created.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.stderr).toContain(`wan-video watch ${id}`);

    const watched = await runCli([
      '--url',
      gateway.url,
      'watch',
      id,
      '--out',
      join(dir, 'lighthouse.mp4'),
    ]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toBe(`${join(dir, 'lighthouse.mp4')}\n`);
    const progress = watched.stderr.trim().split('\n').slice(0, -1);
    for (const line of progress) expect(line).toMatch(PROGRESS_LINE);
    expect(progress.at(-1)).toBe('SUCCEEDED 100%');

    // Watching a finished task ends at once, with its video URL on stdout.
    const again = await runCli(['--url', gateway.url, 'watch', id]);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('SUCCEEDED 100%\n');
    expect(again.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\S+\.mp4\S*\n$/);
  });

  it('status reads a task once; list pages through the tasks, newest first', async () => {
    const created = await runCli([
      '--url',
      gateway.url,
      '--json',
      'generate',
      'a lighthouse',
      ...SEED,
      '--wait',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const id = JSON.parse(created.stdout.trim().split('\n').at(-1) ?? '').id as string;
    const status = await runCli(['--url', gateway.url, 'status', id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^id {10}${id}$`, 'm'));
    expect(status.stdout).toMatch(/^status {6}SUCCEEDED$/m);
    expect(status.stdout).toMatch(/^prompt {6}"a lighthouse"$/m);
    const statusJson = await runCli(['--url', gateway.url, '--json', 'status', id]);
    expect(JSON.parse(statusJson.stdout)).toMatchObject({ id, status: 'SUCCEEDED' });

    // list: newest first, two at a time, the cursor of the next page on stderr.
    const all = JSON.parse(
      (await runCli(['--url', gateway.url, '--json', 'list', '--first', '100'])).stdout,
    );
    expect(all.tasks.length).toBeGreaterThanOrEqual(3);
    expect(all.tasks[0].id).toBe(id);
    const first = await runCli(['--url', gateway.url, 'list', '--first', '2']);
    expect(first.code).toBe(0);
    const rows = first.stdout.trim().split('\n');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(new RegExp(`^${id}  SUCCEEDED   100%  \\S+  832x480  "a lighthouse"$`));
    const cursor = /^more: wan-video list --after (\S+)$/m.exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();
    const second = await runCli([
      '--url',
      gateway.url,
      '--json',
      'list',
      '--first',
      '2',
      '--after',
      cursor ?? '',
    ]);
    expect(second.code).toBe(0);
    const page = JSON.parse(second.stdout);
    expect(page.tasks.map((task: { id: string }) => task.id)).toEqual(
      all.tasks.slice(2, 4).map((task: { id: string }) => task.id),
    );
  });

  it('an unknown task id is the gateway’s NOT_FOUND (exit 4)', async () => {
    const status = await runCli(['--url', gateway.url, 'status', 'no-such-task']);
    expect(status.code).toBe(4);
    expect(status.stderr).toMatch(/^wan-video: .*no-such-task.* \(NOT_FOUND\)\n$/);
    const watch = await runCli(['--url', gateway.url, '--json', 'watch', 'no-such-task']);
    expect(watch.code).toBe(4);
    expect(JSON.parse(watch.stdout).error).toMatchObject({ code: 'NOT_FOUND', exitCode: 4 });
  });
});

describe('on a terminal', () => {
  // `script` (util-linux) runs the CLI on a pseudo-terminal: stderr is a TTY there.
  const script = ['/usr/bin/script', '/bin/script'].find((path) => existsSync(path));

  it.skipIf(!script)('draws a live progress bar with percent and ETA (cli-progress)', async () => {
    const [node, prefix] = cliCommand();
    const command = [node, ...prefix, 'generate', 'a kite over hills', ...SEED, '--wait']
      .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
      .join(' ');
    const child = spawn(script ?? 'script', ['-qec', command, '/dev/null'], {
      env: cliEnv({ WAN_VIDEO_URL: gateway.url, TERM: 'xterm' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, text).toBe(0);
    expect(text).toMatch(/QUEUED +\|[░]{30}\| 0% \| ETA - \| [0-9a-f-]{36}/);
    expect(text).toMatch(/SUCCEEDED +\|[█]{30}\| 100% \| ETA - \| [0-9a-f-]{36}/);
    expect(text).toMatch(/\r?\nhttp:\/\/127\.0\.0\.1:\d+\/\S+\.mp4/);
  });
});
