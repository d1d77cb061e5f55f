import { MigrationManager } from "../../src/migration/manager.ts";
import { recreateTable, renderBackwards, renderForwards } from "../../src/migration/render.ts";
import type { TableCapture } from "../../src/migration/operations.ts";
import { assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";

function sqlOf(steps: readonly ({ sql: string } | { label: string })[]): string[] {
  return steps.map((s) => ("sql" in s ? s.sql : `fn:${s.label}`));
}

function ops(record: (m: MigrationManager) => void) {
  const m = new MigrationManager();
  record(m);
  return m.operations;
}

Deno.test("renderForwards() and renderBackwards() quote every name", () => {
  const [add, idx, rename] = ops((m) =>
    m.addTable("billing.user", { id: "serial primary key", 'a"b': "text" })
      .addIndex("billing.user", ['a"b'], { unique: true })
      .renameTable("billing.user", "billing.customer")
  );
  assertEquals(sqlOf(renderForwards(add!, 0).steps), [
    'CREATE TABLE "billing"."user" ("id" serial primary key, "a""b" text)',
  ]);
  assertEquals(sqlOf(renderBackwards(add!, 0, undefined).steps), ['DROP TABLE "billing"."user"']);
  assertEquals(sqlOf(renderForwards(idx!, 1).steps), [
    'CREATE UNIQUE INDEX "user_a"b_idx" ON "billing"."user" ("a""b")'.replace('"user_a"b_idx"', '"user_a""b_idx"'),
  ]);
  assertEquals(sqlOf(renderBackwards(idx!, 1, undefined).steps), ['DROP INDEX "billing"."user_a""b_idx"']);
  assertEquals(sqlOf(renderForwards(rename!, 2).steps), ['ALTER TABLE "billing"."user" RENAME TO "customer"']);
  assertEquals(sqlOf(renderBackwards(rename!, 2, undefined).steps), [
    'ALTER TABLE "billing"."customer" RENAME TO "user"',
  ]);
});

Deno.test("renderForwards() combines alterColumn() changes in one statement", () => {
  const [alter] = ops((m) =>
    m.alterColumn("band", "pop", { type: "bigint", using: "pop::bigint", nullable: false, default: null })
  );
  assertEquals(sqlOf(renderForwards(alter!, 0).steps), [
    'ALTER TABLE "band" ALTER COLUMN "pop" TYPE bigint USING pop::bigint, ALTER COLUMN "pop" SET NOT NULL, ALTER COLUMN "pop" DROP DEFAULT',
  ]);
});

Deno.test("renderBackwards() restores an altered column from its capture, default dropped before the type", () => {
  const [alter] = ops((m) => m.alterColumn("band", "pop", { type: "bigint", nullable: false }));
  const back = renderBackwards(alter!, 0, { kind: "alter", type: "integer", notNull: false, default: "0" });
  assertEquals(sqlOf(back.steps), [
    'ALTER TABLE "band" ALTER COLUMN "pop" DROP DEFAULT',
    'ALTER TABLE "band" ALTER COLUMN "pop" TYPE integer USING "pop"::integer',
    'ALTER TABLE "band" ALTER COLUMN "pop" DROP NOT NULL',
    'ALTER TABLE "band" ALTER COLUMN "pop" SET DEFAULT 0',
  ]);
  assertEquals(back.destroys, [{ kind: "cast", table: "band", column: "pop", type: "integer" }]);
});

Deno.test("renderBackwards() of a drop without capture is irreversible and says why", () => {
  for (
    const op of ops((m) =>
      m.dropTable("t").dropColumn("t", "c").dropIndex("i").alterColumn("t", "c", { nullable: true })
    )
  ) {
    const back = renderBackwards(op, 0, undefined);
    assertEquals(back.steps, []);
    assertMatch(back.irreversible!, /not captured .*--fake/);
  }
});

Deno.test("renderBackwards() of raw steps: backwards, addRawBackwards cover, or irreversible", () => {
  const [raw, rawWith] = ops((m) => m.addRaw("insert 1").addRaw("insert 2", "delete 2"));
  assertMatch(renderBackwards(raw!, 0, undefined).irreversible!, /raw step 1 .*has no backwards/);
  assertEquals(renderBackwards(raw!, 0, undefined, true).irreversible, undefined);
  assertEquals(sqlOf(renderBackwards(rawWith!, 1, undefined).steps), ["delete 2"]);
});

Deno.test("recreateTable() orders sequences, table, indexes, sequence ownership, comments, inbound keys", () => {
  const capture: TableCapture = {
    kind: "table",
    table: "public.band",
    columns: [
      {
        name: "id",
        type: "integer",
        collation: null,
        notNull: true,
        default: "nextval('band_id_seq'::regclass)",
        identity: "",
        generated: null,
        comment: "key",
      },
      {
        name: "name",
        type: "text",
        collation: '"pg_catalog"."C"',
        notNull: false,
        default: null,
        identity: "",
        generated: null,
        comment: null,
      },
    ],
    constraints: [{ table: "public.band", name: "band_pkey", definition: "PRIMARY KEY (id)", comment: null }],
    indexes: [{
      name: "public.band_name_idx",
      definition: "CREATE INDEX band_name_idx ON public.band USING btree (name)",
      comment: null,
    }],
    inbound: [{
      table: "public.fan",
      name: "fan_band_fk",
      definition: "FOREIGN KEY (band_id) REFERENCES band(id)",
      comment: null,
    }],
    sequences: [{
      name: "public.band_id_seq",
      column: "id",
      type: "integer",
      start: "1",
      increment: "1",
      min: "1",
      max: "2147483647",
      cache: "1",
      cycle: false,
      dependency: "a",
    }],
    comment: "Bands",
  };
  assertEquals(recreateTable(capture), [
    "CREATE SEQUENCE public.band_id_seq AS integer START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 CACHE 1 NO CYCLE",
    `CREATE TABLE public.band ("id" integer DEFAULT nextval('band_id_seq'::regclass) NOT NULL, "name" text COLLATE "pg_catalog"."C", CONSTRAINT "band_pkey" PRIMARY KEY (id))`,
    "CREATE INDEX band_name_idx ON public.band USING btree (name)",
    // OWNED BY before the owner changes, so that the sequence follows the table's owner.
    `ALTER SEQUENCE public.band_id_seq OWNED BY public.band."id"`,
    "COMMENT ON TABLE public.band IS 'Bands'",
    `COMMENT ON COLUMN public.band."id" IS 'key'`,
    `ALTER TABLE public.fan ADD CONSTRAINT "fan_band_fk" FOREIGN KEY (band_id) REFERENCES band(id)`,
  ]);
});

Deno.test("MigrationManager rejects bad arguments when recording", () => {
  const m = new MigrationManager();
  assertThrows(() => m.addTable("", { a: "int" }), /non-empty name/);
  assertThrows(() => m.addTable("t", {}), /at least one column/);
  assertThrows(() => m.alterColumn("t", "c", {}), /at least one of/);
  assertThrows(() => m.alterColumn("t", "c", { using: "x" }), /at least one of/);
  assertThrows(() => m.addIndex("t", []), /at least one column/);
  assertThrows(() => m.renameTable("a.t", "b.t"), /another schema/);
  assertThrows(() => m.addRaw(""), /SQL text or a function/);
});
