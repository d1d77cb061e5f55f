/**
 * Assertions (std's are not reachable here): node's strict assert, under std's names.
 *
 * @module
 */

import assert from "node:assert/strict";

export const assertEquals: <T>(actual: unknown, expected: T, message?: string) => asserts actual is T = assert.deepStrictEqual;
export const assertMatch = (actual: string, pattern: RegExp, message?: string): void => assert.match(actual, pattern, message);
export const assertNotMatch = (actual: string, pattern: RegExp, message?: string): void => assert.doesNotMatch(actual, pattern, message);
export const assert_ = assert;
export const assertRejects = assert.rejects;
export const assertThrows = assert.throws;
