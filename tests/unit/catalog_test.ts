/** Pure rendering of the catalog kinds: no database. */

import { type ColumnCapture, columnDefinition } from "../../src/catalog/column.ts";
import { parseAclItem, renderGrants } from "../../src/catalog/grant.ts";
import { createPolicy } from "../../src/catalog/policy.ts";
import { recreateTable, type TableCapture } from "../../src/catalog/table.ts";
import { readdColumn } from "../../src/catalog/column_drop.ts";
import { restoreColumn } from "../../src/catalog/alter.ts";
import { planBackwardsMigration } from "../../src/engine/plan.ts";
import { previewScript } from "../../src/engine/preview.ts";
import { History } from "../../src/engine/history.ts";
import { planLines, runJson } from "../../src/cli/render.ts";
import { planNotRestored } from "../../src/engine/plan.ts";
import { assertEquals, assertMatch } from "../helpers/assert.ts";

const COLUMN: ColumnCapture = {
  name: "total",
  type: "integer",
  collation: null,
  notNull: true,
  default: null,
  identity: "",
  generated: "(a + b)",
  comment: null,
};

Deno.test("columnDefinition(): VIRTUAL (PG 18) vs STORED, named NOT NULL, old captures", () => {
  assertEquals(
    columnDefinition({ ...COLUMN, generatedKind: "v" }, []),
    `"total" integer GENERATED ALWAYS AS ((a + b)) VIRTUAL NOT NULL`,
  );
  assertEquals(columnDefinition(COLUMN, []), `"total" integer GENERATED ALWAYS AS ((a + b)) STORED NOT NULL`);
  const named = {
    ...COLUMN,
    generated: null,
    notNullConstraint: { name: "total_required", valid: true, noInherit: false, local: true, comment: null },
  };
  assertEquals(columnDefinition(named, []), `"total" integer CONSTRAINT "total_required" NOT NULL`);
  const invalid = { ...named, notNullConstraint: { ...named.notNullConstraint, valid: false } };
  assertEquals(columnDefinition(invalid, []), `"total" integer`);
});

Deno.test("parseAclItem() and renderGrants(): pg_dump's revoke-then-grant, grant options, PUBLIC, quoted roles", () => {
  assertEquals(parseAclItem('"my role"=r*w/owner'), {
    grantee: "my role",
    privileges: [{ letter: "r", grantable: true }, { letter: "w", grantable: false }],
    grantor: "owner",
  });
  assertEquals(
    renderGrants(
      { objectType: "TABLE", name: "public.t" },
      ["owner=arwdxtm/owner", "=r/owner", '"my role"=r*w/owner'],
      [
        "owner=arwdDxtm/owner",
      ],
    ),
    [
      'REVOKE ALL ON TABLE public.t FROM "owner"',
      'GRANT INSERT, SELECT, UPDATE, DELETE, REFERENCES, TRIGGER, MAINTAIN ON TABLE public.t TO "owner"',
      "GRANT SELECT ON TABLE public.t TO PUBLIC",
      'GRANT UPDATE ON TABLE public.t TO "my role"',
      'GRANT SELECT ON TABLE public.t TO "my role" WITH GRANT OPTION',
    ],
  );
  assertEquals(renderGrants({ objectType: "TABLE", name: "public.t" }, null, ["owner=arwdDxt/owner"]), []);
  assertEquals(renderGrants({ objectType: "TABLE", name: "public.t", column: '"c"' }, ["r=rw/owner"], []), [
    'GRANT SELECT ("c"), UPDATE ("c") ON TABLE public.t TO "r"',
  ]);
});

Deno.test("createPolicy(): restrictive, roles, USING and WITH CHECK", () => {
  assertEquals(
    createPolicy("public.t", {
      name: "p",
      command: "w",
      permissive: false,
      roles: ["reader", "PUBLIC"],
      using: "true",
      check: "(score < 10)",
      comment: null,
    }),
    'CREATE POLICY "p" ON public.t AS RESTRICTIVE FOR UPDATE TO reader, PUBLIC USING (true) WITH CHECK ((score < 10))',
  );
});

const PARTITION: TableCapture = {
  kind: "table",
  format: 2,
  table: "public.m_2020",
  columns: [{ ...COLUMN, generated: null, name: "id" }],
  constraints: [
    {
      table: "public.m_2020",
      name: "m_2020_pkey",
      definition: "PRIMARY KEY (id)",
      comment: null,
      type: "p",
      cloned: true,
    },
    {
      table: "public.m_2020",
      name: "m_fk",
      definition: "FOREIGN KEY (id) REFERENCES x(id)",
      comment: null,
      type: "f",
      cloned: true,
    },
    {
      table: "public.m_2020",
      name: "m_ok",
      definition: "CHECK ((id > 0)) NOT VALID",
      comment: null,
      type: "c",
      valid: false,
    },
  ],
  indexes: [],
  inbound: [],
  sequences: [],
  comment: null,
  owner: "app",
  persistence: "u",
  reloptions: ["fillfactor=60"],
  toastOptions: ["autovacuum_enabled=false"],
  partitionOf: { parent: "public.m", bound: "FOR VALUES FROM (1) TO (10)" },
  rowSecurity: true,
  replicaIdentity: "f",
  parts: {
    triggers: [{
      name: "tg",
      definition: "CREATE TRIGGER tg BEFORE INSERT ON public.m_2020 FOR EACH ROW EXECUTE FUNCTION f()",
      enabled: "D",
      comment: null,
    }],
  },
};

