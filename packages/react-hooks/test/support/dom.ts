/**
 * A DOM for React in the node environment, from happy-dom, without happy-dom's fetch or
 * WebSocket: the gateway and emulator run in this same process and need Node's own.
 */
import { Window } from 'happy-dom';

const window = new Window({ url: 'http://localhost/' });
const globals = globalThis as unknown as Record<string, unknown>;
const fromWindow = window as unknown as Record<string, unknown>;
for (const key of Object.getOwnPropertyNames(window)) {
  if (key in globals || key === 'fetch' || key === 'WebSocket') continue;
  try {
    globals[key] = fromWindow[key];
  } catch {
    // read-only on Node's global: keep Node's
  }
}
globals.window = window;
globals.document = window.document;
globals.IS_REACT_ACT_ENVIRONMENT = true;

// Waits (`waitFor`, `findBy…`) give up after 1 s by default: too short on a busy machine for a
// round trip through the gateway and the emulator. They wait on the DOM, so a longer limit
// costs nothing when things are quick. Imported only now: testing-library binds `screen` to the
// document at import.
const { configure } = await import('@testing-library/react');
configure({ asyncUtilTimeout: 15_000 });
