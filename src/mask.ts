/**
 * Password masking for database URLs, applied to every message that may show one.
 *
 * @module
 */

const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/\s]*)@/gi;
const KEYWORD_PASSWORD = /(password\s*=\s*)('[^']*'|\S+)/gi;

/**
 * Replaces the password of every URL (and `password=` keyword) in a text with `***`.
 *
 * @example
 * ```ts
 * maskPasswords("postgres://app:s3cret@db/app"); // "postgres://app:***@db/app"
 * ```
 */
export function maskPasswords(text: string): string {
  return text.replace(URL_PASSWORD, "$1:***@").replace(KEYWORD_PASSWORD, "$1***");
}
