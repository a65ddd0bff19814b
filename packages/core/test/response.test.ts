import { describe, expect, it } from 'vitest';
import {
  isValidationError,
  parseTaskResult,
  parseWebhookEvent,
  type TaskResultResponse,
  toTaskSnapshot,
} from '../src/index.js';

const NOW = 1_800_000_000_000;

const body = (
  patch: Partial<TaskResultResponse['task']> = {},
  rest: Partial<TaskResultResponse> = {},
): TaskResultResponse => ({
  extra: {
    seed: '158881667',
    debug_info: { submit_time_ms: '', execute_time_ms: '', complete_time_ms: '' },
  },
  task: {
    task_id: 'tid',
    task_type: 'WAN_TXT_TO_VIDEO',
    status: 'TASK_STATUS_PROCESSING',
    reason: '',
    eta: 12,
    progress_percent: 40,
    ...patch,
  },
  images: [],
  videos: [],
  ...rest,
});

describe('task-result bodies', () => {
  it('normalise to a snapshot', () => {
    expect(toTaskSnapshot(parseTaskResult(body()), NOW)).toEqual({
      taskId: 'tid',
      status: 'PROCESSING',
      progressPercent: 40,
      etaSeconds: 12,
      failureReason: null,
      videos: [],
      seed: 158_881_667,
    });
  });

  it('give SUCCEEDED videos an absolute expiry from their ttl, and progress 100', () => {
    const done = body(
      { status: 'TASK_STATUS_SUCCEED', progress_percent: 99, eta: 0 },
      { videos: [{ video_url: 'https://v/1.mp4', video_url_ttl: '1800', video_type: 'mp4' }] },
    );
    expect(toTaskSnapshot(parseTaskResult(done), NOW)).toMatchObject({
      status: 'SUCCEEDED',
      progressPercent: 100,
      etaSeconds: null,
      videos: [{ url: 'https://v/1.mp4', type: 'mp4', expiresAt: NOW + 1_800_000 }],
    });
  });

  it('give FAILED a reason, even when the upstream left it empty', () => {
    expect(
      toTaskSnapshot(
        parseTaskResult(body({ status: 'TASK_STATUS_FAILED', reason: 'NSFW prompt' })),
        NOW,
      ).failureReason,
    ).toBe('NSFW prompt');
    expect(
      toTaskSnapshot(parseTaskResult(body({ status: 'TASK_STATUS_FAILED' })), NOW).failureReason,
    ).toMatch(/without a reason/);
  });

  it('are read leniently: numbers as strings, missing or null parts, unknown fields', () => {
    const odd = {
      task: {
        task_id: 'x',
        status: 'TASK_STATUS_QUEUED',
        eta: '30',
        progress_percent: '7.6',
        reason: null,
        extra_field: 1,
      },
      extra: null,
      videos: null,
      something_new: true,
    };
    expect(toTaskSnapshot(parseTaskResult(odd), NOW)).toEqual({
      taskId: 'x',
      status: 'QUEUED',
      progressPercent: 8,
      etaSeconds: 30,
      failureReason: null,
      videos: [],
      seed: null,
    });
  });

  it('never fail on informative fields they cannot read', () => {
    const odd = body(
      { status: 'TASK_STATUS_SUCCEED', eta: 'soon' as never, progress_percent: true as never },
      {
        extra: { seed: 'random' },
        videos: [
          { video_url: '', video_url_ttl: '3600', video_type: 'mp4' },
          { video_url: 'https://v/ok.mp4', video_url_ttl: 'one hour', video_type: 'mp4' },
        ],
      },
    );
    expect(toTaskSnapshot(parseTaskResult(odd), NOW)).toMatchObject({
      status: 'SUCCEEDED',
      seed: null,
      videos: [{ url: 'https://v/ok.mp4', type: 'mp4', expiresAt: NOW + 3_600_000 }],
    });
  });

  it('clamp progress to 0..100 and treat a zero eta as unknown', () => {
    expect(
      toTaskSnapshot(parseTaskResult(body({ progress_percent: 140, eta: 0 })), NOW),
    ).toMatchObject({ progressPercent: 100, etaSeconds: null });
    expect(
      toTaskSnapshot(parseTaskResult(body({ progress_percent: -3 })), NOW).progressPercent,
    ).toBe(0);
  });

  it('fail with a ValidationError when what we rely on is missing', () => {
    for (const bad of [
      null,
      'text',
      {},
      { task: {} },
      body({ status: 'TASK_STATUS_UNKNOWN' as never }),
      body({ task_id: '' }),
    ]) {
      let caught: unknown;
      try {
        parseTaskResult(bad);
      } catch (error) {
        caught = error;
      }
      expect(isValidationError(caught)).toBe(true);
    }
  });
});

describe('webhook events', () => {
  it('read an ASYNC_TASK_RESULT event', () => {
    const event = parseWebhookEvent({
      event_type: 'ASYNC_TASK_RESULT',
      payload: body({ status: 'TASK_STATUS_SUCCEED' }),
    });
    expect(event.type).toBe('ASYNC_TASK_RESULT');
    expect(event.type === 'ASYNC_TASK_RESULT' && event.result.task.task_id).toBe('tid');
  });

  it('ignore other event types', () => {
    expect(parseWebhookEvent({ event_type: 'SOMETHING_ELSE', payload: 42 })).toEqual({
      type: 'ignored',
      eventType: 'SOMETHING_ELSE',
    });
  });

  it('reject malformed events with the path of the problem', () => {
    for (const [bad, path] of [
      [{ payload: {} }, ['event_type']],
      [
        { event_type: 'ASYNC_TASK_RESULT', payload: { task: { task_id: 'x' } } },
        ['payload', 'task', 'status'],
      ],
    ] as const) {
      try {
        parseWebhookEvent(bad);
        expect.unreachable();
      } catch (error) {
        expect(isValidationError(error) && error.issues.map((issue) => issue.path)).toContainEqual(
          path,
        );
      }
    }
  });
});
