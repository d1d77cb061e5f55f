/**
 * The honest "bare Deno + postgres.js" peer: reads the history, then reverses the most recent
 * `count` migrations (or all) with hard-coded SQL, one transaction per migration.
 *
 * deno run -A bench/bare_runner.ts URL COUNT|all
 *
 * @module
 */

import postgres from "postgres";

const [url, which] = Deno.args;
const sql = postgres(url!, { max: 1, onnotice: () => {} });
const rows = await sql<
  { name: string }[]
>`select name from migration where app_name = 'app' order by ran_on desc, name desc`;
const picked = which === "all" ? rows : rows.slice(0, Number(which));
for (const { name } of picked) {
  const i = Number(name.slice(-6));
  await sql.begin(async (tx) => {
    await tx.unsafe(`DROP INDEX "t${i}_name_idx"`);
    await tx.unsafe(`ALTER TABLE "t${i}" DROP COLUMN "extra"`);
    await tx.unsafe(`DROP TABLE "t${i}"`);
    await tx`DELETE FROM migration WHERE app_name = 'app' AND name = ${name}`;
  });
}
await sql.end();
