// Writes the printed SDL to schema.graphql: `pnpm --filter @wan-video/gateway print-schema`.
import { writeFileSync } from 'node:fs';
import { printedSchema } from '../src/schema/index.js';

const file = new URL('../schema.graphql', import.meta.url);
writeFileSync(file, printedSchema());
console.log(`wrote ${file.pathname}`);
