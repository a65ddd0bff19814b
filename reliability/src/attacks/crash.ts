import type { Attack } from '../attack.js';

export const CRASH_ATTACKS: readonly Attack[] = [];
