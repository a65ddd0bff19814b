import SchemaBuilder from '@pothos/core';
import type { TaskEvents } from './events/types.js';
import type { Metrics } from './metrics.js';
import type { VideoService } from './service.js';

/** Who is calling: the owner of the tasks they create. */
export interface Caller {
  /** A stable id derived from the client's API key (`anonymous` without auth). */
  readonly id: string;
}

export interface GatewayInfo {
  /** Whether the upstream is the embedded emulator (videos are procedural, not Wan output). */
  readonly emulated: boolean;
  /** Whether clients must send an API key. */
  readonly authRequired: boolean;
  /** Whether task results arrive by webhook (else by polling). */
  readonly webhooks: boolean;
  readonly maxInFlightTasks: number;
  readonly mutationsPerMinute: number;
}

/** What every resolver gets. */
export interface GatewayContext {
  readonly caller: Caller;
  /** The origin of links handed to this caller (`PUBLIC_URL`, or the host it reached). */
  readonly origin: string;
  readonly service: VideoService;
  readonly events: TaskEvents;
  readonly metrics: Metrics;
  readonly info: GatewayInfo;
}

export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  Scalars: {
    Seed: { Input: number; Output: number };
    DateTime: { Input: Date; Output: Date | number };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
}>({
  defaultFieldNullability: false,
});
