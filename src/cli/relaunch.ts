/**
 * Started from source without the binary's V8 flags (`deno run -A main.ts backwards app all`,
 * as scripts and benchmark harnesses write it), a long command runs tide once more, as a child
 * process given those flags ({@linkcode V8_FLAGS}), and waits for it. V8 reads them only at
 * start-up: neither deno.json nor the program can set them later (node:v8's setFlagsFromString
 * leaves the young generation as it was sized), and without them `backwards all` over 500
 * migrations peaks at ~80 MB RSS instead of ~64 (bench/RESULTS.md). The second start-up costs
 * tens of milliseconds, so only a long run pays it: `forwards`, `verify`, and `backwards` of
 * more than {@linkcode SHORT_BACKWARDS} migrations.
 *
 * Never when the flags cannot matter or were chosen: the compiled binary (flags baked in), a
 * command line or DENO_V8_FLAGS that gives V8 flags of its own, `TIDE_RELAUNCH=0`, a child of
 * this relaunch, or permissions that do not allow it (it is checked, never prompted for).
 *
 * @module
 */

import { V8_FLAGS_ARG } from "../v8_flags.ts";
import { parseArgs } from "./args.ts";
import { signalExitCode, STOP_SIGNALS } from "./signals.ts";

/** `backwards` of at most this many migrations runs in the first process: it stays small anyway. */
export const SHORT_BACKWARDS = 100;

/**
 * The child's marker in its environment, holding the first process's pid (and the user's
 * switch: `0` turns relaunching off).
 */
export const RELAUNCH_ENV = "TIDE_RELAUNCH";

/** What the decision reads about the process. */
export interface ProcessFacts {
  /** tide's own arguments. */
  readonly args: readonly string[];
  /** The whole command line (/proc/self/cmdline): the executable, `run`, deno's flags, the script, `args`. */
  readonly cmdline: readonly string[];
  /** A compiled binary. */
  readonly standalone: boolean;
  /** DENO_V8_FLAGS and TIDE_RELAUNCH. */
  readonly env: { readonly v8Flags?: string; readonly relaunch?: string };
}

/** Whether a run of these arguments may be long enough to be worth a second start-up. */
export function isLongRun(args: readonly string[]): boolean {
  let parsed;
  try {
    parsed = parseArgs(args);
  } catch {
    return false; // The first process reports the usage error.
  }
  if (parsed.kind !== "run") return false;
  const name = parsed.command.name;
  if (name === "forwards" || name === "verify") return true;
  if (name !== "backwards") return false;
  const target = parsed.positionals[1] ?? (parsed.options.migrationId as string | undefined) ?? "1";
  return !/^\d+$/.test(target) || Number(target) > SHORT_BACKWARDS;
}

/** The child's arguments (after the executable), or undefined to run in this process. */
export function relaunchArgs(facts: ProcessFacts): string[] | undefined {
  if (facts.standalone || facts.env.relaunch !== undefined || facts.env.v8Flags) return undefined;
  const { cmdline, args } = facts;
  // `deno run FLAGS… SCRIPT ARGS…`, and nothing else: the child repeats it with the flags added.
  if (cmdline[1] !== "run" || cmdline.length < 3 + args.length) return undefined;
  const tail = cmdline.slice(cmdline.length - args.length);
  if (tail.some((a, i) => a !== args[i])) return undefined;
  const denoFlags = cmdline.slice(2, cmdline.length - args.length - 1);
  if (denoFlags.some((f) => f === "--v8-flags" || f.startsWith("--v8-flags="))) return undefined;
  if (!isLongRun(args)) return undefined;
  // Without its code cache: V8 rejects a cache written under other flags, so a child writing
  // one would evict the first process's, and every short command after a long one would
  // compile tide afresh (~60 ms of CPU: `backwards 1` of 500 took 180 ms instead of 114 after
  // a relaunched `forwards`). The child compiles instead (a long run, of seconds).
  return ["run", V8_FLAGS_ARG, "--no-code-cache", ...cmdline.slice(2)];
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

function readFacts(args: readonly string[]): ProcessFacts | undefined {
  if (Deno.build.standalone) return undefined;
  if (
    !granted({ name: "read", path: "/proc/self/cmdline" }) ||
    !granted({ name: "env", variable: RELAUNCH_ENV }) ||
    !granted({ name: "env", variable: "DENO_V8_FLAGS" }) ||
    !granted({ name: "run", command: Deno.execPath() })
  ) return undefined;
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/self/cmdline");
  } catch {
    return undefined; // Not Linux: run in this process.
  }
  const v8Flags = Deno.env.get("DENO_V8_FLAGS");
  const relaunch = Deno.env.get(RELAUNCH_ENV);
  return {
    args,
    cmdline: text.replace(/\0$/, "").split("\0"),
    standalone: false,
    env: { ...(v8Flags === undefined ? {} : { v8Flags }), ...(relaunch === undefined ? {} : { relaunch }) },
  };
}

