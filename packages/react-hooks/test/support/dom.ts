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
