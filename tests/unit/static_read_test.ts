import { readStaticExports } from "../../src/loader/static.ts";
import { assertEquals } from "../helpers/assert.ts";

const read = (text: string) => readStaticExports(new TextEncoder().encode(text));
const head = `import type { MigrationContext } from "tide";\n\nexport const ID = "2026-01-01T00:00:00:000001";\n`;
const tail = `\nexport async function forwards({ manager }: MigrationContext) {\n  return manager;\n}\n`;
const description = (line: string) => read(head + line + tail).description;

Deno.test("static read: the ID and description `tide new` writes", () => {
  assertEquals(read(head + `export const DESCRIPTION = "Add the Band table!";` + tail), {
    id: "2026-01-01T00:00:00:000001",
    description: "Add the Band table!",
  });
});

Deno.test("static read: the three quotes and their escapes", () => {
  assertEquals(description(`export const DESCRIPTION = 'it\\'s "fine"';`), `it's "fine"`);
  assertEquals(description("export const DESCRIPTION = `two\nlines`;"), "two\nlines");
  assertEquals(description("export const DESCRIPTION = `cr\r\nlf`;"), "cr\nlf");
  assertEquals(
    description(`export const DESCRIPTION = "tab\\there \\\\ \\u00e9\\u{1F600}\\x41";`),
    "tab\there \\ é😀A",
  );
  assertEquals(description(`export const DESCRIPTION = "one \\\nline";`), "one line");
  assertEquals(description(`export const DESCRIPTION: string = "typed"`), "typed");
  assertEquals(description(`export const DESCRIPTION = "no semicolon"\n// a comment`), undefined);
  assertEquals(description(`export const DESCRIPTION = "no semicolon"\nexport const X = 1;`), "no semicolon");
  assertEquals(description(`export const DESCRIPTION = "" ; // trailing`), "");
  assertEquals(description(`export const DESCRIPTION = "caf\u00e9 ✓";`), "café ✓");
});

Deno.test("static read: anything unusual is left to an import (undefined)", () => {
  for (
    const line of [
      'export const DESCRIPTION = "a" + "b";',
      'export const DESCRIPTION = "a"\n  + "b";',
      'export const DESCRIPTION = "a".trim();',
      "export const DESCRIPTION = `a ${1 + 1}`;",
      'export const DESCRIPTION = "\\a";',
      'export const DESCRIPTION = "\\01";',
      'export const DESCRIPTION = "unterminated;',
      'export const DESCRIPTION = "broken\nline";',
      "export const DESCRIPTION = make();",
      'export const DESCRIPTION = "a" as const;',
      'export const DESCRIPTION = "one";\nexport const DESCRIPTION = "two";',
      '/*\nexport const DESCRIPTION = "in a comment";\n*/',
      'const s = `\nexport const DESCRIPTION = "in a template";\n`;',
      'const d = "x";\nexport { d as DESCRIPTION };',
      'export * from "./other.ts";',
      'export let DESCRIPTION = "let";',
    ]
  ) {
    assertEquals(description(line), undefined, line);
  }
  // No DESCRIPTION at all: the module exports none, so "".
  assertEquals(description(""), "");
  assertEquals(read(`export const ID = makeId();` + tail).id, undefined);
  assertEquals(readStaticExports(new Uint8Array([0xff, 0xfe])).description, undefined);
});
