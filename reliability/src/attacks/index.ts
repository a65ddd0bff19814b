/** Every attack, in the order the table shows them. */
import type { Attack } from '../attack.js';
import { fuzzInput } from './fuzz.js';

export const ATTACKS: readonly Attack[] = [fuzzInput];
