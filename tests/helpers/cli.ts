/**
 * Runs tide as a subprocess, exactly as a user would: `deno run <the binary's permission
 * flags> --config <repo>/deno.json <repo>/main.ts`, or the binary in TIDE_BIN.
 *
 * @module
 */

import { cp, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root folder. */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The permission flags baked into the binary and used by `deno task tide`. */
export { PERMISSIONS } from "../../tools/permissions.ts";
import { fromSourceArgs } from "../../tools/permissions.ts";
import { assertEquals, assertNotMatch } from "./assert.ts";

/**
 * The command that runs tide: the binary in TIDE_BIN, else `deno run` from source in the
 * binary's configuration (its permissions and V8 flags).
 */
export function tideCommand(): string[] {
  const bin = Deno.env.get("TIDE_BIN");
  if (bin) return [bin];
  return [Deno.execPath(), ...fromSourceArgs(REPO)];
}

/** What a run of tide gave. */
export interface TideRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@linkcode tide}. */
export interface TideOptions {
  /** Folder to run in (the project). */
  readonly cwd: string;
  /** Extra environment; TIDE_DATABASE_URL and friends are cleared unless given here. */
  readonly env?: Record<string, string>;
  /** Text fed to standard input (a pipe, so not a terminal). */
  readonly stdin?: string;
}

/** Runs tide with arguments and returns exit code and output. */
export async function tide(args: string[], options: TideOptions): Promise<TideRun> {
  const [cmd, ...pre] = tideCommand();
  const env: Record<string, string> = { NO_COLOR: "1", TIDE_DATABASE_URL: "", DATABASE_URL: "", ...options.env };
  const child = new Deno.Command(cmd!, {
    args: [...pre, ...args],
    cwd: options.cwd,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  if (options.stdin !== undefined) await writer.write(new TextEncoder().encode(options.stdin));
  await writer.close();
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/**
 * Runs tide under a pseudo-terminal (util-linux `script`), typing `input` at the prompt.
 * Output of both streams arrives mixed, as on a screen.
 */
export async function tideInTerminal(
  args: string[],
  options: TideOptions & { input: string },
): Promise<{ code: number; screen: string }> {
  const command = tideCommand().concat(args).map(shellQuote).join(" ");
  const env: Record<string, string> = { NO_COLOR: "1", TIDE_DATABASE_URL: "", DATABASE_URL: "", ...options.env };
  const child = new Deno.Command("script", {
    args: ["-qefc", command, "/dev/null"],
    cwd: options.cwd,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  // Give the prompt time to appear before typing, as a person would.
  await new Promise((r) => setTimeout(r, 1500));
  await writer.write(new TextEncoder().encode(options.input));
  await writer.close();
  const out = await child.output();
  return { code: out.code, screen: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

/** A migration file's content for {@linkcode makeProject}. */
export interface FixtureMigration {
  readonly id: string;
  readonly description?: string;
  /** Body of `forwards`, using `manager`. */
  readonly body: string;
  /** Optional body of a hand-written `backwards`. */
  readonly backwards?: string;
  /** File name; default: the name `tide new` would give. */
  readonly file?: string;
}

/** Writes a migration module file. */
export async function writeMigration(dir: string, m: FixtureMigration): Promise<string> {
  const file = m.file ?? `${m.id.replace(/[:-]/g, "_")}_m.ts`;
  const path = join(dir, file);
  const backwards = m.backwards === undefined
    ? ""
    : `\nexport async function backwards({ manager }: MigrationContext) {\n${m.backwards}\n  return manager;\n}\n`;
  await writeFile(
    path,
    `import type { MigrationContext } from "tide";\n\nexport const ID = ${
      JSON.stringify(m.id)
    };\nexport const DESCRIPTION = ${
      JSON.stringify(m.description ?? "")
    };\n\nexport async function forwards({ manager }: MigrationContext) {\n${m.body}\n  return manager;\n}\n${backwards}`,
  );
  return path;
}

/**
 * Creates a project folder with a `tide.json` and the given apps' migrations.
 *
 * @param apps app name → its migrations and dependencies
 */
export async function makeProject(
  apps: Record<string, { migrations: FixtureMigration[]; dependsOn?: string[] }>,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "tide-project-"));
  const config: Record<string, unknown> = { ...extra, apps: {} };
  for (const [name, app] of Object.entries(apps)) {
    const dir = join(root, name, "migrations");
    await mkdir(dir, { recursive: true });
    for (const m of app.migrations) await writeMigration(dir, m);
    (config.apps as Record<string, unknown>)[name] = {
      migrations: `${name}/migrations`,
      ...(app.dependsOn ? { dependsOn: app.dependsOn } : {}),
    };
  }
  await writeFile(join(root, "tide.json"), JSON.stringify(config, null, 2));
  return root;
}

let template: Promise<string> | undefined;

/**
 * A fresh PGlite data directory for a subprocess, copied from one initialised once per test
 * process (initialising takes seconds; copying does not).
 */
export async function pgliteDataDir(): Promise<string> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "tide-pglite-template-"));
    const { PGlite } = await import("@electric-sql/pglite");
    const db = new PGlite(join(dir, "data"));
    await db.waitReady;
    await db.close();
    return join(dir, "data");
  })();
  const source = await template;
  const target = join(await mkdtemp(join(tmpdir(), "tide-pglite-")), "data");
  await cp(source, target, { recursive: true });
  return target;
}

/**
 * Runs a script with psql (`-v ON_ERROR_STOP=1`, as the README tells users to run a preview),
 * stopping at the first error; fails when psql fails or its stderr matches `forbid`.
 */
export async function runPsqlScript(url: string, script: string, forbid = /ERROR|WARNING/): Promise<void> {
  const file = join(await Deno.makeTempDir(), "preview.sql");
  await Deno.writeTextFile(file, script);
  const out = await new Deno.Command("psql", {
    args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, `psql failed: ${text}\n${script}`);
  assertNotMatch(text, forbid);
}
