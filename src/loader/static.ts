/**
 * Reads what a listing shows from a migration file's text, without importing it: the
 * `DESCRIPTION` (and `ID`) of a module written the way `tide new` writes them. Conservative:
 * anything this cannot read for certain is `undefined`, and the caller imports the file.
 *
 * @module
 */

/** What a static read found: `undefined` fields could not be read (import the file). */
export interface StaticExports {
  /** The exported ID as written, or undefined when it is not a plain string literal. */
  readonly id: string | undefined;
  /** The exported description ("" when the file exports none), or undefined when unreadable. */
  readonly description: string | undefined;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Reads `export const ID` and `export const DESCRIPTION` from a file's bytes. */
export function readStaticExports(bytes: Uint8Array): StaticExports {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { id: undefined, description: undefined };
  }
  // A module that re-exports from elsewhere may get its names there: only an import knows.
  if (REEXPORT.test(text)) return { id: undefined, description: undefined };
  return {
    id: constString(text, "ID", ID_DECLARATION),
    description: constString(text, "DESCRIPTION", DESCRIPTION_DECLARATION, ""),
  };
}

// Compiled once: `check` reads thousands of files.
const REEXPORT = /\bexport\s*(\*|\{[^}]*\b(DESCRIPTION|ID)\b)/;
const declaration = (name: string) => new RegExp(`^export\\s+const\\s+${name}\\s*(?::\\s*string\\s*)?=\\s*`, "gm");
const ID_DECLARATION = declaration("ID");
const DESCRIPTION_DECLARATION = declaration("DESCRIPTION");

/**
 * The value of `export const NAME = <string literal>;` at the start of a line, or `absent`
 * when NAME appears nowhere in the text, else undefined.
 */
function constString(text: string, name: string, pattern: RegExp, absent?: string): string | undefined {
  pattern.lastIndex = 0;
  const match = pattern.exec(text);
  if (match === null) return new RegExp(`\\b${name}\\b`).test(text) ? undefined : absent;
  if (pattern.exec(text) !== null) return undefined; // declared twice: let JavaScript say
  pattern.lastIndex = 0;
  // The declaration must not sit inside a block comment or a template literal opened earlier.
  if (!topLevel(text.slice(0, match.index))) return undefined;
  const literal = readLiteral(text, match.index + match[0].length);
  if (literal === undefined) return undefined;
  // Only the literal: `"a" + b`, `"a".trim()` and the like are for an import to evaluate.
  return endsStatement(text, literal.end) ? literal.value : undefined;
}

/** Whether the text before a position leaves no block comment or template literal open. */
function topLevel(before: string): boolean {
  if (before.includes("`")) return false;
  const opened = before.lastIndexOf("/*");
  return opened === -1 || before.indexOf("*/", opened + 2) !== -1;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "n": "\n",
  "t": "\t",
  "r": "\r",
  "b": "\b",
  "f": "\f",
  "v": "\v",
  "0": "\0",
  "'": "'",
  '"': '"',
  "`": "`",
  "\\": "\\",
  "$": "$",
};

/** Reads a ' " or ` string literal starting at `start`; undefined for anything unusual. */
function readLiteral(text: string, start: number): { value: string; end: number } | undefined {
  const quote = text[start];
  if (quote !== '"' && quote !== "'" && quote !== "`") return undefined;
  // The usual literal has no escape, line break or interpolation: its text is its value (one
  // slice rather than a character at a time, for each of thousands of files).
  const close = text.indexOf(quote, start + 1);
  if (close !== -1) {
    const plain = text.slice(start + 1, close);
    if (!/[\\\r\n]|\$\{/.test(plain)) return { value: plain, end: close + 1 };
  }
  let value = "";
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === quote) return { value, end: i + 1 };
    if (quote === "`" && c === "$" && text[i + 1] === "{") return undefined; // interpolation
    if (c === "\r") {
      if (quote !== "`") return undefined;
      // A template literal normalises CR LF and CR to LF.
      value += "\n";
      if (text[i + 1] === "\n") i++;
      continue;
    }
    if (c === "\n" && quote !== "`") return undefined;
    if (c !== "\\") {
      value += c;
      continue;
    }
    const e = text[++i];
    if (e === undefined) return undefined;
    if (e === "0" && /[0-9]/.test(text[i + 1] ?? "")) return undefined; // legacy octal
    if (e in SIMPLE_ESCAPES) value += SIMPLE_ESCAPES[e];
    else if (e === "\n") continue; // line continuation
    else if (e === "x") {
      const hex = /^[0-9a-fA-F]{2}/.exec(text.slice(i + 1, i + 3));
      if (!hex) return undefined;
      value += String.fromCharCode(parseInt(hex[0], 16));
      i += 2;
    } else if (e === "u") {
      const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(text.slice(i + 1, i + 10));
      const plain = /^[0-9a-fA-F]{4}/.exec(text.slice(i + 1, i + 5));
      if (braced) {
        const code = parseInt(braced[1]!, 16);
        if (code > 0x10ffff) return undefined;
        value += String.fromCodePoint(code);
        i += braced[0].length;
      } else if (plain) {
        value += String.fromCharCode(parseInt(plain[0], 16));
        i += 4;
      } else return undefined;
    } else return undefined; // \r\n continuations, \1–\9, and anything else: let JavaScript say
  }
  return undefined;
}

/**
 * Whether the statement ends after the literal: `;`, or a line break after which the next
 * code cannot continue the expression.
 */
function endsStatement(text: string, end: number): boolean {
  const rest = /^[ \t]*(;|\/\/[^\n]*\n|\r?\n|$)/.exec(text.slice(end, end + 1000));
  if (!rest) return false;
  if (rest[1] === ";") return true;
  const next = /\S/.exec(text.slice(end + rest[0].length));
  // Without a semicolon, a next line starting with an operator, `.`, `(`, `[` or a template
  // would continue the expression.
  return next === null || !/[+\-*/%.?[(,|&<>=!`'"]/.test(next[0]);
}
