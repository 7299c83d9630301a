import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import ExcelJS from 'exceljs';
import JSZip from 'jszip';
import {
  checkWorkbookFile,
  DEFAULT_WORKBOOK_LIMITS,
  locateWorkbookParts,
  WorkbookProblemError,
  type WorkbookLimits,
} from '../../core/workbook-check';
import { buildZip, deflatedEntry, WORKBOOK_PARTS } from '../support/hand-zip';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

let dir: string;
let realXlsx: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workbook-check-'));
  realXlsx = await writeRealXlsx('real.xlsx');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, data: Buffer | string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

async function writeRealXlsx(name: string): Promise<string> {
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('sms');
  sheet.addRow(['phone', 'text']);
  for (let i = 0; i < 200; i++) sheet.addRow([`+7999123${String(i).padStart(4, '0')}`, `Hello, customer ${i}`]);
  const file = path.join(dir, name);
  await workbook.xlsx.writeFile(file);
  return file;
}

/** `bytes` zeros deflated a mebibyte at a time, so building the bomb never holds it unpacked. */
async function deflateZeros(bytes: number): Promise<{ compressed: Buffer; crc: number }> {
  const chunk = Buffer.alloc(MiB);
  const deflate = zlib.createDeflateRaw({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (part: Buffer) => parts.push(part));
  const ended = once(deflate, 'end');
  let crc = 0;
  for (let written = 0; written < bytes; written += chunk.length) {
    crc = zlib.crc32(chunk, crc);
    if (!deflate.write(chunk)) await once(deflate, 'drain');
  }
  deflate.end();
  await ended;
  return { compressed: Buffer.concat(parts), crc };
}

// ---------------------------------------------------------------------------------------------
// Compound files ([MS-CFB]) written by hand

type CompoundEntry = { name: string; type: 'storage' | 'stream' };

const NO_STREAM = 0xffffffff;
const FREE_SECTOR = 0xffffffff;
const END_OF_CHAIN = 0xfffffffe;
const FAT_SECTOR = 0xfffffffd;

/**
 * A version 3 compound file (512-byte sectors), as Excel 97–2003 and Office's encryption write:
 * - header (512 bytes): signature D0 CF 11 E0 A1 B1 1A E1, CLSID 0, minor version 0x3E, major 3,
 *   byte order FFFE, sector shift 9, mini sector shift 6, the FAT's sector count, the first
 *   directory sector, mini stream cutoff 4096, no mini FAT, no DIFAT sectors, and DIFAT[0..108]
 *   = where the FAT's sectors are;
 * - sector n at offset (n + 1) × 512: first the FAT (128 next-sector ids per sector), then
 *   `fillerSectors` free sectors (standing in for stream data), then the directory sectors with a
 *   free sector between each two, so only following the chain through the FAT finds them all;
 * - directory entries (128 bytes, 4 per sector): UTF-16LE name and its NUL, the name's length in
 *   bytes, type (5 root, 1 storage, 2 stream), colour black, left/right/child ids (the entries hang
 *   as a right-leaning chain under the root), start sector END_OF_CHAIN and size 0: the streams are
 *   empty, only their names matter here.
 */
function buildCompoundFile(entries: CompoundEntry[], fillerSectors = 0): Buffer {
  const all = [{ name: 'Root Entry', type: 'root' as const }, ...entries];
  const directorySectors = Math.ceil(all.length / 4);
  const otherSectors = fillerSectors + directorySectors * 2 - 1;
  let fatSectors = 1;
  while (Math.ceil((fatSectors + otherSectors) / 128) > fatSectors) fatSectors++;
  if (fatSectors > 109) throw new Error('needs DIFAT sectors, which this builder does not write');
  const sectorCount = fatSectors + otherSectors;
  const directoryAt = (i: number) => fatSectors + fillerSectors + i * 2;

  const fat = new Array<number>(fatSectors * 128).fill(FREE_SECTOR);
  for (let i = 0; i < fatSectors; i++) fat[i] = FAT_SECTOR;
  for (let i = 0; i < directorySectors; i++) fat[directoryAt(i)] = i + 1 < directorySectors ? directoryAt(i + 1) : END_OF_CHAIN;

  const header = Buffer.alloc(512);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(header, 0);
  header.writeUInt16LE(0x3e, 0x18);
  header.writeUInt16LE(3, 0x1a);
  header.writeUInt16LE(0xfffe, 0x1c);
  header.writeUInt16LE(9, 0x1e);
  header.writeUInt16LE(6, 0x20);
  header.writeUInt32LE(fatSectors, 0x2c);
  header.writeUInt32LE(directoryAt(0), 0x30);
  header.writeUInt32LE(4096, 0x38);
  header.writeUInt32LE(END_OF_CHAIN, 0x3c);
  header.writeUInt32LE(END_OF_CHAIN, 0x44);
  for (let i = 0; i < 109; i++) header.writeUInt32LE(i < fatSectors ? i : FREE_SECTOR, 0x4c + i * 4);

  const sectors = Buffer.alloc(sectorCount * 512);
  fat.forEach((next, i) => sectors.writeUInt32LE(next, i * 4));
  for (let i = 0; i < directorySectors * 4; i++) {
    const at = directoryAt(Math.floor(i / 4)) * 512 + (i % 4) * 128;
    sectors.writeUInt32LE(NO_STREAM, at + 0x44);
    sectors.writeUInt32LE(NO_STREAM, at + 0x48);
    sectors.writeUInt32LE(NO_STREAM, at + 0x4c);
    const entry = all[i];
    if (!entry) continue; // an unused slot: type 0
    sectors.write(entry.name, at, 'utf16le');
    sectors.writeUInt16LE((entry.name.length + 1) * 2, at + 0x40);
    sectors[at + 0x42] = entry.type === 'root' ? 5 : entry.type === 'storage' ? 1 : 2;
    sectors[at + 0x43] = 1; // black
    if (i === 0) sectors.writeUInt32LE(1, at + 0x4c);
    else if (i + 1 < all.length) sectors.writeUInt32LE(i + 1, at + 0x48);
    sectors.writeUInt32LE(END_OF_CHAIN, at + 0x74);
  }
  return Buffer.concat([header, sectors]);
}

/** What a password-protected .xlsx holds ([MS-OFFCRYPTO] 2.3.4): the data spaces and the two streams. */
const ENCRYPTED_XLSX_ENTRIES: CompoundEntry[] = [
  { name: '\u0006DataSpaces', type: 'storage' },
  { name: 'Version', type: 'stream' },
  { name: 'DataSpaceMap', type: 'stream' },
  { name: 'EncryptionInfo', type: 'stream' },
  { name: 'EncryptedPackage', type: 'stream' },
];

// ---------------------------------------------------------------------------------------------

describe('checkWorkbookFile', () => {
  it('passes a real .xlsx written by ExcelJS, and one written by its streaming writer', async () => {
    expect(await checkWorkbookFile(realXlsx)).toBeUndefined();

    const streamed = path.join(dir, 'streamed.xlsx');
    const writer = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: streamed });
    const sheet = writer.addWorksheet('sms');
    sheet.addRow(['phone', 'text']).commit();
    for (let i = 0; i < 100; i++) sheet.addRow([`+7999000${String(i).padStart(4, '0')}`, 'Hi']).commit();
    sheet.commit();
    await writer.commit();
    expect(await checkWorkbookFile(streamed)).toBeUndefined();
  });

  it('refuses an empty file', async () => {
    expect(await checkWorkbookFile(write('empty.xlsx', ''))).toEqual({
      code: 'empty_file',
      message: 'the file is empty (0 bytes): upload the workbook again',
    });
  });

  describe('text renamed to .xlsx', () => {
    const csvMessage = 'this is a CSV or text file renamed to .xlsx: open it in Excel and save it as .xlsx';

    it('recognises a two-column UTF-8 CSV', async () => {
      const csv = 'phone,name\r\n+79991234567,Анна\r\n+79991234568,Boris\r\n';
      expect(await checkWorkbookFile(write('csv.xlsx', csv))).toEqual({ code: 'csv_or_text', message: csvMessage });
    });

    it('recognises a CSV saved in a Windows code page, and Excel\'s UTF-16 "Unicode text"', async () => {
      const cp1251 = Buffer.concat([Buffer.from('phone;name\r\n+79991234567;'), Buffer.from([0xc0, 0xed, 0xed, 0xe0]), Buffer.from('\r\n')]);
      expect(await checkWorkbookFile(write('cp1251.xlsx', cp1251))).toEqual({ code: 'csv_or_text', message: csvMessage });

      const unicodeText = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('phone\tname\r\n+79991234567\tАнна\r\n', 'utf16le')]);
      expect(await checkWorkbookFile(write('utf16.xlsx', unicodeText))).toEqual({ code: 'csv_or_text', message: csvMessage });
    });

    it('says "HTML" for the web page some programs export as an Excel file', async () => {
      const html = '<html><body><table><tr><td>phone</td></tr><tr><td>+79991234567</td></tr></table></body></html>';
      const problem = await checkWorkbookFile(write('export.xlsx', html));
      expect(problem?.code).toBe('csv_or_text');
      expect(problem?.message).toMatch(/^this is a web page \(HTML\) or XML file renamed to \.xlsx/);
      expect(problem?.message).toMatch(/open it in Excel and save it as \.xlsx$/);
    });
  });

  describe('compound (OLE2) files', () => {
    it('calls a file with only a compound file header an Excel 97–2003 .xls', async () => {
      const headerOnly = buildCompoundFile([{ name: 'Workbook', type: 'stream' }]).subarray(0, 512);
      expect(await checkWorkbookFile(write('header-only.xlsx', headerOnly))).toEqual({
        code: 'legacy_xls',
        message: 'this is an Excel 97–2003 .xls file: open it in Excel and save it as .xlsx',
      });
    });

    it('calls a compound file with a Workbook stream an Excel 97–2003 .xls', async () => {
      const xls = buildCompoundFile([
        { name: 'Workbook', type: 'stream' },
        { name: '\u0005SummaryInformation', type: 'stream' },
      ]);
      expect((await checkWorkbookFile(write('book.xls.xlsx', xls)))?.code).toBe('legacy_xls');
    });

    const passwordProtected = {
      code: 'password_protected',
      message: 'the workbook is password-protected: remove the password in Excel (File → Info → Protect Workbook) and upload again',
    };

    it('finds EncryptionInfo and EncryptedPackage in the directory of a password-protected .xlsx', async () => {
      expect(await checkWorkbookFile(write('protected.xlsx', buildCompoundFile(ENCRYPTED_XLSX_ENTRIES)))).toEqual(passwordProtected);
    });

    it('follows the directory chain through the FAT, past 5 MiB of other sectors', async () => {
      const file = buildCompoundFile(ENCRYPTED_XLSX_ENTRIES, (5 * MiB) / 512);
      // The names sit beyond where a scan of the first 4 MiB would look.
      expect(file.indexOf(Buffer.from('EncryptedPackage', 'utf16le'))).toBeGreaterThan(5 * MiB);
      expect(await checkWorkbookFile(write('protected-far.xlsx', file))).toEqual(passwordProtected);
    });

    it('falls back to a scan for the names when the header is damaged', async () => {
      const file = buildCompoundFile(ENCRYPTED_XLSX_ENTRIES);
      file.writeUInt16LE(0, 0x1e); // sector shift 0: no sector size a reader could use
      expect(await checkWorkbookFile(write('protected-damaged.xlsx', file))).toEqual(passwordProtected);
    });

    it('tells a Word 97–2003 document apart', async () => {
      const doc = buildCompoundFile([{ name: 'WordDocument', type: 'stream' }]);
      expect(await checkWorkbookFile(write('letter.doc.xlsx', doc))).toEqual({
        code: 'not_xlsx',
        message: 'this is a Word 97–2003 .doc document, not an Excel workbook (.xlsx)',
      });
    });
  });

  describe('other files', () => {
    it('refuses random bytes as not a workbook', async () => {
      const noise = randomBytes(64 * 1024);
      noise[0] = 0x01; // not by chance a signature this module knows
      expect(await checkWorkbookFile(write('noise.xlsx', noise))).toEqual({
        code: 'not_xlsx',
        message: 'the file is not an Excel workbook (.xlsx): upload a workbook saved by Excel as .xlsx',
      });
    });

    it('names a PDF, whose start reads like text', async () => {
      expect(await checkWorkbookFile(write('report.xlsx', '%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n'))).toEqual({
        code: 'not_xlsx',
        message: 'this is a PDF document, not an Excel workbook (.xlsx)',
      });
    });
  });

  describe('zips that are not workbooks', () => {
    async function jszip(files: Record<string, string>): Promise<Buffer> {
      const zip = new JSZip();
      for (const [name, content] of Object.entries(files)) zip.file(name, content);
      return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
    }

    it('refuses a zip without xl/workbook.xml', async () => {
      const zip = await jszip({ 'notes.txt': 'hello', 'data/phones.csv': 'phone\n+79991234567\n' });
      expect(await checkWorkbookFile(write('archive.xlsx', zip))).toEqual({
        code: 'not_xlsx',
        message: 'a zip file, but not an Excel workbook (.xlsx)',
      });
    });

    it('refuses a zip with xl/workbook.xml but no [Content_Types].xml', async () => {
      const zip = await jszip({ 'xl/workbook.xml': '<workbook/>' });
      expect((await checkWorkbookFile(write('parts.xlsx', zip)))?.code).toBe('not_xlsx');
    });

    it('names an .xlsb, and an empty zip', async () => {
      const xlsb = await jszip({ '[Content_Types].xml': '<Types/>', 'xl/workbook.bin': 'binary' });
      expect(await checkWorkbookFile(write('book.xlsb.xlsx', xlsb))).toEqual({
        code: 'not_xlsx',
        message: 'this is an Excel binary workbook (.xlsb): open it in Excel and save it as .xlsx',
      });
      const empty = await jszip({});
      expect(empty.length).toBe(22); // only the end of central directory record
      expect(await checkWorkbookFile(write('empty-zip.xlsx', empty))).toEqual({
        code: 'not_xlsx',
        message: 'an empty zip file, not an Excel workbook (.xlsx)',
      });
    });

    it('calls a workbook zip with encrypted entries password-protected', async () => {
      const entries = WORKBOOK_PARTS().map((entry) => ({ ...entry, flags: 0x0001 }));
      expect(await checkWorkbookFile(write('encrypted-zip.xlsx', buildZip(entries)))).toEqual({
        code: 'password_protected',
        message: 'the file is a password-protected zip archive: remove the password (or unpack it) and upload the .xlsx itself',
      });
    });

    it('passes the hand-built workbook zip the other tests start from (and JSZip reads it)', async () => {
      const zip = buildZip(WORKBOOK_PARTS());
      expect(await (await JSZip.loadAsync(zip)).file('xl/workbook.xml')?.async('string')).toBe('<?xml version="1.0"?><workbook/>');
      expect(await checkWorkbookFile(write('minimal.xlsx', zip))).toBeUndefined();
    });
  });

  describe('zip bombs', () => {
    it('refuses 300 MB of zeros deflated into one sheet, by its ratio, without inflating it', async () => {
      const zeros = 300 * MiB;
      const { compressed, crc } = await deflateZeros(zeros);
      const bombEntry = { name: 'xl/worksheets/sheet1.xml', stored: compressed, method: 8, uncompressedSize: zeros, crc };
      const file = write('bomb.xlsx', buildZip([...WORKBOOK_PARTS(), bombEntry]));
      expect(fs.statSync(file).size).toBeLessThan(1 * MiB);

      const started = performance.now();
      const problem = await checkWorkbookFile(file);
      const elapsed = performance.now() - started;
      expect(problem?.code).toBe('zip_bomb');
      const ratio = Math.round(zeros / compressed.length).toLocaleString('en-US');
      expect(problem?.message).toBe(
        `the part "xl/worksheets/sheet1.xml" would unpack to 300 MB from ${(compressed.length / 1024).toFixed(1).replace(/\.0$/, '')} KB, ` +
          `${ratio}:1 (limit 200:1): this looks like a zip bomb, not a workbook`,
      );
      // Inflating 300 MB takes far longer than reading a directory of three entries.
      expect(elapsed).toBeLessThan(500);
    });

    it('refuses a ZIP64 entry claiming 12.3 GB, naming the figures', async () => {
      const claimed = Math.round(12.3 * GiB);
      const entry = { name: 'xl/worksheets/sheet1.xml', stored: randomBytes(4096), method: 8, uncompressedSize: claimed, crc: 0 };
      const file = write('zip64-bomb.xlsx', buildZip([...WORKBOOK_PARTS(), entry], { zip64: true }));
      expect(await checkWorkbookFile(file)).toEqual({
        code: 'zip_bomb',
        message: 'the workbook would unpack to 12.3 GB (limit 1 GB): split the rows into smaller workbooks',
      });
    });

    it('reads a modest ZIP64 workbook like any other', async () => {
      expect(await checkWorkbookFile(write('zip64.xlsx', buildZip(WORKBOOK_PARTS(), { zip64: true })))).toBeUndefined();
    });

    it('refuses a real workbook over a small total limit, and too many entries', async () => {
      const tiny: WorkbookLimits = { ...DEFAULT_WORKBOOK_LIMITS, maxUncompressedBytes: 1000 };
      const overTotal = await checkWorkbookFile(realXlsx, tiny);
      expect(overTotal?.code).toBe('zip_bomb');
      expect(overTotal?.message).toMatch(/^the workbook would unpack to \d+(\.\d)? KB \(limit 1000 bytes\): split the rows into smaller workbooks$/);

      const fewEntries: WorkbookLimits = { ...DEFAULT_WORKBOOK_LIMITS, maxEntries: 5 };
      expect(await checkWorkbookFile(realXlsx, fewEntries)).toEqual({
        code: 'zip_bomb',
        message: expect.stringMatching(/^the file holds \d+ zip entries \(limit 5\): this looks like a zip bomb, not a workbook$/),
      });
    });
  });

  describe('damaged zips', () => {
    it('calls the first half of a real workbook corrupt', async () => {
      const whole = fs.readFileSync(realXlsx);
      expect(await checkWorkbookFile(write('half.xlsx', whole.subarray(0, Math.floor(whole.length / 2))))).toEqual({
        code: 'corrupt',
        message:
          'the file is damaged or incomplete (the end of the zip, which lists its contents, is missing): upload it again, or open it in Excel and save it again',
      });
    });

    const damaged = {
      code: 'corrupt',
      message: 'the file is damaged (its zip directory is inconsistent): upload it again, or open it in Excel and save it again',
    };

    it('calls a directory that points outside the file corrupt', async () => {
      const bytes = Buffer.from(fs.readFileSync(realXlsx));
      const end = bytes.lastIndexOf(Buffer.from('PK\x05\x06', 'latin1'));
      bytes.writeUInt32LE(0x7fffffff, end + 16);
      expect(await checkWorkbookFile(write('far-directory.xlsx', bytes))).toEqual(damaged);
    });

    it('calls a directory holding more entries than it declares corrupt', async () => {
      const zip = buildZip([...WORKBOOK_PARTS(), deflatedEntry('xl/extra.xml', '<x/>')], { claimedEntryCount: 2 });
      expect(await checkWorkbookFile(write('hidden-entries.xlsx', zip))).toEqual(damaged);
    });

    it('calls an entry claiming more compressed bytes than the file holds corrupt', async () => {
      const [types, workbook] = WORKBOOK_PARTS();
      const zip = buildZip([types!, workbook!]);
      const directory = zip.indexOf(Buffer.from('PK\x01\x02', 'latin1'));
      zip.writeUInt32LE(10 * MiB, directory + 20);
      expect(await checkWorkbookFile(write('long-entry.xlsx', zip))).toEqual(damaged);
    });
  });
});

