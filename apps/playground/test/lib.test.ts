/** The playground's pure logic: routes, the ETA countdown, labels, snippet text, hidden lists. */
import { describe, expect, it } from 'vitest';
import { isSameOrigin } from '../src/lib/download.js';
import { etaLeft } from '../src/lib/eta.js';
import { explorerPreset } from '../src/lib/explorer.js';
import { hiddenStorageKey, keyHash, readHidden, writeHidden } from '../src/lib/hidden.js';
import { labelMessage, labelOf } from '../src/lib/labels.js';
import { parseRoute, taskPath } from '../src/lib/route.js';
import { curlSnippet, jsLiteral, shellQuote } from '../src/lib/snippets.js';

describe('routes', () => {
  it('reads /tasks/<id> and nothing else as a task', () => {
    expect(parseRoute('/tasks/abc-1')).toEqual({ page: 'task', taskId: 'abc-1' });
    expect(parseRoute('/tasks/a%20b/')).toEqual({ page: 'task', taskId: 'a b' });
    expect(parseRoute('/')).toEqual({ page: 'home' });
    expect(parseRoute('/tasks/')).toEqual({ page: 'home' });
    expect(parseRoute('/tasks/%E0%A4%A')).toEqual({ page: 'home' });
    expect(taskPath('a b')).toBe('/tasks/a%20b');
  });
});

describe('the ETA countdown', () => {
  it('counts whole seconds down from the last figure, never below 0', () => {
    expect(etaLeft(null, 0, 5000)).toBeNull();
    expect(etaLeft(10, 1000, 1000)).toBe(10);
    expect(etaLeft(10, 1000, 1999)).toBe(10);
    expect(etaLeft(10, 1000, 4000)).toBe(7);
    expect(etaLeft(3, 0, 60_000)).toBe(0);
    expect(etaLeft(5, 2000, 1000)).toBe(5); // a clock going back does not add time
  });
});

describe('labels', () => {
  it('names fields as the form does', () => {
    expect(labelOf(['guidanceScale'])).toBe('Guidance scale');
    expect(labelOf(['input', 'loras', 1, 'scale'])).toBe('LoRA 2 scale');
    expect(labelOf(['loras', 0])).toBe('LoRA 1');
  });

  it("rewrites core's and the gateway's messages, and leaves others", () => {
    expect(labelMessage(['guidanceScale'], 'guidanceScale must be between 0 and 10 (got 11)')).toBe(
      'Guidance scale must be between 0 and 10 (got 11)',
    );
    expect(labelMessage(['input', 'loras', 0, 'path'], 'loras[0].path must not be empty')).toBe(
      'LoRA 1 path must not be empty',
    );
    expect(labelMessage(['input', 'steps'], 'input.steps must be at most 40')).toBe(
      'Steps must be at most 40',
    );
    expect(labelMessage([], 'foo are not fields')).toBe('foo are not fields');
  });
});

describe('snippet text', () => {
  it('quotes for the shell and writes JavaScript literals', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(jsLiteral({ prompt: 'a "b": c', loras: [{ path: 'x', scale: 1 }] })).toBe(
      '{\n  prompt: "a \\"b\\": c",\n  loras: [\n    {\n      path: "x",\n      scale: 1\n    }\n  ]\n}',
    );
  });

  it('sends the key only when there is one', () => {
    const input = { prompt: "it's", width: 832, height: 480 };
    expect(curlSnippet({ url: 'http://h/graphql', apiKey: null, input })).not.toContain(
      'Authorization',
    );
    expect(curlSnippet({ url: 'http://h/graphql', apiKey: ' k1 ', input })).toContain(
      `-H 'Authorization: Bearer k1'`,
    );
  });
});

describe('the explorer preset', () => {
  it('watches the last task with the key, or lists the history without one', () => {
    const preset = explorerPreset('t1', 'key-1');
    expect(preset.query).toContain('subscription Watch');
    expect(JSON.parse(preset.variables)).toEqual({ id: 't1' });
    expect(JSON.parse(preset.headers)).toEqual({ Authorization: 'Bearer key-1' });
    const none = explorerPreset(null, '');
    expect(none.query).toContain('query History');
    expect(JSON.parse(none.headers)).toEqual({});
  });
});

describe('hidden items', () => {
  it('keeps a list per key, naming it by a hash of the key', () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (key: string) => store.get(key) ?? null,
      setItem: (key: string, value: string) => void store.set(key, value),
    } as Storage;
    writeHidden(storage, 'secret-key', ['a', 'b']);
    expect(readHidden(storage, 'secret-key')).toEqual(['a', 'b']);
    expect(readHidden(storage, 'other-key')).toEqual([]);
    expect([...store.keys()].join()).not.toContain('secret');
    expect(hiddenStorageKey('secret-key')).toBe(`wan-video.hidden.${keyHash('secret-key')}`);
    store.set(hiddenStorageKey('x'), 'not json');
    expect(readHidden(storage, 'x')).toEqual([]);
  });
});

describe('downloads', () => {
  it('tells same-origin URLs from others', () => {
    expect(isSameOrigin('/videos/a.mp4', 'http://127.0.0.1:4000')).toBe(true);
    expect(isSameOrigin('http://127.0.0.1:4000/v.mp4', 'http://127.0.0.1:4000')).toBe(true);
    expect(isSameOrigin('http://127.0.0.1:4001/v.mp4', 'http://127.0.0.1:4000')).toBe(false);
  });
});
