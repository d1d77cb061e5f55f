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
  return new Parser(out).parse();
}

/** A small JSON parser that knows where it is, so errors give line and column. */
class Parser {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  parse(): unknown {
    const value = this.#value();
    this.#blank();
    if (this.#at < this.#text.length) this.#fail("Unexpected text after the JSON value");
    return value;
  }

  #blank(): void {
    while (/\s/.test(this.#text[this.#at] ?? "")) this.#at++;
  }

  #value(): unknown {
    this.#blank();
    const c = this.#text[this.#at];
    if (c === "{") return this.#object();
    if (c === "[") return this.#array();
    if (c === '"') return this.#string();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(this.#text.slice(this.#at));
    if (!m) this.#fail(c === undefined ? "Unexpected end of JSON" : `Unexpected character ${JSON.stringify(c)}`);
    this.#at += m[0].length;
    return JSON.parse(m[0]);
  }

  #object(): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    this.#at++;
    for (let first = true;; first = false) {
      this.#blank();
      if (this.#text[this.#at] === "}") {
        this.#at++;
        return result;
      }
      if (!first) {
        this.#expect(",");
        this.#blank();
        // A trailing comma before the closing brace.
        if (this.#text[this.#at] === "}") continue;
      }
      if (this.#text[this.#at] !== '"') this.#fail("Expected a quoted key");
      const key = this.#string();
      this.#blank();
      this.#expect(":");
      result[key] = this.#value();
    }
  }

  #array(): unknown[] {
    const result: unknown[] = [];
    this.#at++;
    for (let first = true;; first = false) {
      this.#blank();
      if (this.#text[this.#at] === "]") {
        this.#at++;
        return result;
      }
      if (!first) {
        this.#expect(",");
        this.#blank();
        if (this.#text[this.#at] === "]") continue;
      }
      result.push(this.#value());
    }
  }

  #string(): string {
    // deno-lint-ignore no-control-regex -- JSON forbids raw control characters in strings
    const m = /^"(?:[^"\\\u0000-\u001f]|\\.)*"/.exec(this.#text.slice(this.#at));
    if (!m) this.#fail("Unterminated or invalid string");
    this.#at += m[0].length;
    return JSON.parse(m[0]);
  }

  #expect(char: string): void {
    if (this.#text[this.#at] !== char) this.#fail(`Expected "${char}"`);
    this.#at++;
  }

  #fail(message: string): never {
    const before = this.#text.slice(0, this.#at);
    const line = before.split("\n").length;
    const column = before.length - before.lastIndexOf("\n");
    throw new SyntaxError(`${message} at line ${line}, column ${column}`);
  }
}
