/**
 * Retained drops from the command line (issue 15): forwards retains, `retained` lists,
 * backwards restores rows and values, `purge` asks (in a real terminal), honours -y,
 * --older-than and --json, and backwards after a purge restores structure only, saying so.
 */

import { assert, assertEquals, assertMatch, assertNotMatch } from "../helpers/assert.ts";
import { eachBackend, withDb } from "../helpers/backends.ts";
import { makeProject, tide, tideInTerminal } from "../helpers/cli.ts";

const SETUP = {
  id: "2026-01-01T00:00:00:000001",
  description: "Shop tables",
  body: `  manager.addTable("customer", { id: "serial primary key", name: "text not null", vat_id: "text" });
  manager.addTable("invoice_line", { id: "serial primary key", customer_id: "int references customer(id)", amount: "numeric(10,2)" });
  manager.addRaw(
    "insert into customer (name, vat_id) select 'c' || g, 'VAT' || g from generate_series(1, 30) g; insert into invoice_line (customer_id, amount) select 1 + g % 30, g * 1.5 from generate_series(1, 90) g",
    "delete from invoice_line; delete from customer",
  );`,
};
const DROP = {
  id: "2026-01-02T00:00:00:000002",
  description: "Drop invoice lines and VAT IDs",
  body: `  manager.dropTable("invoice_line", { retain: true });
  manager.dropColumn("customer", "vat_id", { retain: true });`,
};

const CONTENTS = `select (select md5(string_agg(t::text, '|' order by id)) from invoice_line t) as lines,
                        (select md5(string_agg(id || ':' || coalesce(vat_id, '-'), '|' order by id)) from customer) as vat`;

async function contents(url: string): Promise<{ lines: string | null; vat: string | null }> {
  return await withDb(url, async (db) => (await db.query<{ lines: string | null; vat: string | null }>(CONTENTS))[0]!);
}

eachBackend(
  "retained drops: forwards, retained, backwards with the rows, purge, backwards after a purge",
  async ({ url }) => {
    const root = await makeProject({ shop: { migrations: [SETUP, DROP] } });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "shop", "1"], { cwd: root, env })).code, 0);
    const original = await contents(url);

    const forwards = await tide(["forwards", "shop", "--json"], { cwd: root, env });
    assertEquals(forwards.code, 0, forwards.stderr);

    const listed = await tide(["retained", "--json"], { cwd: root, env });
    assertEquals(listed.code, 0, listed.stderr);
    const { retained } = JSON.parse(listed.stdout) as { retained: { object: string; rows: number; bytes: number }[] };
    assertEquals(retained.map((r) => [r.object, r.rows]), [["table public.invoice_line", 90], [
      "column public.customer.vat_id",
      30,
    ]]);
    assert(retained.every((r) => r.bytes > 0));
    const text = await tide(["retained", "shop"], { cwd: root, env });
    assertMatch(text.stdout, /APP +MIGRATION +OBJECT +ROWS +SIZE +SINCE +HELD AS/);
    assertMatch(text.stdout, /shop +2026-01-02T00:00:00:000002 +table public\.invoice_line +90 +\d+\.\d kB/);

    // Backwards: the rows and the values are back.
    const back = await tide(["backwards", "shop", "-y"], { cwd: root, env });
    assertEquals(back.code, 0, back.stderr);
    assertEquals(await contents(url), original);
    assertEquals(JSON.parse((await tide(["retained", "--json"], { cwd: root, env })).stdout).retained, []);

    // Again forwards; purge refuses without a terminal, asks in one, honours --older-than.
    assertEquals((await tide(["forwards", "shop"], { cwd: root, env })).code, 0);
    const noTty = await tide(["purge"], { cwd: root, env });
    assertEquals(noTty.code, 2, noTty.stderr);
    assertMatch(noTty.stderr, /--auto-agree/);
    const young = await tide(["purge", "--older-than", "1d", "-y", "--json"], { cwd: root, env });
    assertEquals(young.code, 0, young.stderr);
    assertEquals(JSON.parse(young.stdout), { success: true, message: "Nothing to purge", purged: [] });
    const bad = await tide(["purge", "--older-than", "soon"], { cwd: root, env });
    assertEquals(bad.code, 2);
    assertMatch(bad.stderr, /Invalid --older-than "soon"/);

    const declined = await tideInTerminal(["purge", "shop"], { cwd: root, env, input: "n\n" });
    assertEquals(declined.code, 1, declined.screen);
    assertMatch(declined.screen, /About to drop for good 2 retained object\(s\)/);
    assertMatch(declined.screen, /table public\.invoice_line/);
    assertMatch(declined.screen, /Purge 2 retained object\(s\)\? \[y\/N\]/);
    assertMatch(declined.screen, /Not proceeding\./);
    assertEquals(JSON.parse((await tide(["retained", "--json"], { cwd: root, env })).stdout).retained.length, 2);

    const agreed = await tideInTerminal(["purge", DROP.id], { cwd: root, env, input: "y\n" });
    assertEquals(agreed.code, 0, agreed.screen);
    assertMatch(agreed.screen, /Purged 2 retained object\(s\)/);
    assertEquals(JSON.parse((await tide(["retained", "--json"], { cwd: root, env })).stdout).retained, []);

    // Backwards after a purge: the structure-only reversal, and the plan says the rows are gone.
    const preview = await tide(["backwards", "shop", "--preview"], { cwd: root, env });
    assertEquals(preview.code, 0, preview.stderr);
    assertMatch(preview.stdout, /-- note: rows of table "invoice_line" are not restored: its retained copy was purged/);
    assertNotMatch(preview.stdout, /tide_retained/);
    const after = await tide(["backwards", "shop", "-y"], { cwd: root, env });
    assertEquals(after.code, 0, after.stderr);
    const now = await contents(url);
    assertEquals(now.lines, null, "invoice_line is back, empty");
    await withDb(url, async (db) => {
      const [row] = await db.query<{ n: number; nulls: number }>(
        "select count(*)::int as n, count(*) filter (where vat_id is null)::int as nulls from customer",
      );
      assertEquals(row, { n: 30, nulls: 30 }, "vat_id is back without its values");
    });
  },
);

