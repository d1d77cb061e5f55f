/**
 * tide's entry point: `deno run … main.ts ARGS` and the compiled binary alike.
 *
 * @module
 */

import { denoIo } from "./src/cli/io.ts";
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args, denoIo()));
}
