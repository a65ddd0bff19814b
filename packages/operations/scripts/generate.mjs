// Writes src/graphql-env.d.ts, the introspection gql.tada types every document from, out of the
// gateway's committed SDL (packages/gateway/schema.graphql). With --check it writes nothing and
// exits 1 when the committed file differs from what the SDL gives (CI runs this).
//
// Usage: node scripts/generate.mjs [--check]
//
// It does what `gql.tada generate-output` does, through gql.tada's own programmatic API
// (gql.tada/internal): that command reads the tsconfig with the TypeScript compiler API, which
// TypeScript 7's native `tsc` no longer ships. The schema gets a name, so the output declares no
// global `setupSchema` for gql.tada: an app that installs this package and uses gql.tada for
// its own API keeps its own schema.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadFromSDL, minifyIntrospection, outputIntrospectionFile } from 'gql.tada/internal';

const schemaFile = fileURLToPath(new URL('../../gateway/schema.graphql', import.meta.url));
const outputFile = fileURLToPath(new URL('../src/graphql-env.d.ts', import.meta.url));

const PREAMBLE = `/* eslint-disable */
/* prettier-ignore */
// biome-ignore-all format: generated
// biome-ignore-all lint: generated
// Generated from packages/gateway/schema.graphql by \`pnpm --filter @wan-video/operations generate\`.
// Do not edit: CI regenerates it and fails when it differs.
`;

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });

const { introspection } = await loadFromSDL({ name: 'wan-video', file: schemaFile }).load();
const output = outputIntrospectionFile(minifyIntrospection(introspection), {
  fileType: '.d.ts',
  shouldPreprocess: true,
  preamble: PREAMBLE,
});

if (values.check) {
  const committed = await readFile(outputFile, 'utf8').catch(() => '');
  if (committed !== output) {
    console.error(
      'packages/operations/src/graphql-env.d.ts is not what packages/gateway/schema.graphql gives.\n' +
        'Run `pnpm --filter @wan-video/operations generate` and commit the result.',
    );
    process.exit(1);
  }
  console.log('graphql-env.d.ts matches schema.graphql');
} else {
  await writeFile(outputFile, output);
  console.log('wrote src/graphql-env.d.ts from packages/gateway/schema.graphql');
}