eachBackend(
  "the preflight reports retained drops as retained: plan, --preview, --json, --forbid-data-loss",
  async ({ url }) => {
    const KEYLESS = {
      id: "2026-01-03T00:00:00:000003",
      description: "Drop a keyless column",
      body: `  manager.dropColumn("audit", "note", { retain: true });`,
    };
    const root = await makeProject({
      shop: {
        migrations: [
          {
            ...SETUP,
            body: SETUP.body +
              `\n  manager.addRaw("create table audit (at int, note text); insert into audit values (1, 'x')", "drop table audit");`,
          },
          DROP,
          KEYLESS,
        ],
      },
    });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "shop", "1"], { cwd: root, env })).code, 0);

    // --preview: the exact statements, and the retained objects as such (not as data loss).
    const preview = await tide(["forwards", "shop", "1", "--preview"], { cwd: root, env });
    assertEquals(preview.code, 0, preview.stderr);
    assertMatch(preview.stdout, /-- retained: table invoice_line: 90 row\(s\), \d+ bytes, held in tide_retained/);
    assertMatch(preview.stdout, /-- retained: column customer\.vat_id: 30 row\(s\)/);
    assertMatch(
      preview.stdout,
      /CREATE SCHEMA IF NOT EXISTS "tide_retained";\nREVOKE ALL ON SCHEMA "tide_retained" FROM PUBLIC;/,
    );
    assertMatch(
      preview.stdout,
      /ALTER TABLE "public"\."invoice_line" RENAME TO "(r[0-9a-f]{10}_0_invoice_line)";\nALTER TABLE "public"\."\1" SET SCHEMA "tide_retained";/,
    );
    assertMatch(
      preview.stdout,
      /CREATE TABLE "tide_retained"\."r[0-9a-f]{10}_1_customer__vat_id" AS SELECT "id", "vat_id" FROM public\.customer;/,
    );
    assertNotMatch(preview.stdout, /-- data loss/);

    // --forbid-data-loss lets retained drops through, and --json lists them.
    const run = await tide(["forwards", "shop", "1", "--forbid-data-loss", "--json"], { cwd: root, env });
    assertEquals(run.code, 0, run.stderr);
    const json = JSON.parse(run.stdout);
    assertEquals(json.dataLoss, undefined);
    assertEquals(
      json.retained.map((r: { migration: string; object: string; rows: number }) => [r.migration, r.object, r.rows]),
      [[`shop ${DROP.id}`, "table invoice_line", 90], [`shop ${DROP.id}`, "column customer.vat_id", 30]],
    );
    assert(json.retained.every((r: { bytes: number }) => r.bytes > 0));
    // The SQL the run executed is the SQL the preview showed.
    const previewed = preview.stdout.split("\n").filter((l) =>
      /tide_retained|DROP COLUMN/.test(l) && !l.startsWith("--")
    );
    const executed = (json.migrations[0].sql as string[]).filter((l) => /tide_retained|DROP COLUMN/.test(l)).map((l) =>
      `${l};`
    );
    assertEquals(executed, previewed);

    // A retained column without a usable key is data loss, named as such, and refused.
    const refused = await tide(["forwards", "shop", "--forbid-data-loss"], { cwd: root, env });
    assertEquals(refused.code, 1, refused.stderr);
    assertMatch(
      refused.stderr,
      /column audit\.note: 1 value\(s\) — its values cannot be retained: the table has no primary key or replica identity index/,
    );
    const plain = await tide(["forwards", "shop"], { cwd: root, env });
    assertEquals(plain.code, 0, plain.stderr);
    assertMatch(plain.stderr, /Data that this plan destroys/);
  },
);
