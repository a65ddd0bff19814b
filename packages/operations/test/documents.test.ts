/** Every document and example, parsed and validated against the committed schema.graphql. */
import { readFile } from 'node:fs/promises';
import {
  buildSchema,
  type DocumentNode,
  GraphQLScalarType,
  isSpecifiedScalarType,
  NoUnusedFragmentsRule,
  parse,
  print,
  specifiedRules,
  validate,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import * as operations from '../src/index.js';
import { EXAMPLE_OPERATIONS, EXAMPLES } from '../src/index.js';

// Read as a file, at test time only: the package itself never depends on the gateway.
const schema = buildSchema(
  await readFile(new URL('../../gateway/schema.graphql', import.meta.url), 'utf8'),
);

const isDocument = (value: unknown): value is DocumentNode =>
  typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'Document';

/** The exported documents, by export name: found, not listed, so a new one is checked too. */
const documents = Object.entries(operations).filter((entry): entry is [string, DocumentNode] =>
  isDocument(entry[1]),
);

/**
 * Validation errors of a document against the schema (re-parsed from its printed text); a
 * fragment alone is not "unused".
 */
function errorsOf(document: DocumentNode | string): string[] {
  const parsed = typeof document === 'string' ? parse(document) : parse(print(document));
  const fragmentOnly = parsed.definitions.every((node) => node.kind === 'FragmentDefinition');
  const rules = fragmentOnly
    ? specifiedRules.filter((rule) => rule !== NoUnusedFragmentsRule)
    : specifiedRules;
  return validate(schema, parsed, rules).map((error) => error.message);
}

describe('the documents', () => {
  it('are all found', () => {
    expect(documents.map(([name]) => name).sort()).toEqual([
      'GatewayInfoQuery',
      'GenerateVideoMutation',
      'VideoTaskFields',
      'VideoTaskQuery',
      'VideoTaskSubscription',
      'VideoTasksQuery',
    ]);
  });

  it.each(documents)('%s validates against schema.graphql', (_name, document) => {
    expect(errorsOf(document)).toEqual([]);
  });

  it('each operation carries the fragments it spreads, once', () => {
    for (const [name, document] of documents) {
      const fragments = document.definitions.flatMap((definition) =>
        definition.kind === 'FragmentDefinition' ? [definition.name.value] : [],
      );
      expect(new Set(fragments).size, name).toBe(fragments.length);
    }
  });
});

describe('the examples', () => {
  it.each(EXAMPLES.map((example) => [example.id, example] as const))(
    'the %s example validates, and its document is its text',
    (_id, example) => {
      expect(errorsOf(example.text)).toEqual([]);
      expect(print(example.document)).toBe(print(parse(example.text)));
    },
  );

  it('EXAMPLE_OPERATIONS (GraphiQL) is every example, and validates as one document', () => {
    for (const example of EXAMPLES) expect(EXAMPLE_OPERATIONS).toContain(example.text);
    expect(errorsOf(EXAMPLE_OPERATIONS)).toEqual([]);
    const names = parse(EXAMPLE_OPERATIONS).definitions.map((definition) =>
      definition.kind === 'OperationDefinition' ? definition.name?.value : undefined,
    );
    expect(names).toEqual(['Generate', 'Watch', 'History']);
  });
});

describe('the custom scalars', () => {
  it('are the ones src/graphql.ts maps (map a new one there, then add it here)', () => {
    const custom = Object.values(schema.getTypeMap())
      .filter((type) => type instanceof GraphQLScalarType && !isSpecifiedScalarType(type))
      .map((type) => type.name)
      .sort();
    expect(custom).toEqual(['DateTime', 'Seed']);
  });
});
