/**
 * The signals that stop a run politely, and the exit code a shell reports for a process a
 * signal ended. Shared by the relaunch (passes them on to its child) and `verify` (drops its
 * scratch database on them).
 *
 * @module
 */

/** SIGINT (a terminal's Ctrl-C), SIGTERM (a supervisor's stop) and SIGHUP (a closed terminal). */
export const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

const NUMBERS: Partial<Record<Deno.Signal, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

/** 128 + the signal's number, as a shell reports a process the signal ended. */
export function signalExitCode(signal: Deno.Signal): number {
  return 128 + (NUMBERS[signal] ?? 1);
}
