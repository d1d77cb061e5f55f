/**
 * Which migrations a command is about: all, a count, or up to an ID.
 *
 * @module
 */

/** A command's target, parsed from the user's `MIGRATION_ID` text. */
export type Target =
  | { readonly kind: "all" }
  | { readonly kind: "count"; readonly count: number }
  | { readonly kind: "id"; readonly id: string };

/**
 * Parses `all`, a positive number, or a migration ID. IDs are never all digits, so a number
 * is always a count (SPEC 1.3).
 *
 * @throws {RangeError} for `0` or an empty string.
 */
export function parseTarget(text: string): Target {
  const value = text.trim();
  if (value === "") throw new RangeError("The migration ID is empty");
  if (value === "all") return { kind: "all" };
  if (/^\d+$/.test(value)) {
    const count = Number(value);
    if (count < 1) throw new RangeError(`Cannot use "${value}": give 1 or more, "all", or a migration ID`);
    return { kind: "count", count };
  }
  return { kind: "id", id: value };
}

/** The target as the user would write it. */
export function formatTarget(target: Target): string {
  return target.kind === "all" ? "all" : target.kind === "count" ? String(target.count) : target.id;
}
