/**
 * Publication membership of a table (`pg_publication_rel`), with PG 15's column lists and row
 * filters. Publications FOR ALL TABLES or FOR TABLES IN SCHEMA include a re-created table by
 * themselves.
 *
 * @module
 */

import { at, type CatalogContext, jsonList, Phase } from "./context.ts";
import type { TablePart } from "./part.ts";

/** One publication the table was added to. */
export interface PublicationCapture {
  /** Quoted publication name. */
  readonly publication: string;
  /** Quoted column names (PG 15+), null for all columns. */
  readonly columns: readonly string[] | null;
  /** Row filter (PG 15+). */
  readonly where: string | null;
  /**
   * Whether the role that dropped the table may alter the publication (owns it or is a
   * member of its owner). A publication it may not alter is named as not restored rather
   * than made to fail the reversal. Absent (true) in captures before this field.
   */
  readonly alterable?: boolean;
}

function selectSql(ctx: CatalogContext): string {
  const v15 = ctx.version >= 150000;
  const columns = v15
    ? `case when pr.prattrs is not null then ${
      jsonList(
        "quote_ident(a.attname)",
        "from unnest(pr.prattrs::int2[]) with ordinality as k(n, o) join pg_attribute a on a.attrelid = pr.prrelid and a.attnum = k.n",
        "k.o",
      )
    } end`
    : "null";
  return jsonList(
    `json_build_object('publication', quote_ident(p.pubname), 'columns', ${columns},
      'where', ${v15 ? "pg_get_expr(pr.prqual, pr.prrelid)" : "null"},
      'alterable', pg_has_role(p.pubowner, 'USAGE'))`,
    "from pg_publication_rel pr join pg_publication p on p.oid = pr.prpubid where pr.prrelid = c.oid",
    "p.pubname",
  );
}

/** The publications part. */
export const publications: TablePart<PublicationCapture[]> = {
  key: "publications",
  select: selectSql,
  render: (list, t) =>
    list.filter((p) => p.alterable !== false).flatMap((p) =>
      at(
        Phase.publications,
        `ALTER PUBLICATION ${p.publication} ADD TABLE ONLY ${t.table}${p.columns ? ` (${p.columns.join(", ")})` : ""}${
          p.where !== null ? ` WHERE (${p.where})` : ""
        }`,
      )
    ),
  notRestored: (list, t) =>
    list.filter((p) => p.alterable === false).map((p) => ({
      object: `table ${t.table}`,
      what: `publication membership in ${p.publication}: the role running tide does not own that publication`,
    })),
};
