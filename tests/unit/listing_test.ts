import { join } from "node:path";
import { MigrationSource, sha256Hex } from "../../src/loader/load.ts";
import { LoadError } from "../../src/errors.ts";
import { assertEquals, assertRejects } from "../helpers/assert.ts";

const ID = "2026-01-01T00:00:00:000001";
const NAME = "2026_01_01T00_00_00_000001_m.ts";
// An ID only JavaScript can compute, and a module that fails when imported: only a listing
// that neither reads the text for its ID nor imports the file can show it.
const TEXT = `export const ID = ["2026-01-01T00:00:00", "000001"].join(":");\n` +
  `throw new Error("imported!");\nexport async function forwards({ manager }) { return manager; }\n`;

async function sourceWith(text: string): Promise<{ source: MigrationSource; checksum: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tide-listing-" });
  await Deno.writeTextFile(join(dir, NAME), text);
  const checksum = sha256Hex(new TextEncoder().encode(text));
  return { source: new MigrationSource({ name: "app", migrationsDir: dir, dependsOn: [] }), checksum };
}

Deno.test("listing: a file whose bytes are those that ran is listed from its name and the history row", async () => {
  const { source, checksum } = await sourceWith(TEXT);
  const listed = await source.listed(() => false, (id) => (id === ID ? checksum : undefined));
  assertEquals(listed.map((m) => [m.id, m.checksum, m.description]), [[ID, checksum, undefined]]);
});

Deno.test("listing: the same file edited since it ran, or without the history's description, is read and imported", async () => {
  const { source } = await sourceWith(TEXT);
  // Another checksum in the history: what the file says now must be read, and here only an
  // import can say it (and fails, naming the file).
  await assertRejects(() => source.listed(() => false, () => "0".repeat(64)), /Cannot import migration .*imported!/);
  const again = await sourceWith(TEXT);
  await assertRejects(() => again.source.listed(() => true, () => again.checksum), /imported!/);
  const error = await again.source.listed(() => true, () => again.checksum).catch((e) => e);
  assertEquals(error instanceof LoadError, true);
});
