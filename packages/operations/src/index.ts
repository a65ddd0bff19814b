export type { ResultOf, VariablesOf } from 'gql.tada';
export {
  type GatewayInfo,
  GatewayInfoQuery,
  type GenerateVideoInput,
  GenerateVideoMutation,
  type VideoTask,
  VideoTaskFields,
  VideoTaskQuery,
  type VideoTaskStatus,
  VideoTaskSubscription,
  VideoTasksQuery,
} from './documents.js';
export { EXAMPLE_OPERATIONS, EXAMPLES, type ExampleOperation } from './examples.js';
export { graphql } from './graphql.js';
export type { introspection } from './graphql-env.js';
