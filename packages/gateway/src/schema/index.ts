import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from '../builder.js';
import './video-task.js';
import './webhooks.js';

/** The gateway's GraphQL schema. */
export const schema = builder.toSchema();

/** The SDL, sorted, as committed in `schema.graphql`. */
export const printedSchema = (): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