/**
 * Runs tide as a child with the binary's V8 flags when that is worth it; returns the child's
 * exit code, or undefined when tide should run in this process. `warm`, called once the child
 * is started, loads what a run in this process would load, without running it.
 */
export async function relaunch(
  args: readonly string[],
  warm: () => Promise<unknown> = () => Promise.resolve(),
): Promise<number | undefined> {
  const facts = readFacts(args);
  const childArgs = facts && relaunchArgs(facts);
  if (!childArgs) return undefined;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(Deno.execPath(), {
      args: childArgs,
      env: { [RELAUNCH_ENV]: String(Deno.pid) },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch {
    return undefined; // Could not start it: run here, with V8's defaults.
  }
  // The child writes no code cache (relaunchArgs), so when Deno's cache is cold (first run,
  // another Deno version on the machine wiped it) this process fills it for the short commands
  // that run in one process, as a one-process run did; meanwhile the child starts up.
  const warming = warm().catch(() => {
    // Only a cache left cold: the child reports any real fault.
  });
  // The child gets a terminal's Ctrl-C from the process group itself; a signal sent to this
  // process alone (a supervisor's SIGTERM) is passed on, and this one waits for the child.
  const forward = STOP_SIGNALS.map((signal) => {
    const listener = () => {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
    };
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });
  let status: Deno.CommandStatus;
  try {
    status = await child.status;
  } finally {
    for (const remove of forward) remove();
  }
  // A short child (one pending migration) may end before the cache is written: wait for it,
  // a bounded moment (a compile of tide takes ~60 ms).
  await settled(warming, WARM_WAIT_MS);
  return status.signal === null ? status.code : signalExitCode(status.signal);
}

/** How long an ended child's parent waits at most for {@linkcode relaunch}'s `warm`. */
const WARM_WAIT_MS = 1000;

async function settled(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

/** How often a relaunched child looks whether the process that started it is still there. */
const PARENT_POLL_MS = 200;

function parentPid(): number | undefined {
  try {
    // /proc/self/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
    const stat = Deno.readTextFileSync("/proc/self/stat");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/**
 * In a relaunched child: ends it, as abruptly as a kill, once the first process is gone (a
 * `kill -9` of the pid a supervisor knows), so that tide never runs on unseen with no one
 * waiting for it. Like any killed run, the server rolls back the open transaction and the
 * history stays true. Does nothing in a process that was not relaunched.
 */
export function followParent(): void {
  if (!granted({ name: "env", variable: RELAUNCH_ENV })) return;
  const expected = Number(Deno.env.get(RELAUNCH_ENV) ?? "");
  if (!Number.isInteger(expected) || expected <= 0) return;
  const check = () => {
    const now = parentPid();
    if (now !== undefined && now !== expected) Deno.exit(137);
  };
  check();
  // Unreferenced: the watch never keeps the run alive once its own work is done.
  Deno.unrefTimer(setInterval(check, PARENT_POLL_MS));
}
