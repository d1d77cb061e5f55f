/**
 * Error classes for conditions tide reports to its user. Each carries the exit code the CLI
 * uses for it, so that the CLI maps errors to codes in one place and the engine never exits.
 *
 * @module
 */

/** Base class of every error tide reports to its user (as opposed to bugs). */
export class TideError extends Error {
  /** Exit code the CLI uses when this error ends a command. */
  readonly exitCode: number;

  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** The user gave bad input: a bad flag, a missing argument, no TTY for a prompt (exit 2). */
export class UsageError extends TideError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 2, options);
  }
}

/** `tide.json` is missing, unparsable or inconsistent (exit 2). */
export class ConfigError extends TideError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 2, options);
  }
}

/** A migration module cannot be used: import failure, missing export, duplicate ID (exit 1). */
export class LoadError extends TideError {
  /** Path of the offending file. */
  readonly path: string;

  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, 1, options);
    this.path = path;
  }
}

/** The plan cannot be made or is refused: unknown app or ID, irreversible step (exit 1). */
export class PlanError extends TideError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 1, options);
  }
}

/** The run could not start or went wrong outside a single migration: lock timeout (exit 1). */
export class RunError extends TideError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 1, options);
  }
}
