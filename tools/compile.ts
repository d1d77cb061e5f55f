// deno-lint-ignore-file no-console -- a build script whose job is to report
/**
 * Builds the single binary.
 *
 * - `deno task compile`: `dist/tide` for this machine.
 * - `deno task compile:all`: `dist/tide-<target>` for the five release targets.
 * - `deno task compile:smoke`: compiles against the toolchain's own deno as the runtime base
 *   (denort cannot be downloaded here), then checks the artefact without running it: the
 *   embedded files, the baked permissions and import map, and the payload size.
 *
 * @module
 */

import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
// V8 flags baked into the binary: the ones `deno task tide` passes too.
import { PERMISSIONS, V8_FLAGS, V8_FLAGS_ARG } from "./permissions.ts";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The release targets. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** Payload budget: what the binary adds to the runtime base. */
export const PAYLOAD_BUDGET = 35 * 1024 * 1024;

/**
 * Files of npm packages tide never loads at run time: source maps, type declarations, and
 * PGlite's optional Postgres extensions (tide loads none). PGlite's pglite.wasm, pglite.data
 * and initdb.wasm stay: the embedded database needs them. `--exclude` takes exact paths, so
 * they are listed by walking node_modules.
 */
export async function unusedNpmFiles(root = join(REPO, "node_modules", ".deno")): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isSymlink) continue;
      if (entry.isDirectory) {
        if (entry.name === "contrib" && dir.endsWith(join("@electric-sql", "pglite", "dist"))) found.push(path);
        else await walk(path);
      } else if (
        /\.(map|d\.ts|d\.cts|d\.mts)$/.test(entry.name) || (/\.tar\.gz$/.test(entry.name) && dir.endsWith("dist"))
      ) {
        found.push(path);
      }
    }
  };
  await walk(root);
  return found.map((p) => p.slice(REPO.length + 1)).sort();
}

/** The `deno compile` arguments for one target. */
export function compileArgs(output: string, excludes: readonly string[], target?: string): string[] {
  return [
    "compile",
    "--no-check",
    "--config",
    join(REPO, "deno.json"),
    ...PERMISSIONS,
    V8_FLAGS_ARG,
    // Started as a Worker (new URL(...)), which `deno compile` does not follow by itself.
    "--include",
    join(REPO, "src", "loader", "worker.ts"),
    ...excludes.flatMap((path) => ["--exclude", path]),
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    join(REPO, "main.ts"),
  ];
}

/** Installs the npm packages from the frozen lock: compiling embeds node_modules, and a fresh
 * clone has none until something installs it. */
async function install(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["install"],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(`deno install failed:\n${new TextDecoder().decode(out.stderr)}`);
}

async function compile(output: string, target?: string, env: Record<string, string> = {}): Promise<string> {
  await install();
  const out = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(output, await unusedNpmFiles(), target),
    cwd: REPO,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`deno compile failed for ${target ?? "this machine"}:\n${text}`);
  return text;
}

/** Reads the metadata deno compile embeds (a JSON document after the `d3n0l4nd` marker). */
export function embeddedMetadata(binary: Uint8Array): Record<string, unknown> {
  const marker = new TextEncoder().encode("d3n0l4ndd3n0l4nd");
  let at = -1;
  outer: for (let i = binary.length - marker.length; i >= 0; i--) {
    for (let j = 0; j < marker.length; j++) if (binary[i + j] !== marker[j]) continue outer;
    at = i;
    break;
  }
  if (at === -1) throw new Error("No deno compile metadata found in the artefact");
  const length = Number(new DataView(binary.buffer, binary.byteOffset + at + 16, 8).getBigUint64(0, true));
  const json = new TextDecoder().decode(binary.subarray(at + 24, at + 24 + length));
  return JSON.parse(json);
}

