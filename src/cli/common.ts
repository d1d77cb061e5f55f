/**
 * What every command shares: global options, opening the session, printing errors.
 *
 * @module
 */

import { openSession, type Session } from "../engine/session.ts";
import { UsageError } from "../errors.ts";
import type { Io } from "./io.ts";

/** Options every command takes (SPEC 3). */
export interface GlobalOptions {
  config?: string;
  databaseUrl?: string;
  json?: boolean;
}

/** Opens the session the global options describe. */
export function open(io: Io, options: GlobalOptions, readOnly = false): Promise<Session> {
  return openSession({
    config: options.config,
    cwd: io.cwd(),
    databaseUrl: options.databaseUrl,
    env: io.env,
    readOnly,
  });
}

/** Parses `--lock-timeout`: `10s`, `500ms`, `2m` or plain seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`Invalid duration "${text}": use e.g. 10s, 500ms or 2m`);
  const value = Number(m[1]);
  return m[2] === "ms" ? value : m[2] === "m" ? value * 60_000 : value * 1000;
}

/** Writes one JSON document to stdout. */
export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2) + "\n");
}
