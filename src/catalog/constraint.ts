/**
 * Table constraints (primary key, unique, check, exclusion, foreign key) with the definition
 * `pg_get_constraintdef` prints (which ends in `NOT VALID` for one never validated), validity,
 * inheritance and the tablespace of the index behind it. PG 18's NOT NULL constraints live in
 * column.ts (they are declared with their column).
 *
 * @module
 */

import { quoteIdent, quoteLiteral } from "../migration/quote.ts";
import { optionList } from "./column.ts";
import { at, type CatalogContext, jsonList, Phase, type Phased, qualified } from "./context.ts";

/** A named constraint. Fields after `comment` were added in tide 0.2. */
export interface ConstraintCapture {
  /** Quoted, schema-qualified table the constraint is on. */
  readonly table: string;
  readonly name: string;
  readonly definition: string;
  readonly comment: string | null;
  /** `p`, `u`, `c`, `f`, `x`. */
  readonly type?: string;
  readonly valid?: boolean;
  /** False when only inherited from a parent table. */
  readonly local?: boolean;
  /** True for a copy Postgres makes from a partitioned parent's constraint (conparentid). */
  readonly cloned?: boolean;
  /** Tablespace of the constraint's index, when not the default. */
  readonly tablespace?: string | null;
  /** The partitioned parent's index this one's index is attached to. */
  readonly parentIndex?: string | null;
  /** Storage parameters of the constraint's index (`pg_get_constraintdef` leaves them out; pg_dump adds them). */
  readonly indexOptions?: readonly string[] | null;
  /** connoinherit: false for a key a partition got from its parent. */
  readonly noInherit?: boolean;
}

/** The json of the pg_constraint row `k`. */
export function constraintJson(_ctx: CatalogContext): string {
  return `json_build_object('table', ${qualified("r")}, 'name', k.conname, 'definition', pg_get_constraintdef(k.oid),
    'comment', obj_description(k.oid, 'pg_constraint'), 'type', k.contype::text, 'valid', k.convalidated,
    'local', k.conislocal, 'cloned', k.conparentid <> 0, 'noInherit', k.connoinherit,
    'indexOptions', (select reloptions from pg_class where oid = k.conindid and k.conindid <> 0),
    'tablespace', (select spcname from pg_tablespace where oid = (select reltablespace from pg_class where oid = k.conindid)),
    'parentIndex', (select ${qualified("pi")} from pg_inherits h join pg_class pi on pi.oid = h.inhparent
                     where h.inhrelid = k.conindid and k.conindid <> 0))`;
}

/** Constraints on the table `c`, optionally narrowed by `where` (over `k`). Keys last. */
export function constraintsSql(ctx: CatalogContext, where = "true"): string {
  return jsonList(
    constraintJson(ctx),
    `from pg_constraint k join pg_class r on r.oid = k.conrelid
      where k.conrelid = c.oid and k.contype in ('p', 'u', 'c', 'f', 'x') and ${where}`,
    "k.contype = 'f', k.conname",
  );
}

/** Foreign keys of other tables pointing at the table `c` (not the copies on partitions). */
export function inboundSql(ctx: CatalogContext, where = "true"): string {
  return jsonList(
    constraintJson(ctx),
    `from pg_constraint k join pg_class r on r.oid = k.conrelid
      where k.contype = 'f' and k.confrelid = c.oid and k.conrelid <> c.oid and k.conparentid = 0 and ${where}`,
    "1",
  );
}

/**
 * Whether the constraint can be declared inside CREATE TABLE. Only a validated primary key or
 * CHECK: inside CREATE TABLE, `NOT VALID` is ignored (it would come back validated) and a
 * UNIQUE identical to the primary key is discarded; foreign keys wait for what they reference.
 */
export function isInline(c: ConstraintCapture): boolean {
  if (c.valid === false || /\bNOT VALID$/.test(c.definition)) return false;
  const type = c.type ?? guessType(c.definition);
  return type === "p" || type === "c";
}

/** Older captures have no type: the definition says it. */
function guessType(definition: string): string {
  if (definition.startsWith("PRIMARY KEY")) return "p";
  if (definition.startsWith("CHECK")) return "c";
  if (definition.startsWith("FOREIGN KEY")) return "f";
  if (definition.startsWith("UNIQUE")) return "u";
  return "x";
}

/**
 * The definition with its index's storage parameters, where pg_dump puts them: before the
 * constraint attributes (DEFERRABLE …) or an exclusion constraint's WHERE.
 */
export function fullDefinition(c: ConstraintCapture): string {
  if (!c.indexOptions?.length || / WITH \(/.test(c.definition)) return c.definition;
  const at = c.definition.search(/ (NOT DEFERRABLE|DEFERRABLE|INITIALLY|WHERE \()/);
  const options = ` WITH (${optionList(c.indexOptions)})`;
  return at < 0 ? c.definition + options : c.definition.slice(0, at) + options + c.definition.slice(at);
}

/** `CONSTRAINT name definition`, as CREATE TABLE takes it. */
export function inlineConstraint(c: ConstraintCapture): string {
  return `CONSTRAINT ${quoteIdent(c.name)} ${fullDefinition(c)}`;
}

/** ALTER TABLE … ADD CONSTRAINT; `only` for an index-backed one on a partitioned table (pg_dump's way). */
export function addConstraint(c: ConstraintCapture, only = false): string {
  return `ALTER TABLE ${only ? "ONLY " : ""}${c.table} ADD CONSTRAINT ${quoteIdent(c.name)} ${fullDefinition(c)}`;
}

/** ALTER TABLE … DROP CONSTRAINT. */
export function dropConstraint(c: ConstraintCapture): string {
  return `ALTER TABLE ${c.table} DROP CONSTRAINT ${quoteIdent(c.name)}`;
}

/** Tablespace of the constraint's index and the constraint's comment. */
export function constraintExtras(c: ConstraintCapture): Phased[] {
  const out: Phased[] = [];
  if (c.tablespace) {
    const schema = c.table.slice(0, c.table.length - bareLength(c.table));
    out.push(
      ...at(Phase.settings, `ALTER INDEX ${schema}${quoteIdent(c.name)} SET TABLESPACE ${quoteIdent(c.tablespace)}`),
    );
  }
  if (c.comment !== null) {
    out.push(
      ...at(Phase.comments, `COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON ${c.table} IS ${quoteLiteral(c.comment)}`),
    );
  }
  return out;
}

/** Length of the bare table name at the end of a qualified one (`"s"."t"` → 3). */
function bareLength(name: string): number {
  const m = /(?:"(?:[^"]|"")*"|[^".]+)$/.exec(name);
  return m ? m[0].length : name.length;
}
