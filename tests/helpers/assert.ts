/**
 * Assertions (std's are not reachable here): node's strict assert, under std's names.
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

/** Deep strict equality. */
export function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Deep strict inequality. */
export function assertNotEquals(actual: unknown, expected: unknown, message?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

/** The text matches the pattern. */
export function assertMatch(actual: string, pattern: RegExp, message?: string): void {
  nodeAssert.match(actual, pattern, message);
}

/** The text does not match the pattern. */
export function assertNotMatch(actual: string, pattern: RegExp, message?: string): void {
  nodeAssert.doesNotMatch(actual, pattern, message);
}

/** The value is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** The promise rejects, optionally with an error matching `pattern`. */
export async function assertRejects(fn: () => Promise<unknown>, pattern?: RegExp): Promise<void> {
  if (pattern) await nodeAssert.rejects(fn, pattern);
  else await nodeAssert.rejects(fn);
}

/** The function throws, optionally an error matching `pattern`. */
export function assertThrows(fn: () => unknown, pattern?: RegExp): void {
  if (pattern) nodeAssert.throws(fn, pattern);
  else nodeAssert.throws(fn);
}
