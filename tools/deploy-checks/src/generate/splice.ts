/**
 * How `npm run generate` writes a section of a committed YAML file: it replaces that key and its value, and a
 * one-line note above it saying where the lines come from, and keeps every other byte of the file.
 */
import { isNode, isScalar, parseAllDocuments, Scalar, stringify, type Document, type YAMLMap } from 'yaml';

export interface GeneratedFile {
  /** Repo-relative. */
  file: string;
  /** What its generated sections are written from, for the messages. */
  from: string;
  text: string;
}

/** A stretch of the file's text and what replaces it. */
export interface Splice {
  from: number;
  to: number;
  text: string;
}

/** The text with the sections `sectionsOf` finds in its documents replaced; every other byte is kept. */
export function rewrite(text: string, sectionsOf: (doc: Document, text: string) => Splice[]): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new Error(`not a YAML stream:\n${text}`);
  const splices = docs.flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((error) => error.message).join('\n'));
    return sectionsOf(doc, text);
  });
  return splices
    .sort((a, b) => b.from - a.from)
    .reduce((result, { from, to, text: replacement }) => result.slice(0, from) + replacement + result.slice(to), text);
}

/**
 * The splice that puts `lines` (the key and its value, unindented) in place of `key` of a block map and its
 * value, with `# <note>` above; that note already there is replaced too.
 */
export function section(text: string, map: YAMLMap, key: string, note: string, lines: readonly string[]): Splice {
  const pair = map.items.find((item) => isScalar(item.key) && item.key.value === key);
  const keyRange = isScalar(pair?.key) ? pair.key.range : undefined;
  const valueRange = isNode(pair?.value) ? pair.value.range : undefined;
  if (!keyRange || !valueRange) throw new Error(`no ${key} to write`);
  const lineStart = text.lastIndexOf('\n', keyRange[0] - 1) + 1;
  const indent = text.slice(lineStart, keyRange[0]);
  if (indent.trim() !== '') throw new Error(`${key} is not a key of a block mapping`);
  const previousLine = text.lastIndexOf('\n', lineStart - 2) + 1;
  const from = text.slice(previousLine, lineStart) === `${indent}# ${note}\n` ? previousLine : lineStart;
  const to = text[valueRange[1] - 1] === '\n' ? valueRange[1] : text.indexOf('\n', valueRange[1]) + 1 || text.length;
  return { from, to, text: [`# ${note}`, ...lines].map((line) => `${indent}${line}\n`).join('') };
}

/** A map on one line, as the manifests write small ones: `{ name: query-srv, port: 4002 }`. */
export function flow(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trimEnd();
}

/** A string as a YAML scalar (plain where it can be). */
export function scalar(value: string): string {
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

/** A string as a double-quoted YAML scalar. */
export function quoted(value: string): string {
  const node = new Scalar(value);
  node.type = Scalar.QUOTE_DOUBLE;
  return stringify(node, { lineWidth: 0 }).trimEnd();
}
