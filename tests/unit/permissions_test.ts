import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PERMISSIONS, V8_FLAGS_ARG } from "../../tools/permissions.ts";
import { assert } from "../helpers/assert.ts";
import { REPO } from "../helpers/cli.ts";

Deno.test("deno task tide and the README run tide with exactly the binary's permissions (the task with its V8 flags)", async () => {
  const config = JSON.parse(await readFile(join(REPO, "deno.json"), "utf8"));
  const flags = PERMISSIONS.join(" ");
  assert(
    config.tasks.tide.command.includes(`deno run ${flags} ${V8_FLAGS_ARG} --quiet main.ts`),
    config.tasks.tide.command,
  );
  const readme = await readFile(join(REPO, "README.md"), "utf8");
  assert(
    readme.includes(`deno run ${flags} \\\n  ${V8_FLAGS_ARG} \\`),
    "README's from-source command",
  );
});
