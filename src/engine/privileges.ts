/**
 * Missing privileges on tide's own tables, explained: the exact GRANT (or other statement) that
 * fixes them, for the role tide connects as. Managed services often create the history table
 * with one role and run migrations with another.
 *
 * @module
 */

import { TideError } from "../errors.ts";
import { quoteIdent, splitName } from "../migration/quote.ts";
import type { Session } from "./session.ts";
import { TableLock } from "./table_lock.ts";

/** An error with the hint appended (same exit code), or the error itself when none applies. */
export async function withPrivilegeHint(session: Session, error: unknown): Promise<unknown> {
  const message = error instanceof Error ? error.message : String(error);
  const hint = await privilegeHint(session, message);
  if (hint === undefined) return error;
  const code = error instanceof TideError ? error.exitCode : 1;
  return new TideError(`${message}. ${hint}`, code, { cause: error });
}

/**
 * The fix for a `permission denied` (SQLSTATE 42501) that names tide's history table, its
 * sequence, its lock table or their schema; undefined for anything else (a migration's own
 * objects are the migration author's business).
 */
export async function privilegeHint(session: Session, message: string): Promise<string | undefined> {
  if (session.db.kind !== "postgres" || !/42501/.test(message)) return undefined;
  const config = session.config.migrationTable;
  const lock = new TableLock(config, session.history.lockKey);
  const { schema = "public", name } = splitName(config);
  const bare = (s: string) => s.replace(/^"|"$/g, "").replace(/^.*\./, "");
  const [facts] = await session.db.query<{ role: string; seq: string | null; lock: boolean }>(
    `select current_user as role, to_regclass($2) is not null as lock,
            case when to_regclass($1) is not null then pg_get_serial_sequence($1, 'id') end as seq`,
    [session.history.table, lock.table],
  ).catch(() => [{ role: "<role>", seq: null, lock: false }]);
  const role = quoteIdent(facts?.role ?? "<role>");
  const seq = facts?.seq ?? `${quoteIdent(schema)}.${quoteIdent(`${name}_id_seq`)}`;
  const grants = [
    `GRANT SELECT, INSERT, DELETE ON ${session.history.table} TO ${role};`,
    `GRANT USAGE, SELECT ON SEQUENCE ${seq} TO ${role};`,
    // The lock table exists once a run used the table lock; a GRANT on a missing table would fail.
    ...(facts?.lock ? [`GRANT SELECT, INSERT, UPDATE, DELETE ON ${lock.table} TO ${role};`] : []),
  ];
  const ours = new Set([name, `${name}_id_seq`, bare(seq), bare(lock.name)]);
  const denied = /permission denied for (?:table|sequence|relation) ("?[^\s"]+"?)/.exec(message);
  if (denied && ours.has(bare(denied[1]!))) {
    return `tide's history${facts?.lock ? " and lock tables belong" : " table belongs"} to another role: ` +
      `have the owner (or a superuser) run: ${grants.join(" ")}` +
      (facts?.lock
        ? ""
        : ` (behind a transaction pooler tide also creates ${lock.table}, which needs CREATE on the schema)`);
  }
  const owner = /must be owner of (?:table|relation) ("?[^\s"]+"?)/.exec(message);
  if (owner && bare(owner[1]!) === name) {
    return `tide adds its columns (description, checksum, reversal) to an existing history table once, which needs its ` +
      `owner: have the owner run: ${
        session.history.ensureStatements()[1]
      }; (or ALTER TABLE ${session.history.table} OWNER TO ${role};)`;
  }
  const schemaDenied = /permission denied for schema ("?[^\s"]+"?)/.exec(message);
  if (schemaDenied && bare(schemaDenied[1]!) === schema) {
    return `tide creates its history table ${session.history.table} and lock table ${lock.table} in schema ${schema}: ` +
      `GRANT CREATE ON SCHEMA ${quoteIdent(schema)} TO ${role}; or have its owner create them: ${
        session.history.ensureStatements().join("; ")
      }; ${lock.ensureStatement()}; and then run: ${grants.join(" ")}`;
  }
  return undefined;
}
