import { describe, expect, it } from 'vitest';
import { formatPath, safeParseVideoInput } from '../src/index.js';

describe('the README', () => {
  it('shows the validation issues the code really gives', () => {
    const result = safeParseVideoInput({ prompt: '', width: 832, height: 832, steps: 41 });
    expect(!result.success && result.error.issues).toEqual([
      { path: ['prompt'], rule: 'min_length', message: 'prompt must not be empty' },
      { path: ['steps'], rule: 'max', message: 'steps must be between 1 and 40 (got 41)' },
      { path: ['height'], rule: 'size_pair', message: 'height must be 480 when width is 832' },
    ]);
    expect(formatPath(['loras', 0, 'path'])).toBe('loras[0].path');
  });
});
