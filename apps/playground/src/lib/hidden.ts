/**
 * History items a person hid, per API key, in localStorage (the API has no hide mutation). The
 * key itself is never stored: only a short hash of it names the list.
 */
const PREFIX = 'wan-video.hidden.';
const KEPT = 500;

/** FNV-1a, 32 bits, in hex: enough to tell keys apart, useless to recover one. */
export function keyHash(apiKey: string): string {
  let hash = 0x811c9dc5;
  for (const char of apiKey.trim()) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

export const hiddenStorageKey = (apiKey: string): string =>
  `${PREFIX}${apiKey.trim() === '' ? 'no-key' : keyHash(apiKey)}`;

/** The hidden task ids for a key, oldest first. */
export function readHidden(storage: Storage | undefined, apiKey: string): readonly string[] {
  try {
    const stored: unknown = JSON.parse(storage?.getItem(hiddenStorageKey(apiKey)) ?? '[]');
    return Array.isArray(stored) ? stored.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

/** Saves the list (the newest `KEPT` ids); storage that fails keeps it for this visit only. */
export function writeHidden(storage: Storage | undefined, apiKey: string, ids: readonly string[]) {
  try {
    storage?.setItem(hiddenStorageKey(apiKey), JSON.stringify(ids.slice(-KEPT)));
  } catch {
    // Full or unavailable: the list lasts until reload.
  }
}
