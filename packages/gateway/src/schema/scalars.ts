import { LIMITS } from '@wan-video/core';
import { GraphQLError, Kind } from 'graphql';
import { builder } from '../builder.js';

/**
 * A seed: a whole number from -1 (random) to 9999999999, sent as a JSON number. GraphQL's `Int`
 * stops at 2^31 - 1, too small. The scalar takes any finite number; the range and wholeness are
 * checked with the rest of the input by core's schema, so every problem is reported together,
 * with its path.
 */
export const Seed = builder.scalarType('Seed', {
  description: `A video seed: a whole number from ${LIMITS.seed.min} (random) to ${LIMITS.seed.max}, as a JSON number.`,
  serialize: (value) => value,
  parseValue: (value) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new GraphQLError('Seed must be a number', { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return value;
  },
  parseLiteral: (node) => {
    if (node.kind !== Kind.INT && node.kind !== Kind.FLOAT) {
      throw new GraphQLError('Seed must be a number', {
        nodes: node,
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
    return Number(node.value);
  },
});

/** An instant, as an ISO 8601 string in UTC. */
export const DateTime = builder.scalarType('DateTime', {
  description: 'An instant, as an ISO 8601 string in UTC (2026-11-25T12:00:00.000Z).',
  serialize: (value) => new Date(value).toISOString(),
  parseValue: (value) => {
    const date = new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string');
    return date;
  },
});
