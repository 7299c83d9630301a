/**
 * Reads the first sheet of a small .xlsx (the API's errors.xlsx) into rows of cell texts, so the
 * console can show a task's rejected rows without shipping a spreadsheet library. An .xlsx is a zip
 * of XML files; entries are stored or deflated. The inflater is passed in: the browser's
 * DecompressionStream('deflate-raw'), or zlib in the unit tests.
 */

export type InflateRaw = (data: Uint8Array) => Promise<Uint8Array>;

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  localHeaderOffset: number;
}

function centralDirectory(bytes: Uint8Array): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // End of central directory: 22 bytes plus a comment of up to 64 KiB, at the end.
  let end = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error('not an .xlsx file (no zip directory)');
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (view.getUint32(at, true) !== 0x02014b50) throw new Error('corrupt zip directory');
    const method = view.getUint16(at + 10, true);
    const compressedSize = view.getUint32(at + 20, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const localHeaderOffset = view.getUint32(at + 42, true);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    entries.push({ name, method, compressedSize, localHeaderOffset });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

async function readEntry(bytes: Uint8Array, entry: ZipEntry, inflateRaw: InflateRaw): Promise<string> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = entry.localHeaderOffset;
  if (view.getUint32(at, true) !== 0x04034b50) throw new Error(`corrupt zip entry ${entry.name}`);
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  const data = bytes.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) return new TextDecoder().decode(data);
  if (entry.method === 8) return new TextDecoder().decode(await inflateRaw(data));
  throw new Error(`unsupported zip compression ${entry.method}`);
}

export function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (_, entity: string) => {
    const e = entity.toLowerCase();
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'amp') return '&';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return String.fromCodePoint(code);
  });
}

/** The text of every <t> inside a fragment (rich text has several runs). */
const texts = (fragment: string) => [...fragment.matchAll(/<t\b[^>]*>([\s\S]*?)<\/t>/g)].map((m) => decodeXml(m[1]!)).join('');

/** Column index (0-based) of a cell reference such as `C12`. */
export function columnIndex(ref: string): number {
  let n = 0;
  for (const ch of ref.toUpperCase()) {
    if (ch < 'A' || ch > 'Z') break;
    n = n * 26 + (ch.charCodeAt(0) - 64);
  }
  return n - 1;
}

/** The first worksheet's rows as cell texts (row 1 included), empty cells as ''. */
export async function readFirstSheet(file: Uint8Array, inflateRaw: InflateRaw): Promise<string[][]> {
  const entries = centralDirectory(file);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const sheets = entries
    .map((e) => e.name)
    .filter((n) => /^xl\/worksheets\/sheet\d+\.xml$/.test(n))
    .sort((a, b) => Number(/(\d+)\.xml$/.exec(a)![1]) - Number(/(\d+)\.xml$/.exec(b)![1]));
  if (sheets.length === 0) throw new Error('the workbook has no worksheet');
  const shared: string[] = [];
  const sharedEntry = byName.get('xl/sharedStrings.xml');
  if (sharedEntry) {
    const xml = await readEntry(file, sharedEntry, inflateRaw);
    for (const m of xml.matchAll(/<si\b[^>]*>([\s\S]*?)<\/si>/g)) shared.push(texts(m[1]!));
  }
  const xml = await readEntry(file, byName.get(sheets[0]!)!, inflateRaw);
  const rows: string[][] = [];
  for (const rowMatch of xml.matchAll(/<row\b([^>]*?)(?:\/>|>([\s\S]*?)<\/row>)/g)) {
    const number = /\br="(\d+)"/.exec(rowMatch[1]!);
    const cells: string[] = [];
    for (const cell of (rowMatch[2] ?? '').matchAll(/<c\b([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
      const attributes = cell[1]!;
      const body = cell[2] ?? '';
      const ref = /\br="([A-Z]+)\d+"/i.exec(attributes);
      const column = ref ? columnIndex(ref[1]!) : cells.length;
      const type = /\bt="([^"]+)"/.exec(attributes)?.[1];
      const value = /<v\b[^>]*>([\s\S]*?)<\/v>/.exec(body)?.[1];
      let text = '';
      if (type === 's') text = value !== undefined ? (shared[Number(value)] ?? '') : '';
      else if (type === 'inlineStr') text = texts(body);
      else if (type === 'b') text = value === '1' ? 'TRUE' : 'FALSE';
      else text = value !== undefined ? decodeXml(value) : '';
      while (cells.length < column) cells.push('');
      cells[column] = text;
    }
    const index = number ? Number(number[1]) - 1 : rows.length;
    while (rows.length < index) rows.push([]);
    rows[index] = cells;
  }
  return rows;
}
