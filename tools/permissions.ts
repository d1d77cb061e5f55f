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
