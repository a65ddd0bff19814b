/**
 * Runs once before the gateway's test files: bundles `src/bin.ts` into one file, so that each
 * gateway child process a test starts loads one file instead of transpiling hundreds with tsx.
 * On a busy 2-core machine that is the difference between a child being healthy in about a
 * second and in 15 to 20 s.
 */
import { bundleGatewayBin } from '@wan-video/test-utils/gateway-process';

export default bundleGatewayBin;
