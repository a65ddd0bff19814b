/**
 * Type tests, run by `tsc` in `pnpm typecheck`. gql.tada types a field the schema lacks as
 * `unknown` (its editor plugin reports it; `tsc` alone does not), so every exported document's
 * result is checked here to hold no `unknown`: a misspelled field, or a custom scalar left
 * unmapped in src/graphql.ts, fails the type check.
 */
import type * as operations from '../src/index.js';
import {
  type EXAMPLES,
  type GatewayInfo,
  type GenerateVideoInput,
  type GenerateVideoMutation,
  graphql,
  type ResultOf,
  type VariablesOf,
  type VideoTask,
  type VideoTaskStatus,
  type VideoTaskSubscription,
} from '../src/index.js';

type Expect<T extends true> = T;
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** `true` when no field of `T`, however deep, is `unknown`. */
type NoUnknown<T> = unknown extends T
  ? false
  : T extends readonly (infer Item)[]
    ? NoUnknown<Item>
    : T extends object
      ? { [K in keyof T]-?: NoUnknown<T[K]> }[keyof T] extends true
        ? true
        : false
      : true;

/** A document's result type; `true` for exports that are not documents. */
type Known<D> = D extends { __apiType?: (variables: never) => infer Result }
  ? NoUnknown<Result>
  : true;

type Exports = typeof operations;
export type EveryDocumentIsKnown = Expect<
  { [K in keyof Exports]: Known<Exports[K]> }[keyof Exports] extends true ? true : false
>;
export type EveryExampleIsKnown = Expect<Known<(typeof EXAMPLES)[number]['document']>>;

// A field the schema does not have fails.
const misspelled = graphql(`
  query Misspelled {
    gateway {
      emulatd
    }
  }
`);
// @ts-expect-error `emulatd` is not a field of GatewayInfo: its type is `unknown`.
export type MisspelledFails = Expect<Known<typeof misspelled>>;

// A variable of a type the schema does not have is `never`: nothing can be passed.
const unknownType = graphql(`
  query UnknownType($id: Nope!) {
    videoTask(id: $id) {
      id
    }
  }
`);
// @ts-expect-error nothing is a `Nope`.
export const unknownVariables: VariablesOf<typeof unknownType> = { id: 'a' };

// The custom scalars as mapped, the enum from the schema, nullability from the schema.
export type Scalars = [
  Expect<Equal<VideoTask['input']['seed'], number>>,
  Expect<Equal<VideoTask['createdAt'], string>>,
  Expect<Equal<VideoTask['completedAt'], string | null>>,
  Expect<Equal<VideoTask['videos'][number]['expiresAt'], string | null>>,
  Expect<Equal<VideoTaskStatus, 'QUEUED' | 'PROCESSING' | 'SUCCEEDED' | 'FAILED'>>,
  Expect<Equal<VideoTask['etaSeconds'], number | null>>,
  Expect<Equal<GatewayInfo['emulated'], boolean>>,
  Expect<Equal<GenerateVideoInput['seed'], number | null | undefined>>,
];

// Fragments are unmasked: the task's fields are on the result that spreads them.
export type Unmasked = [
  Expect<Equal<ResultOf<typeof GenerateVideoMutation>['generateVideo'], VideoTask>>,
  Expect<Equal<ResultOf<typeof VideoTaskSubscription>['videoTask'], VideoTask>>,
];

// Variables are checked: the input is required, the idempotency key is not.
export const variables: VariablesOf<typeof GenerateVideoMutation> = {
  input: { prompt: 'a lighthouse at dusk', width: 832, height: 480 },
};
// @ts-expect-error `input` is required.
export const noInput: VariablesOf<typeof GenerateVideoMutation> = { idempotencyKey: 'k' };
