/**
 * The terminal, behind an interface: the CLI writes and asks through it, tests pass their own.
 *
 * @module
 */

/** Where the CLI writes and reads. */
export interface Io {
  /** Writes to standard output (the result). */
  out(text: string): void;
  /** Writes to standard error (progress, prompts, errors). */
  err(text: string): void;
  /** Whether standard input is a terminal someone can answer from. */
  stdinIsTerminal(): boolean;
  /** Reads one line from standard input; null at end of input. */
  readLine(): Promise<string | null>;
  /** Environment lookup. */
  env(name: string): string | undefined;
  /** Folder the command was started in. */
  cwd(): string;
}

const encoder = new TextEncoder();

/** The real terminal. */
export function denoIo(): Io {
  return {
    out: (text) => writeAll(Deno.stdout, text),
    err: (text) => writeAll(Deno.stderr, text),
    stdinIsTerminal: () => Deno.stdin.isTerminal(),
    readLine: () => readLine(Deno.stdin),
    env: (name) => Deno.env.get(name),
    // `deno task tide` starts in the repo: the task passes the caller's folder in TIDE_CWD.
    cwd: () => Deno.env.get("TIDE_CWD") || Deno.cwd(),
  };
}

function writeAll(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
}

async function readLine(stream: { read(p: Uint8Array): Promise<number | null> }): Promise<string | null> {
  const chunks: number[] = [];
  const buffer = new Uint8Array(1);
  // Byte by byte, so nothing past the line is consumed.
  for (;;) {
    const n = await stream.read(buffer);
    if (n === null || n === 0) return chunks.length ? new TextDecoder().decode(new Uint8Array(chunks)) : null;
    if (buffer[0] === 10) return new TextDecoder().decode(new Uint8Array(chunks)).replace(/\r$/, "");
    chunks.push(buffer[0]!);
  }
}