async function smoke(): Promise<void> {
  const base = Deno.execPath();
  const output = join(await mkdtemp(join(tmpdir(), "tide-compile-")), "tide");
  const started = performance.now();
  const log = await compile(output, undefined, { DENORT_BIN: base });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
    if (!ok) failures.push(what);
  };

  // The embedded file list, as deno compile prints it.
  const tree = log.slice(log.indexOf("Embedded Files"));
  // Top-level entries of the tree start a line with ├ or └.
  const top = (name: string) => new RegExp(`^[├└]─[─┬] ${name}\\b`, "m").test(tree);
  check(top("main\\.ts") && top("src"), "main.ts and src/ are embedded");
  check(top("node_modules"), "npm packages are embedded");
  for (const folder of ["tests", "tools", "bench", "examples", "dist"]) {
    check(!top(folder), `${folder}/ is not embedded`);
  }

  const binary = await readFile(output);
  const payloadText = new TextDecoder("latin1").decode(binary.subarray((await stat(base)).size));
  check(
    ["pglite.wasm", "pglite.data", "initdb.wasm"].every((f) => payloadText.includes(f)),
    "PGlite's pglite.wasm, pglite.data and initdb.wasm are in the embedded file system",
  );
  // The Worker that records long plans (src/loader/workers.ts); without it tide imports them all.
  check(
    payloadText.includes("scope.onmessage") && payloadText.includes("src/loader/worker.ts"),
    "src/loader/worker.ts (the Worker of long forwards plans) is embedded",
  );
  const metadata = embeddedMetadata(binary);
  const permissions = metadata.permissions as Record<string, unknown>;
  check(
    ["allow_read", "allow_write", "allow_net", "allow_env"].every((k) =>
      Array.isArray(permissions[k]) && (permissions[k] as unknown[]).length === 0
    ),
    "baked: --allow-read --allow-write --allow-net --allow-env (unscoped: the project is only known at run time)",
  );
  check(
    JSON.stringify(permissions.allow_sys) === JSON.stringify(["userInfo", "uid", "gid", "hostname"]),
    "baked: --allow-sys=userInfo,uid,gid,hostname only (hostname: the table lock names its holder's host)",
  );
  check(permissions.allow_run === null && permissions.allow_ffi === null, "no --allow-run, no --allow-ffi");
  const resolver = metadata.workspace_resolver as { import_map?: { json?: string } };
  const importMap = JSON.parse(resolver.import_map?.json ?? "{}") as { imports?: Record<string, string> };
  check(
    importMap.imports?.tide === "./src/mod.ts",
    'embedded import map resolves "tide" → ./src/mod.ts for migration files',
  );
  check(metadata.entrypoint_key === "main.ts", "entry point is main.ts");
  check(
    // deno compile puts its own defaults first (argv[0] placeholder, stack size, ...).
    JSON.stringify(((metadata.v8_flags ?? []) as string[]).slice(-V8_FLAGS.length)) === JSON.stringify(V8_FLAGS),
    `baked V8 flags: ${V8_FLAGS.join(" ")} (peak RSS; bench/RESULTS.md)`,
  );

  const payload = binary.length - (await stat(base)).size;
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  check(
    payload <= PAYLOAD_BUDGET,
    `payload ${mb(payload)} ≤ ${mb(PAYLOAD_BUDGET)} (artefact ${mb(binary.length)} − runtime base ${
      mb(binary.length - payload)
    })`,
  );
  const files = /Files: ([\d.]+\s*\w+)/.exec(log)?.[1];
  console.log(
    `embedded files: ${
      files ?? "?"
    }; compiled in ${seconds} s; artefact ${output} (plain deno inside: never run it as tide)`,
  );
  if (failures.length) {
    console.error(`compile:smoke failed: ${failures.length} check(s)`);
    Deno.exit(1);
  }
}

const mode = Deno.args[0] ?? "host";
if (mode === "smoke") {
  await smoke();
} else if (mode === "all") {
  for (const target of TARGETS) {
    const output = join(REPO, "dist", `tide-${target}${target.includes("windows") ? ".exe" : ""}`);
    await compile(output, target);
    console.log(`${output}: ${((await stat(output)).size / 1024 / 1024).toFixed(1)} MB`);
  }
} else {
  const output = join(REPO, "dist", Deno.build.os === "windows" ? "tide.exe" : "tide");
  console.log((await compile(output)).trim());
  console.log(`${output}: ${((await stat(output)).size / 1024 / 1024).toFixed(1)} MB`);
}
