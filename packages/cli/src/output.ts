/** Where a stream of text goes: `process.stdout`/`stderr`, or anything with `write`. */
export interface TextStream {
  write(text: string): unknown;
  readonly isTTY?: boolean | undefined;
}

/**
 * The two streams, with the rule of which gets what: data (what a script reads: an id, a URL,
 * JSON) on stdout; progress and diagnostics on stderr. Every write passes through `redact`, so a
 * secret registered with `addSecret` (the API key) can never be printed.
 */
export class Output {
  readonly #stdout: TextStream;
  readonly #stderr: TextStream;
  readonly #secrets = new Set<string>();

  constructor(stdout: TextStream, stderr: TextStream) {
    this.#stdout = stdout;
    this.#stderr = stderr;
  }

  /** The raw stderr stream (the progress bar draws on it), its writes redacted too. */
  get stderr(): TextStream {
    const stream = this.#stderr;
    const redact = (text: string) => this.redact(text);
    return {
      write: (text: string) => stream.write(redact(text)),
      isTTY: stream.isTTY === true,
    };
  }

  /** Whether stderr is a terminal (the progress bar is drawn only there). */
  get interactive(): boolean {
    return this.#stderr.isTTY === true;
  }

  /** Never print this (an API key). */
  addSecret(secret: string | undefined): void {
    if (secret && secret.length > 0) this.#secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join('[redacted]');
    return out;
  }

  /** A line of data on stdout. */
  data(line: string): void {
    this.#stdout.write(`${this.redact(line)}\n`);
  }

  /** One JSON document on stdout, on one line (NDJSON when called once per snapshot). */
  json(value: unknown): void {
    this.data(JSON.stringify(value));
  }

  /** A line of progress or diagnostics on stderr. */
  note(line: string): void {
    this.#stderr.write(`${this.redact(line)}\n`);
  }
}
