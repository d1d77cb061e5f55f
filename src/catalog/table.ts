/**
 * Tables: what re-creating a dropped table needs, read in one query per table (plus what
 * parts read themselves), and the statements that re-create it in dependency order — the
 * table's own attributes here (persistence, access method, tablespace, storage parameters
 * with toast.*, partition key and bound, INHERITS, owner, grants, row level security flags,
 * replica identity, CLUSTER ON, comment), the objects living with it in their kind's module.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import { quoteIdent, quoteLiteral } from "../migration/quote.ts";
import { type ColumnCapture, columnDefinition, columnExtras, columnJson, COLUMNS_FROM, optionList } from "./column.ts";
import {
  at,
  bareName,
  type CatalogContext,
  type NotRestored,
  ordered,
  Phase,
  type Phased,
  qualified,
} from "./context.ts";
import {
  addConstraint,
  type ConstraintCapture,
  constraintExtras,
  constraintsSql,
  inboundSql,
  inlineConstraint,
  isInline,
} from "./constraint.ts";
import { foreignGrantors, renderGrants } from "./grant.ts";
import { createIndex, type IndexCapture, indexesSql, indexExtras } from "./index.ts";
import { tableParts } from "./registry.ts";
import { createOwnedSequences, type SequenceCapture, sequenceExtras, sequencesSql } from "./sequence.ts";
import type { RetainedTable, RetentionRefusal } from "../retention/model.ts";

/** The shape version of captures written by this tide; absent in captures of tide 0.1. */
export const CAPTURE_FORMAT = 2;

/** What re-creating a dropped table needs. Fields after `comment` were added in format 2. */
export interface TableCapture {
  readonly kind: "table";
  /** Quoted, schema-qualified name. */
  readonly table: string;
  readonly columns: readonly ColumnCapture[];
  /** Constraints on the table itself: primary key, unique, check, exclusion, foreign keys. */
  readonly constraints: readonly ConstraintCapture[];
  /** Indexes that do not back a constraint. */
  readonly indexes: readonly IndexCapture[];
  /** Foreign keys of other tables that point at this one (dropped with it, re-added after). */
  readonly inbound: readonly ConstraintCapture[];
  readonly sequences: readonly SequenceCapture[];
  readonly comment: string | null;
  /** {@linkcode CAPTURE_FORMAT}; absent in captures of tide 0.1 (fewer attributes). */
  readonly format?: number;
  /** server_version_num of the server it was read from. */
  readonly server?: number;
  /** `r` table, `p` partitioned table. */
  readonly relkind?: string;
  readonly owner?: string;
  readonly acl?: readonly string[] | null;
  readonly aclDefault?: readonly string[];
  /** `p` permanent, `u` unlogged. */
  readonly persistence?: string;
  readonly tablespace?: string | null;
  /** Table access method when not heap. */
  readonly accessMethod?: string | null;
  readonly reloptions?: readonly string[] | null;
  readonly toastOptions?: readonly string[] | null;
  /** `pg_get_partkeydef` of a partitioned table, e.g. `RANGE (logdate)`. */
  readonly partitionKey?: string | null;
  /** For a partition: its parent and bound (`FOR VALUES …` or `DEFAULT`). */
  readonly partitionOf?: { readonly parent: string; readonly bound: string } | null;
  /** INHERITS parents, quoted and qualified, in order. */
  readonly inherits?: readonly string[];
  readonly rowSecurity?: boolean;
  readonly forceRowSecurity?: boolean;
  /** relreplident: `d` default, `n` nothing, `f` full, `i` index. */
  readonly replicaIdentity?: string;
  readonly replicaIndex?: string | null;
  /** The CLUSTER ON index, quoted and qualified. */
  readonly clusterOn?: string | null;
  /** Objects captured by table parts (triggers, policies, partitions, …), by part key. */
  readonly parts?: Readonly<Record<string, unknown>>;
  /** retention (issue 15): where the table is held, when it was retained rather than dropped. */
  readonly retained?: RetainedTable | RetentionRefusal;
}

