/**
 * Quoting of identifiers and literals. Every name a migration passes ends up quoted, so a
 * table called `user`, `Order` or `a"b` works and no name can inject SQL.
 *
 * @module
 */

/** Quotes one identifier: `a"b` becomes `"a""b"`. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new TypeError("Cannot quote an empty identifier");
  if (name.includes("\0")) throw new TypeError(`Identifier contains a NUL character: "${name}"`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** A possibly schema-qualified name, split. */
export interface QualifiedName {
  readonly schema: string | undefined;
  readonly name: string;
}

/**
 * Splits `"billing.invoice"` into schema and name. Only the first dot separates: tide's names
 * are plain identifiers, optionally prefixed by a schema.
 */
export function splitName(qualified: string): QualifiedName {
  const dot = qualified.indexOf(".");
  if (dot <= 0 || dot === qualified.length - 1) return { schema: undefined, name: qualified };
  return { schema: qualified.slice(0, dot), name: qualified.slice(dot + 1) };
}

/** Quotes a possibly schema-qualified name: `billing.invoice` → `"billing"."invoice"`. */
export function quoteName(qualified: string): string {
  const { schema, name } = splitName(qualified);
  return schema === undefined ? quoteIdent(name) : `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** Quotes a string literal for standard_conforming_strings = on (Postgres' default). */
export function quoteLiteral(value: string): string {
  if (value.includes("\0")) throw new TypeError("String literal contains a NUL character");
  return `'${value.replaceAll("'", "''")}'`;
}
