/**
 * Grants (ACLs) of tables, columns and sequences. Captured as the catalog's `aclitem` arrays
 * with the owner's default (`acldefault`), re-created the way pg_dump does: revoke what the
 * default has and the ACL lacks, then grant what the ACL has beyond the default, in array
 * order (so the re-created array has the same order).
 *
 * @module
 */

import { quoteIdent } from "../migration/quote.ts";

/** One parsed `aclitem`: `grantee=privs/grantor`, grantee "" for PUBLIC. */
export interface AclItem {
  readonly grantee: string;
  /** Privilege letters, each with whether it carries the grant option. */
  readonly privileges: readonly { readonly letter: string; readonly grantable: boolean }[];
  readonly grantor: string;
}

const NAMES: Record<string, string> = {
  r: "SELECT",
  a: "INSERT",
  w: "UPDATE",
  d: "DELETE",
  D: "TRUNCATE",
  x: "REFERENCES",
  t: "TRIGGER",
  m: "MAINTAIN",
  U: "USAGE",
  C: "CREATE",
  c: "CONNECT",
  T: "TEMPORARY",
  X: "EXECUTE",
  s: "SET",
  A: "ALTER SYSTEM",
};

/** Reads a role name as `aclitem` prints it (double-quoted when needed), from `at`. */
function readName(text: string, at: number): [string, number] {
  if (text[at] !== '"') {
    let end = at;
    while (end < text.length && text[end] !== "=" && text[end] !== "/") end++;
    return [text.slice(at, end), end];
  }
  let name = "";
  let i = at + 1;
  while (i < text.length) {
    if (text[i] === '"') {
      if (text[i + 1] === '"') {
        name += '"';
        i += 2;
        continue;
      }
      return [name, i + 1];
    }
    name += text[i];
    i++;
  }
  return [name, i];
}

/** Parses one `aclitem` text, e.g. `alice=arw/owner`, `"my role"=r/owner`, `=r/owner` (PUBLIC); `*` marks a grant option. */
export function parseAclItem(text: string): AclItem {
  const [grantee, eq] = readName(text, 0);
  let i = eq + 1;
  const privileges: { letter: string; grantable: boolean }[] = [];
  while (i < text.length && text[i] !== "/") {
    const letter = text[i]!;
    const grantable = text[i + 1] === "*";
    privileges.push({ letter, grantable });
    i += grantable ? 2 : 1;
  }
  const [grantor] = readName(text, i + 1);
  return { grantee, privileges, grantor };
}

function role(name: string): string {
  return name === "" ? "PUBLIC" : quoteIdent(name);
}

/** What a GRANT names: `TABLE public.t`, `SEQUENCE public.s`, or a table's column. */
export interface GrantTarget {
  /** `TABLE` or `SEQUENCE`. */
  readonly objectType: "TABLE" | "SEQUENCE";
  /** Quoted, schema-qualified name. */
  readonly name: string;
  /** Quoted column name, for column privileges. */
  readonly column?: string;
}

/**
 * The statements that turn a fresh object's ACL (null: the owner's default) into `acl`.
 *
 * @param acl The captured `aclitem[]` as text, or null (never granted: nothing to do).
 * @param defaults `acldefault()` for the owner as text; empty for columns.
 */
export function renderGrants(
  target: GrantTarget,
  acl: readonly string[] | null,
  defaults: readonly string[],
): string[] {
  if (acl === null) return [];
  const on = `${target.objectType} ${target.name}`;
  const cols = target.column === undefined ? "" : ` (${target.column})`;
  const have = new Set(acl);
  const statements: string[] = [];
  for (const d of defaults) {
    if (!have.has(d)) statements.push(`REVOKE ALL${cols} ON ${on} FROM ${role(parseAclItem(d).grantee)}`);
  }
  const base = new Set(defaults);
  for (const text of acl) {
    if (base.has(text)) continue;
    const item = parseAclItem(text);
    const plain = item.privileges.filter((p) => !p.grantable).map((p) => NAMES[p.letter] ?? p.letter);
    const grantable = item.privileges.filter((p) => p.grantable).map((p) => NAMES[p.letter] ?? p.letter);
    const list = (names: string[]) => names.map((n) => `${n}${cols}`).join(", ");
    if (plain.length) statements.push(`GRANT ${list(plain)} ON ${on} TO ${role(item.grantee)}`);
    if (grantable.length) {
      statements.push(`GRANT ${list(grantable)} ON ${on} TO ${role(item.grantee)} WITH GRANT OPTION`);
    }
  }
  return statements;
}

/** Grants whose grantor is not the owner: re-granted by whoever runs the reversal. */
export function foreignGrantors(acl: readonly string[] | null, owner: string | undefined): string[] {
  if (acl === null || owner === undefined) return [];
  return acl.map(parseAclItem).filter((i) => i.grantor !== owner && i.grantor !== "").map((i) =>
    `grantor: the privileges ${
      i.grantee === "" ? "PUBLIC" : i.grantee
    } got from ${i.grantor} come back granted by the owner`
  );
}
