import { describe, expect, it } from 'vitest';
import { readCli, UsageError } from '../src/cli.js';

describe('the command line', () => {
  it('has sane defaults', () => {
    expect(readCli([], {})).toEqual({
      port: 4010,
      host: '127.0.0.1',
      apiKeys: [],
      timeScale: 1,
      videoUrlTtlSeconds: 3600,
      maxConcurrentRenders: 2,
      admin: true,
    });
  });

  it('reads flags, repeated keys and JSON faults', () => {
    const options = readCli(
      [
        '--port',
        '0',
        '--api-key',
        'a',
        '--api-key',
        'b',
        '--time-scale',
        '10',
        '--storage-dir',
        '/tmp/x',
        '--no-admin',
        '--faults',
        '{"latencyMs": 5}',
      ],
      {},
    );
    expect(options).toMatchObject({
      port: 0,
      apiKeys: ['a', 'b'],
      timeScale: 10,
      storageDir: '/tmp/x',
      admin: false,
      faults: { latencyMs: 5 },
    });
  });

  it('falls back to the environment', () => {
    const options = readCli([], {
      PORT: '4321',
      HOST: '0.0.0.0',
      EMULATOR_API_KEYS: 'k1, k2',
      EMULATOR_TIME_SCALE: '2.5',
    });
    expect(options).toMatchObject({
      port: 4321,
      host: '0.0.0.0',
      apiKeys: ['k1', 'k2'],
      timeScale: 2.5,
    });
  });

  it('refuses bad values with a message naming the option', () => {
    for (const [argv, message] of [
      [['--port', 'abc'], '--port must be a port number'],
      [['--time-scale', '0'], '--time-scale must be a positive number'],
      [['--faults', '{'], '--faults must be JSON'],
      [['--faults', '{"latencyMs": -4}'], '--faults: latencyMs'],
      [['--bogus'], "Unknown option '--bogus'"],
    ] as const) {
      expect(() => readCli(argv, {})).toThrow(UsageError);
      expect(() => readCli(argv, {})).toThrow(message);
    }
  });

  it('answers --help', () => {
    expect(readCli(['--help'], {})).toEqual({ help: true });
  });
});
