import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.js';

/**
 * A `graphql()` tag typed from the gateway's committed schema (`packages/gateway/schema.graphql`):
 * a document's result and variables types come with it (`ResultOf`, `VariablesOf`). A field the
 * schema lacks is typed `unknown` (gql.tada's editor plugin flags it; `tsc` does not), so this
 * package's tests validate each of its documents against the schema and check that none of
 * their results holds an `unknown`.
 *
 * Fragments are not masked: a fragment's fields read as part of the result that spreads it.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: {
    /** An ISO 8601 instant in UTC, as a JSON string. */
    DateTime: string;
    /** A whole number from -1 (random) to 9999999999, as a JSON number. */
    Seed: number;
  };
  disableMasking: true;
}>();
