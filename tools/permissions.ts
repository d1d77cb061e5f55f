/**
 * The permission flags baked into the compiled binary, used by `deno task tide`, the demo and
 * the tests that run tide from source: one list, so all of them behave alike.
 *
 * Measured with DENO_AUDIT_PERMISSIONS over every command on both databases: files anywhere
 * (the project and its data folder are only known at run time), the database's host, the
 * environment (postgres.js reads a dozen PG* variables besides tide's own), and from the
 * system only what postgres.js asks to default the user name.
 *
 * @module
 */

/** Deno permission flags of the tide binary. */
export const PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-sys=userInfo,uid,gid,hostname",
];

/**
 * V8 flags of the binary, also passed by `deno task tide`. A young generation capped at 1 MB
 * semi-spaces: V8 otherwise grows it to 8-16 MB under a long run's survivors, about a seventh of
 * the peak RSS of `backwards all` (bench/RESULTS.md), at the same speed.
 */
export const V8_FLAGS: readonly string[] = ["--max-semi-space-size=1"];
