/**
 * The yes/no question before a rollback, asked on stderr so that stdout stays clean.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { Io } from "./io.ts";

/**
 * Asks `question [y/N]` and returns true only for `y` or `yes` (any case).
 *
 * @throws {UsageError} when standard input is not a terminal: it never waits on a pipe.
 */
export async function confirm(io: Io, question: string): Promise<boolean> {
  if (!io.stdinIsTerminal()) {
    throw new UsageError(
      `Cannot ask "${question}": standard input is not a terminal. Pass --auto-agree (or -y) to proceed without asking`,
    );
  }
  io.err(`${question} [y/N] `);
  const answer = await io.readLine();
  if (answer === null) io.err("\n");
  return answer !== null && /^(y|yes)$/i.test(answer.trim());
}
