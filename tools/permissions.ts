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

import { join } from "node:path";
import { V8_FLAGS, V8_FLAGS_ARG } from "../src/v8_flags.ts";

/** Deno permission flags of the tide binary. */
export const PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-sys=userInfo,uid,gid,hostname",
];

/** The binary's V8 flags live beside the code that applies them when run from source. */
export { V8_FLAGS, V8_FLAGS_ARG };

/**
 * `deno run` arguments that start tide from the checkout at `repo` in the binary's
 * configuration (its permissions and V8 flags); tide's own arguments follow.
 */
export function fromSourceArgs(repo: string): string[] {
  return ["run", ...PERMISSIONS, V8_FLAGS_ARG, "--quiet", "--config", join(repo, "deno.json"), join(repo, "main.ts")];
}
