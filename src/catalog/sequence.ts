/**
 * Sequences owned by a column (serial or identity): options, persistence, grants and comment.
 * pg_dump emits them with the table; Postgres drops them with it.
 *
 * @module
 */

import { quoteIdent, quoteLiteral } from "../migration/quote.ts";
import { at, type CatalogContext, jsonList, Phase, type Phased, qualified } from "./context.ts";
import { renderGrants } from "./grant.ts";

/** A sequence owned by a column (serial or identity). */
export interface SequenceCapture {
  /** Quoted, schema-qualified name. */
  readonly name: string;
  readonly column: string;
  readonly type: string;
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache: string;
  readonly cycle: boolean;
  /** `a` serial (owned), `i` identity. */
  readonly dependency: string;
  /** Since tide 0.2: `u` for an UNLOGGED sequence (PG 15+). */
  readonly persistence?: string;
  readonly acl?: readonly string[] | null;
  readonly aclDefault?: readonly string[];
  readonly comment?: string | null;
}

/**
 * The sequences owned by columns of the pg_class row `c` (json), optionally only the one of
 * column number `attnum` (a SQL expression).
 */
export function sequencesSql(_ctx: CatalogContext, attnum?: string): string {
  return jsonList(
    `json_build_object('name', ${qualified("s")}, 'column', a.attname, 'type', format_type(q.seqtypid, null),
      'start', q.seqstart::text, 'increment', q.seqincrement::text, 'min', q.seqmin::text, 'max', q.seqmax::text,
      'cache', q.seqcache::text, 'cycle', q.seqcycle, 'dependency', d.deptype::text,
      'persistence', s.relpersistence::text, 'acl', s.relacl::text[], 'aclDefault', acldefault('s', s.relowner)::text[],
      'comment', obj_description(s.oid, 'pg_class'))`,
    `from pg_depend d
      join pg_class s on s.oid = d.objid and s.relkind = 'S'
      join pg_sequence q on q.seqrelid = s.oid
      join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
     where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
       and d.deptype in ('a', 'i') and d.refobjid = c.oid${attnum ? ` and a.attnum = ${attnum}` : ""}`,
    "a.attnum",
  );
}

/** `START WITH … NO CYCLE`, as CREATE SEQUENCE and identity options take it. */
export function sequenceOptions(s: SequenceCapture): string {
  return `START WITH ${s.start} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} ` +
    `CACHE ${s.cache} ${s.cycle ? "CYCLE" : "NO CYCLE"}`;
}

/** Sequences a serial column owns must exist before the column's default names them. */
export function createOwnedSequences(sequences: readonly SequenceCapture[]): string[] {
  return sequences.filter((s) => s.dependency === "a").map((s) =>
    `CREATE ${s.persistence === "u" ? "UNLOGGED " : ""}SEQUENCE ${s.name} AS ${s.type} ${sequenceOptions(s)}`
  );
}

/** `OWNED BY`, tying serial sequences to their column (so that they follow its owner). */
export function ownSequences(table: string, sequences: readonly SequenceCapture[]): string[] {
  return sequences.filter((s) => s.dependency === "a").map((s) =>
    `ALTER SEQUENCE ${s.name} OWNED BY ${table}.${quoteIdent(s.column)}`
  );
}

/** Everything of the sequences after their creation: ownership link, grants, comments. */
export function sequenceExtras(table: string, sequences: readonly SequenceCapture[]): Phased[] {
  return [
    ...at(Phase.ownedBy, ...ownSequences(table, sequences)),
    ...sequences.flatMap((s) =>
      at(Phase.grants, ...renderGrants({ objectType: "SEQUENCE", name: s.name }, s.acl ?? null, s.aclDefault ?? []))
    ),
    ...sequences.flatMap((s) =>
      s.comment ? at(Phase.comments, `COMMENT ON SEQUENCE ${s.name} IS ${quoteLiteral(s.comment)}`) : []
    ),
  ];
}