function tableSql(ctx: CatalogContext): string {
  const parts = tableParts().filter((p) => p.select);
  const partsJson = parts.length
    ? `json_build_object(${parts.map((p) => `'${p.key}', ${p.select!(ctx)}`).join(", ")})`
    : "'{}'::json";
  return `select json_build_object(
      'kind', 'table', 'format', ${CAPTURE_FORMAT}, 'server', ${ctx.version},
      'table', ${qualified("c")}, 'relkind', c.relkind::text,
      'owner', pg_get_userbyid(c.relowner), 'acl', c.relacl::text[], 'aclDefault', acldefault('r', c.relowner)::text[],
      'persistence', c.relpersistence::text,
      'tablespace', (select spcname from pg_tablespace where oid = c.reltablespace),
      'accessMethod', (select amname from pg_am where oid = c.relam and amname <> 'heap'),
      'reloptions', c.reloptions,
      'toastOptions', (select reloptions from pg_class where oid = c.reltoastrelid),
      'partitionKey', case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end,
      'partitionOf', case when c.relispartition then json_build_object(
          'parent', (select ${
    qualified("p")
  } from pg_inherits h join pg_class p on p.oid = h.inhparent where h.inhrelid = c.oid),
          'bound', pg_get_expr(c.relpartbound, c.oid)) end,
      'inherits', case when c.relispartition then '[]'::json else ${`coalesce((select json_agg(${
    qualified("p")
  } order by h.inhseqno) from pg_inherits h join pg_class p on p.oid = h.inhparent where h.inhrelid = c.oid), '[]'::json)`} end,
      'rowSecurity', c.relrowsecurity, 'forceRowSecurity', c.relforcerowsecurity,
      'replicaIdentity', c.relreplident::text,
      'replicaIndex', (select ${
    qualified("ic")
  } from pg_index i join pg_class ic on ic.oid = i.indexrelid where i.indrelid = c.oid and i.indisreplident),
      'clusterOn', (select ${
    qualified("ic")
  } from pg_index i join pg_class ic on ic.oid = i.indexrelid where i.indrelid = c.oid and i.indisclustered),
      'comment', obj_description(c.oid, 'pg_class'),
      'columns', coalesce((select json_agg(${columnJson(ctx)} order by a.attnum) ${COLUMNS_FROM}), '[]'::json),
      'constraints', ${constraintsSql(ctx)},
      'indexes', ${indexesSql(ctx)},
      'inbound', ${inboundSql(ctx)},
      'sequences', ${sequencesSql(ctx)},
      'parts', ${partsJson}) as capture
    from pg_class c where c.oid = to_regclass($1) and c.relkind in ('r', 'p')`;
}

/** Captures a table by name, with everything Postgres drops along with it. */
export async function captureTable(
  db: Queryable,
  ctx: CatalogContext,
  table: string,
): Promise<TableCapture | undefined> {
  const [row] = await db.query<{ capture: TableCapture }>(tableSql(ctx), [table]);
  if (!row?.capture) return undefined;
  const capture = row.capture;
  const parts: Record<string, unknown> = { ...(capture.parts ?? {}) };
  for (const part of tableParts()) {
    if (!part.capture) continue;
    const value = await part.capture(db, ctx, capture.table, captureTable);
    if (value !== undefined) parts[part.key] = value;
  }
  return { ...capture, parts };
}

/** Whether the table is re-created as a partition (all columns, inherited checks too). */
function isPartition(t: TableCapture): boolean {
  return t.partitionOf !== undefined && t.partitionOf !== null;
}

/**
 * Whether ATTACH PARTITION makes this key itself, exactly: one the partition got from its
 * parent (connoinherit false, as only such keys have), under the name Postgres chooses for it.
 * Created beforehand it would stay connoinherit, unlike the original.
 */
function attachMakes(t: TableCapture, c: ConstraintCapture): boolean {
  if (!c.cloned || c.noInherit !== false || (c.type !== "p" && c.type !== "u")) return false;
  const table = unquote(bareName(t.table));
  if (c.type === "p") return c.name === `${table}_pkey`.slice(0, 63);
  const m = /^UNIQUE \(([^()]*)\)$/.exec(c.definition);
  if (!m) return false;
  const columns = m[1]!.split(", ").map(unquote);
  return c.name === `${table}_${columns.join("_")}_key`.slice(0, 63);
}

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name;
}

