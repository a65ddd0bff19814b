/**
 * Runs once before the CLI's test files: bundles the gateway's `src/bin.ts` (test-utils'
 * `bundleGatewayBin`, as the gateway's own suites do) and the CLI's `src/bin.ts`, each into one
 * ESM file, so that every child process a test starts loads one file, read from the workspace's
 * sources (no `pnpm build` of core or operations needed first).
 */
import { bundleGatewayBin } from '@wan-video/test-utils/gateway-process';
import { bundleCliBin } from './cli-process.js';

export default async function setup() {
  const [removeGateway, removeCli] = await Promise.all([bundleGatewayBin(), bundleCliBin()]);
  return async () => {
    await Promise.all([removeGateway(), removeCli()]);
  };
}
