/**
 * The permission flags baked into the compiled binary, used by `deno task tide` and by the
 * tests that run tide from source: one list, so all three behave alike.
 *
 * @module
 */

/** Deno permission flags of the tide binary. */
export const PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-sys",
];
