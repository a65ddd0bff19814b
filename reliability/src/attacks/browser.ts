import type { Attack } from '../attack.js';

export const BROWSER_ATTACKS: readonly Attack[] = [];