Deno.test("recreateTable(): a partition is created on its own then attached; clones left to ATTACH; NOT VALID after", () => {
  assertEquals(recreateTable(PARTITION), [
    `CREATE UNLOGGED TABLE public.m_2020 ("id" integer NOT NULL, CONSTRAINT "m_2020_pkey" PRIMARY KEY (id)) WITH (fillfactor='60', toast.autovacuum_enabled='false')`,
    `ALTER TABLE public.m_2020 ADD CONSTRAINT "m_ok" CHECK ((id > 0)) NOT VALID`,
    "ALTER TABLE public.m ATTACH PARTITION public.m_2020 FOR VALUES FROM (1) TO (10)",
    "ALTER TABLE public.m_2020 REPLICA IDENTITY FULL",
    'ALTER TABLE public.m_2020 OWNER TO "app"',
    "ALTER TABLE public.m_2020 ENABLE ROW LEVEL SECURITY",
    "CREATE TRIGGER tg BEFORE INSERT ON public.m_2020 FOR EACH ROW EXECUTE FUNCTION f()",
    'ALTER TABLE public.m_2020 DISABLE TRIGGER "tg"',
  ]);
});

Deno.test("a capture stored by tide 0.1 still renders, and says what it lacks", async () => {
  const old = {
    kind: "table",
    table: "public.band",
    columns: [{ ...COLUMN, generated: null, name: "id" }],
    constraints: [{ table: "public.band", name: "band_u", definition: "UNIQUE (id)", comment: null }],
    indexes: [],
    inbound: [],
    sequences: [],
    comment: null,
  };
  const row = {
    app: "a",
    id: "1",
    ranOn: "2026-01-01",
    description: "old",
    checksum: null,
    reversal: {
      captures: {
        "0": old,
        "1": {
          kind: "column",
          table: "public.t",
          column: { ...COLUMN, generated: null, name: "c" },
          constraints: [],
          indexes: [],
          inbound: [],
          sequences: [],
        },
      },
      statements: null,
      operations: [{ kind: "dropTable", table: "band" }, { kind: "dropColumn", table: "t", column: "c" }],
    },
  } as unknown as Parameters<typeof planBackwardsMigration>[0];
  const plan = await planBackwardsMigration(row, undefined);
  assertEquals(plan.irreversible, []);
  const sql = plan.operations.flatMap((o) => o.rendered.steps.map((s) => ("sql" in s ? s.sql : "")));
  assertEquals(sql, [
    `ALTER TABLE public.t ADD COLUMN "c" integer NOT NULL`,
    `CREATE TABLE public.band ("id" integer NOT NULL)`,
    `ALTER TABLE public.band ADD CONSTRAINT "band_u" UNIQUE (id)`,
  ]);
  assertEquals(plan.notRestored.map((n) => n.object), ["column public.t.c", "column public.t.c", "table public.band"]);
  assertMatch(plan.notRestored[2]!.what, /earlier tide: its owner, grants, row level security/);
  // Everywhere the plan is shown: the prompt's lines, --preview, --json.
  assertMatch(
    planLines([plan]).join("\n"),
    /not restored: column public\.t\.c: position: comes back as the table's last column/,
  );
  const script = previewScript(new History("migration"), "backwards", [{
    migration: plan,
    statements: [],
    transactional: true,
    warnings: [],
  }], []);
  assertMatch(script, /-- not restored: table public\.band: captured by an earlier tide/);
  const json = runJson(true, "ok", [], [], planNotRestored([plan]));
  assertEquals(json.notRestored?.[0], {
    migration: "a 1",
    object: "column public.t.c",
    what: "position: comes back as the table's last column",
  });
  assertEquals(runJson(true, "ok", []).notRestored, undefined);
});

Deno.test("readdColumn() and restoreColumn(): named NOT NULL and re-parsed checks come back as captured", () => {
  const nn = { name: "c_required", valid: true, noInherit: false, local: true, comment: null };
  assertEquals(
    restoreColumn("t", "c", { nullable: true }, {
      kind: "alter",
      type: "text",
      notNull: true,
      default: null,
      column: { ...COLUMN, generated: null, name: "c", notNullConstraint: nn },
    }),
    [`ALTER TABLE "t" ADD CONSTRAINT "c_required" NOT NULL "c"`],
  );
  assertEquals(
    restoreColumn("t", "c", { type: "text" }, {
      kind: "alter",
      type: "citext",
      notNull: false,
      default: null,
      constraints: [{
        table: "public.t",
        name: "t_c_check",
        definition: "CHECK ((c <> ''::citext))",
        comment: "x",
        type: "c",
      }],
    }),
    [
      `ALTER TABLE "t" ALTER COLUMN "c" DROP DEFAULT`,
      `ALTER TABLE "t" ALTER COLUMN "c" TYPE citext USING "c"::citext`,
      `ALTER TABLE public.t DROP CONSTRAINT "t_c_check"`,
      `ALTER TABLE public.t ADD CONSTRAINT "t_c_check" CHECK ((c <> ''::citext))`,
      `COMMENT ON CONSTRAINT "t_c_check" ON public.t IS 'x'`,
    ],
  );
  assertEquals(
    readdColumn({
      kind: "column",
      format: 2,
      table: "public.t",
      column: {
        ...COLUMN,
        generated: null,
        name: "c",
        storage: "e",
        compression: "l",
        statistics: 300,
        acl: ["r=r/o"],
      },
      constraints: [],
      indexes: [],
      inbound: [],
      sequences: [],
    }),
    [
      `ALTER TABLE public.t ADD COLUMN "c" integer NOT NULL`,
      `ALTER TABLE public.t ALTER COLUMN "c" SET STORAGE EXTERNAL`,
      `ALTER TABLE public.t ALTER COLUMN "c" SET COMPRESSION lz4`,
      `ALTER TABLE public.t ALTER COLUMN "c" SET STATISTICS 300`,
      `GRANT SELECT ("c") ON TABLE public.t TO "r"`,
    ],
  );
});
