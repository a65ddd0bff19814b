import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { StoredStatus } from './store/types.js';

/** The gateway's Prometheus metrics, in a registry of its own. */
export function createMetrics(
  countByStatus: () => Promise<Readonly<Record<StoredStatus, number>>>,
) {
  const registry = new Registry();
  // The event-loop lag series sample every 100 ms, not prom-client's 10 ms: an idle gateway woke
  // 100 times a second for it alone (10 ms of CPU per second, against 2 ms at 100).
  collectDefaultMetrics({
    register: registry,
    prefix: 'wan_gateway_',
    eventLoopMonitoringPrecision: 100,
  });
  const tasks = new Gauge({
    name: 'wan_tasks',
    help: 'Tasks in the store, by status.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      for (const [status, count] of Object.entries(await countByStatus())) {
        this.set({ status }, count);
      }
    },
  });
  const upstreamRequests = new Counter({
    name: 'wan_upstream_requests_total',
    help: 'Requests sent upstream, by route (create, result) and answer status (or "error").',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const liveSubscriptions = new Gauge({
    name: 'wan_live_subscriptions',
    help: 'videoTask subscriptions open now, over WebSocket and SSE (each subscriber, not each fan-out group).',
    registers: [registry],
  });
  const fanoutGroups = new Gauge({
    name: 'wan_fanout_groups',
    help: 'WebSocket subscription groups open now: subscribers with the same caller, document and variables share one, with one source and one execution per change.',
    registers: [registry],
  });
  const subscriptionExecutions = new Counter({
    name: 'wan_subscription_executions_total',
    help: 'videoTask subscription results executed: once per change for each WebSocket group, once per change for each SSE subscriber.',
    registers: [registry],
  });
  const pushLatency = new Histogram({
    name: 'wan_push_latency_seconds',
    help: 'From the gateway seeing an upstream change to it being handed to a subscriber (observed once per subscriber per change).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const webSockets = new Gauge({
    name: 'wan_websocket_connections',
    help: 'WebSocket connections open now.',
    registers: [registry],
  });
  return {
    registry,
    tasks,
    upstreamRequests,
    liveSubscriptions,
    fanoutGroups,
    subscriptionExecutions,
    pushLatency,
    webSockets,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
