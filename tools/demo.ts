// deno-lint-ignore-file no-console -- a script whose job is to print
/**
 * `deno task demo`: the example project on the embedded database, told as a story: apply
 * everything, look, preview a rollback, roll back, look again.
 *
 * @module
 */

import { cp, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromSourceArgs } from "./permissions.ts";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
// A fresh copy each time, so the demo can be run again and leaves nothing in the repo.
const project = join(await mkdtemp(join(tmpdir(), "tide-demo-")), "music");
await cp(join(repo, "examples", "music"), project, { recursive: true });

const steps: [string, string[]][] = [
  ["Apply every migration of both apps (dependencies first)", ["forwards", "all"]],
  ["What has run", ["check"]],
  ["Preview rolling back the last 3 migrations of concert: stdout is a psql script", [
    "backwards",
    "concert",
    "3",
    "--preview",
  ]],
  ["Roll them back for real (-y: no prompt)", ["backwards", "concert", "3", "-y"]],
  ["Roll band back down to and including its 5th migration (the dropped table comes back)", [
    "backwards",
    "band",
    "2026-01-08T10:00:00:000005",
    "--auto-agree",
  ]],
  ["What has run now", ["check"]],
];

console.log(`tide demo — project copied to ${project}, embedded database in ${join(project, ".tide", "pglite")}\n`);
for (const [title, args] of steps) {
  console.log(`\n=== ${title}\n$ tide ${args.join(" ")}`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...fromSourceArgs(repo), ...args],
    cwd: project,
    env: { TIDE_DATABASE_URL: "", DATABASE_URL: "" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    console.error(`demo step failed with exit code ${out.code}`);
    Deno.exit(out.code);
  }
}
console.log("\nDone. Every rollback above ran in one transaction per migration, history row included.");
