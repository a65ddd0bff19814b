import type { Attack } from '../attack.js';

export const RESOURCES_ATTACKS: readonly Attack[] = [];
