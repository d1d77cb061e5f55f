/**
 * A small JSON-with-comments reader for `tide.json` (std's `@std/jsonc` is not reachable here).
 *
 * @module
 */

/**
 * Parses JSON that may contain `//` and `/* *\/` comments and trailing commas.
 *
 * @throws {SyntaxError} when the text is not valid JSONC; the message gives line and column.
 */
export function parseJsonc(text: string): unknown {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const start = i++;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      out += text.slice(start, ++i);
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end === -1 ? text.length : end + 2;
      // Keep newlines so that JSON.parse's positions still point at the right line.
      out += text.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  // Trailing commas: a comma followed only by blanks before a closing bracket.
  out = out.replace(/,(\s*[}\]])/g, " $1");
  try {
    return JSON.parse(out);
  } catch (error) {
    throw new SyntaxError(describeJsonError(out, error));
  }
}

function describeJsonError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const match = /position (\d+)/.exec(message);
  if (!match) return message;
  const before = text.slice(0, Number(match[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${message.replace(/ in JSON at position \d+.*$/, "")} at line ${line}, column ${column}`;
}
