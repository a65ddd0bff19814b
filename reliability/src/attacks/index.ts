/** Every attack, in the order the table shows them. */
import type { Attack } from '../attack.js';
import { BROWSER_ATTACKS } from './browser.js';
import { CRASH_ATTACKS } from './crash.js';
import { DOORS_ATTACKS } from './doors.js';
import { fuzzInput } from './fuzz.js';
import { RESOURCES_ATTACKS } from './resources.js';
import { SECRETS_ATTACKS } from './secrets.js';
import { TENANCY_ATTACKS } from './tenancy.js';
import { UPSTREAM_ATTACKS } from './upstream.js';
import { WEBHOOKS_ATTACKS } from './webhooks.js';

export const ATTACKS: readonly Attack[] = [
  ...CRASH_ATTACKS,
  ...UPSTREAM_ATTACKS,
  fuzzInput,
  ...RESOURCES_ATTACKS,
  ...BROWSER_ATTACKS,
  ...TENANCY_ATTACKS,
  ...SECRETS_ATTACKS,
  ...DOORS_ATTACKS,
  ...WEBHOOKS_ATTACKS,
];
