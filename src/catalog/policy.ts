/**
 * Row level security policies (pg_policy): command, PERMISSIVE/RESTRICTIVE, roles, USING and
 * WITH CHECK, comment. The table's ENABLE/FORCE ROW LEVEL SECURITY flags are in table.ts.
 *
 * @module
 */

import { quoteIdent, quoteLiteral } from "../migration/quote.ts";
import { at, jsonList, Phase } from "./context.ts";
import type { TablePart } from "./part.ts";

/** A policy. */
export interface PolicyCapture {
  readonly name: string;
  /** polcmd: `r` SELECT, `a` INSERT, `w` UPDATE, `d` DELETE, `*` ALL. */
  readonly command: string;
  readonly permissive: boolean;
  /** Quoted role names, `PUBLIC` for public. */
  readonly roles: readonly string[];
  readonly using: string | null;
  readonly check: string | null;
  readonly comment: string | null;
}

const COMMANDS: Record<string, string> = { r: "SELECT", a: "INSERT", w: "UPDATE", d: "DELETE", "*": "ALL" };

/** CREATE POLICY for a captured policy. */
export function createPolicy(table: string, p: PolicyCapture): string {
  let sql = `CREATE POLICY ${quoteIdent(p.name)} ON ${table}`;
  if (!p.permissive) sql += " AS RESTRICTIVE";
  sql += ` FOR ${COMMANDS[p.command] ?? "ALL"}`;
  if (p.roles.length) sql += ` TO ${p.roles.join(", ")}`;
  if (p.using !== null) sql += ` USING (${p.using})`;
  if (p.check !== null) sql += ` WITH CHECK (${p.check})`;
  return sql;
}

/** The policies part. */
export const policies: TablePart<PolicyCapture[]> = {
  key: "policies",
  select: () =>
    jsonList(
      `json_build_object('name', p.polname, 'command', p.polcmd::text, 'permissive', p.polpermissive,
        'roles', ${
        jsonList(
          "case when r.id = 0 then 'PUBLIC' else quote_ident(pg_get_userbyid(r.id)) end",
          "from unnest(p.polroles) with ordinality as r(id, n)",
          "r.n",
        )
      },
        'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid),
        'comment', obj_description(p.oid, 'pg_policy'))`,
      "from pg_policy p where p.polrelid = c.oid",
      "p.polname",
    ),
  render: (list, t) =>
    list.flatMap((p) => [
      ...at(Phase.security, createPolicy(t.table, p)),
      ...(p.comment !== null
        ? at(Phase.comments, `COMMENT ON POLICY ${quoteIdent(p.name)} ON ${t.table} IS ${quoteLiteral(p.comment)}`)
        : []),
    ]),
};
