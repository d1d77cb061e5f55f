/**
 * The V8 flags of the tide binary (baked in by `deno compile`), passed by `deno task tide`, and
 * applied by tide itself when started from source without them (src/cli/relaunch.ts); each
 * bounds memory that V8 would otherwise take on a machine with plenty of it (bench/RESULTS.md,
 * issues 14 and 16):
 * - `--max-semi-space-size=1`: the young generation capped at 1 MB semi-spaces; V8 grows it to
 *   8-16 MB under a long run's survivors (about a seventh of `backwards all`'s peak RSS).
 * - `--max-opt=1`: no optimizing tiers (Maglev, Turbofan) above the baseline compiler: their code
 *   pages and compile zones cost 5-7 MB of RSS, where tide's client work is a few hundred ms
 *   waiting on the server (backwards all N=500: same wall time, CPU within noise; forwards all
 *   N=3,000, bound by imports: 10-18% slower).
 * - `--heap-growing-percent=20`: the old generation may grow 20% past what survived the last
 *   full GC, where V8's default on a large machine is up to 4x: a long run's garbage was collected
 *   only at 70 MB of heap (backwards all N=3,000: 96 MB peak RSS instead of 75).
 *
 * @module
 */

/** V8 flags of the tide binary. */
export const V8_FLAGS: readonly string[] = ["--max-semi-space-size=1", "--max-opt=1", "--heap-growing-percent=20"];

/** The `deno run` / `deno compile` argument that passes {@linkcode V8_FLAGS}. */
export const V8_FLAGS_ARG = `--v8-flags=${V8_FLAGS.join(",")}`;
