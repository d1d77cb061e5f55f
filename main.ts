/**
 * tide's entry point: `deno run … main.ts ARGS` and the compiled binary alike. The CLI is
 * imported only once it is known that this process runs it: started from source without the
 * binary's V8 flags, a long command runs in a child given them (src/cli/relaunch.ts), and this
 * process stays small while it waits.
 *
 * @module
 */

import { followParent, relaunch } from "./src/cli/relaunch.ts";

if (import.meta.main) {
  const cli = () => Promise.all([import("./src/cli/io.ts"), import("./src/cli/main.ts")]);
  const code = await relaunch(Deno.args, cli);
  if (code !== undefined) Deno.exit(code);
  followParent();
  const [{ denoIo }, { main }] = await cli();
  Deno.exit(await main(Deno.args, denoIo()));
}