/** The table's own re-creation statements plus its parts', in phases. */
export function phasedTable(t: TableCapture): Phased[] {
  const partition = isPartition(t);
  const inherits = !partition && (t.inherits?.length ?? 0) > 0;
  // INHERITS brings inherited columns and constraints along; a partition, re-created on its
  // own before ATTACH PARTITION, must have them all (ATTACH checks it).
  const columns = t.columns.filter((c) => !inherits || c.local !== false);
  const constraints = t.constraints.filter((c) =>
    !(c.type === "f" && c.cloned) && (partition || !inherits || c.local !== false) && !(partition && attachMakes(t, c))
  );
  const inline = constraints.filter(isInline);
  const after = constraints.filter((c) => !isInline(c));
  const identityOf = (c: ColumnCapture) => t.sequences.some((s) => s.column === c.name && s.dependency === "i");
  const elements = [
    ...columns.map((c) => columnDefinition(c, t.sequences, { noIdentity: partition && !identityOf(c), inherits })),
    ...inline.map(inlineConstraint),
  ];
  let create = `CREATE ${t.persistence === "u" ? "UNLOGGED " : ""}TABLE ${t.table} (${elements.join(", ")})`;
  if (inherits) create += ` INHERITS (${t.inherits!.join(", ")})`;
  if (t.partitionKey) create += ` PARTITION BY ${t.partitionKey}`;
  if (t.accessMethod) create += ` USING ${quoteIdent(t.accessMethod)}`;
  const options = [
    ...(t.reloptions?.length ? [optionList(t.reloptions)] : []),
    ...(t.toastOptions?.length ? [optionList(t.toastOptions, "toast.")] : []),
  ];
  if (options.length) create += ` WITH (${options.join(", ")})`;
  if (t.tablespace) create += ` TABLESPACE ${quoteIdent(t.tablespace)}`;

  const out: Phased[] = [
    ...at(Phase.sequences, ...createOwnedSequences(t.sequences)),
    ...at(Phase.create, create),
    ...(t.comment !== null ? at(Phase.comments, `COMMENT ON TABLE ${t.table} IS ${quoteLiteral(t.comment)}`) : []),
    ...t.columns.flatMap((c) => columnExtras(t.table, c)),
    ...at(Phase.constraints, ...after.map((c) => addConstraint(c))),
    ...t.constraints.filter((c) => !(c.type === "f" && c.cloned) && (partition || !inherits || c.local !== false))
      .flatMap(constraintExtras),
    ...at(Phase.indexes, ...t.indexes.map((i) => createIndex(i))),
    ...t.indexes.flatMap(indexExtras),
  ];
  if (partition) {
    const { parent, bound } = t.partitionOf!;
    out.push(...at(Phase.attach, `ALTER TABLE ${parent} ATTACH PARTITION ${t.table} ${bound}`));
  }
  const identity = { n: "NOTHING", f: "FULL" }[t.replicaIdentity ?? "d"];
  if (identity) out.push(...at(Phase.settings, `ALTER TABLE ${t.table} REPLICA IDENTITY ${identity}`));
  if (t.replicaIdentity === "i" && t.replicaIndex) {
    out.push(...at(Phase.settings, `ALTER TABLE ${t.table} REPLICA IDENTITY USING INDEX ${bareName(t.replicaIndex)}`));
  }
  if (t.clusterOn) out.push(...at(Phase.settings, `ALTER TABLE ${t.table} CLUSTER ON ${bareName(t.clusterOn)}`));
  // Citus: a sequence cannot be altered once its table is distributed, so OWNED BY goes first.
  const distributed = t.parts?.distribution !== undefined;
  out.push(
    ...sequenceExtras(t.table, t.sequences).map((p) =>
      distributed && p.phase === Phase.ownedBy ? { ...p, phase: Phase.distribution - 1 } : p
    ),
  );
  if (t.owner) out.push(...at(Phase.owner, `ALTER TABLE ${t.table} OWNER TO ${quoteIdent(t.owner)}`));
  if (t.rowSecurity) out.push(...at(Phase.security, `ALTER TABLE ${t.table} ENABLE ROW LEVEL SECURITY`));
  if (t.forceRowSecurity) out.push(...at(Phase.security, `ALTER TABLE ${t.table} FORCE ROW LEVEL SECURITY`));
  out.push(
    ...at(Phase.grants, ...renderGrants({ objectType: "TABLE", name: t.table }, t.acl ?? null, t.aclDefault ?? [])),
  );
  for (const part of tableParts()) {
    const value = t.parts?.[part.key];
    if (value !== undefined) out.push(...part.render(value, t));
  }
  out.push(...at(Phase.inbound, ...t.inbound.map((c) => addConstraint(c))));
  out.push(...t.inbound.flatMap(constraintExtras).filter((p) => p.phase === Phase.comments));
  return out;
}

/** Statements that re-create a dropped table's structure, in dependency order. */
export function recreateTable(t: TableCapture): string[] {
  return ordered(phasedTable(t));
}

/** What re-creating the table cannot restore. */
export function notRestoredOfTable(t: TableCapture): NotRestored[] {
  const object = `table ${t.table}`;
  if (t.format === undefined) {
    return [{
      object,
      what: "captured by an earlier tide: its owner, grants, row level security and policies, triggers, rules, " +
        "storage parameters, persistence, replica identity, extended statistics, publication membership, inheritance, " +
        "partitions and column storage/statistics/compression were not captured and do not come back",
    }];
  }
  const out: NotRestored[] = [
    ...foreignGrantors(t.acl ?? null, t.owner).map((what) => ({ object, what })),
    ...t.columns.flatMap((c) =>
      foreignGrantors(c.acl ?? null, t.owner).map((what) => ({ object: `column ${t.table}.${c.name}`, what }))
    ),
  ];
  for (const part of tableParts()) {
    const value = t.parts?.[part.key];
    if (value !== undefined && part.notRestored) out.push(...part.notRestored(value, t));
  }
  return out;
}

/** Tables Postgres drops along with this one (its partitions, recursively). */
export function droppedWith(t: TableCapture): string[] {
  return tableParts().flatMap((part) => {
    const value = t.parts?.[part.key];
    return value !== undefined && part.droppedWith ? part.droppedWith(value) : [];
  });
}

/** Foreign keys pointing at the table or any partition below it (forwards drops them first). */
export function allInbound(t: TableCapture): ConstraintCapture[] {
  const below = (t.parts?.partitions as TableCapture[] | undefined) ?? [];
  return [...t.inbound, ...below.flatMap(allInbound)];
}
