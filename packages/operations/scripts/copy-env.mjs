// After `tsc`: copies src/graphql-env.d.ts into dist/, which tsc does not emit (a .d.ts is only
// read), so that dist/graphql.d.ts finds the introspection it imports.
import { copyFile } from 'node:fs/promises';

await copyFile(
  new URL('../src/graphql-env.d.ts', import.meta.url),
  new URL('../dist/graphql-env.d.ts', import.meta.url),
);
