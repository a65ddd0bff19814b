import type { Attack } from '../attack.js';

export const SECRETS_ATTACKS: readonly Attack[] = [];
