import type { Attack } from '../attack.js';

export const UPSTREAM_ATTACKS: readonly Attack[] = [];
