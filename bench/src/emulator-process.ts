/**
 * Runs one emulator in a process of its own, so that the load generator and the server under
 * test do not share an event loop. `emulator.ts` forks it: the options come as JSON in argv[2],
 * the URL goes back over IPC as `{ url }`, and the emulator closes when the parent sends
 * `'close'` or goes away.
 */
import { type EmulatorOptions, startEmulator } from '@wan-video/emulator';

if (process.send === undefined) throw new Error('start this file with child_process.fork');

const options = JSON.parse(process.argv[2] ?? '{}') as EmulatorOptions;
const emulator = await startEmulator(options);

let closing: Promise<void> | undefined;
const stop = (): Promise<void> => {
  closing ??= emulator.close();
  return closing;
};

process.on('message', (message) => {
  if (message === 'close') void stop().then(() => process.disconnect());
});
process.on('disconnect', () => void stop());
process.send({ url: emulator.url });
