/* Where keys are written in a TOML text (smol-toml gives no positions), and how a key path is named. */

/** Path of a key inside the document: table keys and array indexes. */
export type KeyPath = readonly (string | number)[];

const SEP = '\u0000';

/** Maps key paths to the 1-based line where each key (or table header, or array element) is written. */
export interface KeyLocator {
  /** The line of `path`, or of its nearest written ancestor; undefined if none is written. */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

/**
 * Builds a {@link KeyLocator} for a TOML text: `[table]` and `[[array]]` headers, dotted
 * and quoted keys, inline tables and multi-line arrays. smol-toml gives no positions.
 * Best effort: it never throws, and a text it cannot follow simply yields fewer lines.
 */
export function locateKeys(text: string): KeyLocator {
  const lines = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  let i = 0;
  let line = 1;
  const n = text.length;
  const peek = (k = 0): string => text[i + k] ?? '';
  const advance = (): void => {
    if (text[i] === '\n') line++;
    i++;
  };
  const record = (p: KeyPath, at: number): void => {
    const k = p.join(SEP);
    if (!lines.has(k)) lines.set(k, at);
  };
  const skipSpaces = (): void => {
    while (peek() === ' ' || peek() === '\t') advance();
  };
  const skipComment = (): void => {
    if (peek() === '#') while (i < n && peek() !== '\n') advance();
  };
  // Inside arrays and inline tables, newlines and comments are white space.
  const skipBlank = (): void => {
    for (;;) {
      const c = peek();
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') advance();
      else if (c === '#') skipComment();
      else return;
    }
  };
  const readString = (): string => {
    const q = peek();
    const multi = peek(1) === q && peek(2) === q;
    let out = '';
    if (multi) {
      advance();
      advance();
      advance();
      while (i < n && !(peek() === q && peek(1) === q && peek(2) === q)) {
        if (q === '"' && peek() === '\\') {
          advance();
        }
        out += peek();
        advance();
      }
      advance();
      advance();
      advance();
      while (peek() === q) advance();
      return out;
    }
    advance();
    while (i < n && peek() !== q && peek() !== '\n') {
      if (q === '"' && peek() === '\\') {
        advance();
        const e = peek();
        out += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        advance();
        continue;
      }
      out += peek();
      advance();
    }
    advance();
    return out;
  };
  const readKey = (): string[] => {
    const parts: string[] = [];
    for (;;) {
      skipSpaces();
      const c = peek();
      if (c === '"' || c === "'") parts.push(readString());
      else {
        let bare = '';
        while (/[A-Za-z0-9_-]/.test(peek())) {
          bare += peek();
          advance();
        }
        if (bare === '') return parts;
        parts.push(bare);
      }
      skipSpaces();
      if (peek() !== '.') return parts;
      advance();
    }
  };
  // Header keys name tables; a segment that is an array of tables means its latest element.
  const resolveHeader = (key: readonly string[]): (string | number)[] => {
    const out: (string | number)[] = [];
    for (const seg of key) {
      out.push(seg);
      const count = arrayCounts.get(out.join(SEP));
      if (count !== undefined) out.push(count - 1);
    }
    return out;
  };
  const readValue = (p: KeyPath): void => {
    skipSpaces();
    const c = peek();
    if (c === '"' || c === "'") {
      readString();
    } else if (c === '[') {
      advance();
      let index = 0;
      for (;;) {
        skipBlank();
        if (i >= n) return;
        if (peek() === ']') {
          advance();
          return;
        }
        record([...p, index], line);
        readValue([...p, index]);
        index++;
        skipBlank();
        if (peek() === ',') advance();
      }
    } else if (c === '{') {
      advance();
      for (;;) {
        skipBlank();
        if (i >= n) return;
        if (peek() === '}') {
          advance();
          return;
        }
        const at = line;
        const key = readKey();
        if (key.length === 0) return;
        const full = [...p, ...key];
        for (let k = p.length + 1; k <= full.length; k++) record(full.slice(0, k), at);
        skipSpaces();
        if (peek() === '=') advance();
        readValue(full);
        skipBlank();
        if (peek() === ',') advance();
      }
    } else {
      while (i < n && !/[,\]}\n#]/.test(peek())) advance();
    }
  };

  try {
    let table: (string | number)[] = [];
    while (i < n) {
      skipBlank();
      if (i >= n) break;
      const at = line;
      if (peek() === '[') {
        const isArray = peek(1) === '[';
        advance();
        if (isArray) advance();
        const key = readKey();
        if (isArray) {
          const prefix = resolveHeader(key.slice(0, -1));
          const base = [...prefix, key[key.length - 1] ?? ''];
          const b = base.join(SEP);
          const count = (arrayCounts.get(b) ?? 0) + 1;
          arrayCounts.set(b, count);
          record(base, at);
          table = [...base, count - 1];
        } else {
          table = resolveHeader(key);
        }
        for (let k = 1; k <= table.length; k++) record(table.slice(0, k), at);
        while (i < n && peek() !== '\n') advance();
        continue;
      }
      const key = readKey();
      if (key.length === 0) {
        while (i < n && peek() !== '\n') advance();
        continue;
      }
      const full = [...table, ...key];
      for (let k = table.length + 1; k <= full.length; k++) record(full.slice(0, k), at);
      skipSpaces();
      if (peek() === '=') advance();
      readValue(full);
      skipSpaces();
      skipComment();
    }
  } catch {
    // Best effort only: the lines found so far are still useful.
  }

  return {
    lineOf(path: readonly PropertyKey[]): number | undefined {
      for (let k = path.length; k > 0; k--) {
        const found = lines.get(path.slice(0, k).map(String).join(SEP));
        if (found !== undefined) return found;
      }
      return undefined;
    },
  };
}

/** Formats a key path as `entryPoints.https.auth.basic.users[0]` (quoting keys that are not bare). */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      const k = /^[A-Za-z0-9_-]+$/.test(s) ? s : JSON.stringify(s);
      out += out === '' ? k : `.${k}`;
    }
  }
  return out;
}