describe('locateWorkbookParts', () => {
  it('finds each wanted part where its bytes lie: inflated, they are what a zip library reads', async () => {
    const parts = await locateWorkbookParts(realXlsx, (name) => name.startsWith('xl/') && name.endsWith('.xml'));
    expect(parts.map((p) => p.name).sort()).toEqual(expect.arrayContaining(['xl/workbook.xml', 'xl/worksheets/sheet1.xml', 'xl/styles.xml']));
    expect(parts.some((p) => p.name === '[Content_Types].xml')).toBe(false);
    const bytes = fs.readFileSync(realXlsx);
    const zip = await JSZip.loadAsync(bytes);
    for (const part of parts) {
      const raw = bytes.subarray(part.dataStart, part.dataStart + part.compressedSize);
      const inflated = part.method === 8 ? zlib.inflateRawSync(raw) : raw;
      expect(inflated.length).toBe(part.uncompressedSize);
      expect(inflated.toString('utf8')).toBe(await zip.file(part.name)!.async('string'));
    }
  });

  it('ZIP64 directories too', async () => {
    const file = write('zip64-parts.xlsx', buildZip(WORKBOOK_PARTS(), { zip64: true }));
    const [part] = await locateWorkbookParts(file, (name) => name === 'xl/workbook.xml');
    const bytes = fs.readFileSync(file);
    expect(zlib.inflateRawSync(bytes.subarray(part!.dataStart, part!.dataStart + part!.compressedSize)).toString()).toBe('<?xml version="1.0"?><workbook/>');
  });

  it('a local header missing where the directory points is a damaged file', async () => {
    const zip = buildZip([deflatedEntry('xl/workbook.xml', '<workbook/>'), deflatedEntry('[Content_Types].xml', '<Types/>')]);
    zip.writeUInt32LE(0, 0);
    const file = write('no-local-header.xlsx', zip);
    const error = await locateWorkbookParts(file, (name) => name === 'xl/workbook.xml').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkbookProblemError);
    expect((error as WorkbookProblemError).problem.code).toBe('corrupt');
    // Parts not asked for are not looked at.
    expect(await locateWorkbookParts(file, (name) => name === '[Content_Types].xml')).toHaveLength(1);
  });
});
