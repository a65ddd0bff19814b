import type { Attack } from '../attack.js';

export const TENANCY_ATTACKS: readonly Attack[] = [];
