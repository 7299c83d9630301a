/**
 * A first look at an uploaded "xlsx" before ExcelJS's streaming reader sees it: tells an empty file,
 * an Excel 97–2003 .xls, a password-protected workbook, a renamed CSV, a zip bomb, a damaged zip and
 * any other file apart from a workbook, each with a reason the user can act on.
 *
 * It reads the file's first 4 KB and then only the structures that describe it: a zip's end of
 * central directory record and central directory, or a compound file's header, FAT and directory
 * sectors. It never inflates anything, so a bomb costs a few small reads.
 *
 * The central directory check is the main defence: ordinary zip bombs state their sizes honestly,
 * and a workbook that claims more than the limits is refused before a byte is inflated. A crafted
 * zip can understate its sizes, though (only inflating tells the truth): the importer's reader
 * (api/services/worksheet-rows.ts) opens the parts `locateWorkbookParts` finds and stops any part
 * that inflates beyond the size the directory stated.
 */
import { open, type FileHandle } from 'node:fs/promises';

export interface WorkbookLimits {
  /** The most all entries of the zip may unpack to together. */
  maxUncompressedBytes: number;
  /** The most bytes one entry may unpack to per byte it takes in the zip. */
  maxCompressionRatio: number;
  maxEntries: number;
  /**
   * Entries unpacking to at most this many bytes skip the ratio check: a small, repetitive XML part
   * (an empty sheet, styles) can honestly compress far beyond 200:1 and costs nothing. Default 1 MiB.
   */
  ratioCheckFromBytes?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const DEFAULT_WORKBOOK_LIMITS: WorkbookLimits = Object.freeze({
  maxUncompressedBytes: 1 * GiB,
  maxCompressionRatio: 200,
  maxEntries: 10_000,
  ratioCheckFromBytes: 1 * MiB,
});

export type WorkbookProblemCode =
  | 'not_xlsx'
  | 'legacy_xls'
  | 'password_protected'
  | 'csv_or_text'
  | 'zip_bomb'
  | 'corrupt'
  | 'empty_file';

export type WorkbookProblem = { code: WorkbookProblemCode; message: string };

/** Raised by `locateWorkbookParts`; carries the problem to show the user. */
export class WorkbookProblemError extends Error {
  constructor(readonly problem: WorkbookProblem) {
    super(problem.message);
    this.name = 'WorkbookProblemError';
  }
}

const SAVE_AS_XLSX = 'open it in Excel and save it as .xlsx';

const MESSAGES = {
  empty: 'the file is empty (0 bytes): upload the workbook again',
  legacyXls: `this is an Excel 97–2003 .xls file: ${SAVE_AS_XLSX}`,
  passwordProtected:
    'the workbook is password-protected: remove the password in Excel (File → Info → Protect Workbook) and upload again',
  encryptedZip: 'the file is a password-protected zip archive: remove the password (or unpack it) and upload the .xlsx itself',
  csv: `this is a CSV or text file renamed to .xlsx: ${SAVE_AS_XLSX}`,
  markup: `this is a web page (HTML) or XML file renamed to .xlsx, as some programs export "Excel" files: ${SAVE_AS_XLSX}`,
  notXlsx: 'the file is not an Excel workbook (.xlsx): upload a workbook saved by Excel as .xlsx',
  zipNotWorkbook: 'a zip file, but not an Excel workbook (.xlsx)',
  emptyZip: 'an empty zip file, not an Excel workbook (.xlsx)',
  xlsb: `this is an Excel binary workbook (.xlsb): ${SAVE_AS_XLSX}`,
  docx: 'this is a Word document, not an Excel workbook (.xlsx)',
  pptx: 'this is a PowerPoint presentation, not an Excel workbook (.xlsx)',
  openDocument: 'this is an OpenDocument file (such as a LibreOffice .ods): open it and save it as an Excel workbook (.xlsx)',
  doc: 'this is a Word 97–2003 .doc document, not an Excel workbook (.xlsx)',
  ppt: 'this is a PowerPoint 97–2003 .ppt presentation, not an Excel workbook (.xlsx)',
  incomplete:
    'the file is damaged or incomplete (the end of the zip, which lists its contents, is missing): upload it again, or open it in Excel and save it again',
  damaged: 'the file is damaged (its zip directory is inconsistent): upload it again, or open it in Excel and save it again',
  multiPart: 'the file is one part of a zip split across several files, not a whole workbook',
} as const;

/**
 * Reads only the file's first bytes and its zip central directory (at the end of the file).
 * Undefined when the file looks like a workbook ExcelJS can read; rejects only on I/O errors.
 */
export async function checkWorkbookFile(
  path: string,
  limits: WorkbookLimits = DEFAULT_WORKBOOK_LIMITS,
): Promise<WorkbookProblem | undefined> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size === 0) return { code: 'empty_file', message: MESSAGES.empty };
    const head = await readAt(file, 0, Math.min(size, HEAD_BYTES));
    if (startsWith(head, CFB_SIGNATURE)) return await checkCompoundFile(file, size, head);
    if (startsWith(head, ZIP_LOCAL_HEADER) || startsWith(head, ZIP_END_OF_DIRECTORY)) return await checkZip(file, size, limits);
    return checkOtherFile(head);
  } finally {
    await file.close();
  }
}

/** Where one part of a workbook's zip lies: its compressed bytes are [dataStart, dataStart + compressedSize). */
export interface ZipPart {
  name: string;
  /** 0 stored, 8 deflated (the only two `checkWorkbookFile` lets through). */
  method: number;
  dataStart: number;
  compressedSize: number;
  uncompressedSize: number;
}

/**
 * The parts of a workbook that passed `checkWorkbookFile`, located through its central directory
 * and local headers, so a reader can open exactly the parts it needs, in the order it needs them.
 * (A single pass over the local headers, as ExcelJS's streaming reader makes, intermittently loses
 * an entry under load: exceljs#3064.) `wanted` picks the parts by name. Rejects with a
 * WorkbookProblemError when the layout is inconsistent.
 */
export async function locateWorkbookParts(path: string, wanted: (name: string) => boolean): Promise<ZipPart[]> {
  const damaged = () => new WorkbookProblemError({ code: 'corrupt', message: MESSAGES.damaged });
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const located = await locateCentralDirectory(file, size);
    if ('code' in located) throw new WorkbookProblemError(located);
    const reader = new WindowReader(file, located.offset + located.size);
    const entries: DirectoryEntry[] = [];
    let position = located.offset;
    for (let index = 0; index < located.entryCount; index++) {
      const entry = await readDirectoryEntry(reader, position);
      if (!entry) throw damaged();
      position = entry.next;
      if (wanted(entry.name)) entries.push(entry);
    }
    const parts: ZipPart[] = [];
    for (const entry of entries) {
      const header = await readAt(file, entry.localHeaderOffset, LOCAL_HEADER_SIZE);
      if (header.length < LOCAL_HEADER_SIZE || header.readUInt32LE(0) !== ZIP_LOCAL_HEADER_SIGNATURE) throw damaged();
      const dataStart = entry.localHeaderOffset + LOCAL_HEADER_SIZE + header.readUInt16LE(26) + header.readUInt16LE(28);
      if (dataStart + entry.compressedSize > located.offset) throw damaged();
      parts.push({ name: entry.name, method: entry.method, dataStart, compressedSize: entry.compressedSize, uncompressedSize: entry.uncompressedSize });
    }
    return parts;
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Enough to recognise text and to hold a compound file's 512-byte header. */
const HEAD_BYTES = 4 * KiB;

/** Reads up to `length` bytes at `position`; shorter only at the end of the file. */
async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

function startsWith(buffer: Buffer, prefix: Buffer): boolean {
  return buffer.length >= prefix.length && buffer.subarray(0, prefix.length).equals(prefix);
}

/** A little-endian 64-bit field as a number; beyond 2^53 it is only approximate, which is fine for "absurd". */
function readUInt64(buffer: Buffer, offset: number): number {
  return Number(buffer.readBigUInt64LE(offset));
}

// ---------------------------------------------------------------------------------------------
// Zip (an .xlsx is one)

const ZIP_LOCAL_HEADER = Buffer.from('PK\x03\x04', 'latin1');
const ZIP_END_OF_DIRECTORY = Buffer.from('PK\x05\x06', 'latin1');
const ZIP_DIRECTORY_ENTRY = 0x02014b50;
const ZIP_LOCAL_HEADER_SIGNATURE = 0x04034b50;
const ZIP_END_OF_DIRECTORY_SIGNATURE = 0x06054b50;
const ZIP64_END_OF_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const END_OF_DIRECTORY_SIZE = 22;
const MAX_ZIP_COMMENT = 0xffff;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_END_OF_DIRECTORY_SIZE = 56;
const DIRECTORY_ENTRY_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const ZIP64_EXTRA_FIELD = 0x0001;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8_NAME = 0x0800;
/** Stored and deflated: all Excel writes, and all ExcelJS's unzipper reads. */
const SUPPORTED_METHODS = new Set([0, 8]);

/** The entry names that tell what a zip is; only these are remembered (a zip may hold thousands). */
const TELLING_NAMES = [
  'xl/workbook.xml',
  '[Content_Types].xml',
  'xl/workbook.bin',
  'word/document.xml',
  'ppt/presentation.xml',
  'mimetype',
  'content.xml',
] as const;
type TellingName = (typeof TELLING_NAMES)[number];

interface CentralDirectory {
  entryCount: number;
  offset: number;
  size: number;
  /** Where the directory must have ended: at the record that describes it. */
  limit: number;
}

async function checkZip(file: FileHandle, size: number, limits: WorkbookLimits): Promise<WorkbookProblem | undefined> {
  const located = await locateCentralDirectory(file, size);
  if ('code' in located) return located;
  const directory = located;
  if (directory.entryCount > limits.maxEntries) {
    return bomb(`the file holds ${formatCount(directory.entryCount)} zip entries (limit ${formatCount(limits.maxEntries)})`);
  }
  if (
    directory.offset + directory.size > directory.limit ||
    directory.size < directory.entryCount * DIRECTORY_ENTRY_SIZE
  ) {
    return { code: 'corrupt', message: MESSAGES.damaged };
  }

  const ratioCheckFromBytes = limits.ratioCheckFromBytes ?? DEFAULT_WORKBOOK_LIMITS.ratioCheckFromBytes ?? MiB;
  const reader = new WindowReader(file, directory.offset + directory.size);
  const names = new Set<TellingName>();
  let position = directory.offset;
  let totalUncompressed = 0;
  let encrypted = false;
  let unsupportedMethod: number | undefined;
  for (let index = 0; index < directory.entryCount; index++) {
    const entry = await readDirectoryEntry(reader, position);
    if (!entry) return { code: 'corrupt', message: MESSAGES.damaged };
    position = entry.next;
    // An entry's data lies between its local header and the directory: claims beyond that are lies.
    if (entry.localHeaderOffset + LOCAL_HEADER_SIZE + entry.compressedSize > directory.offset) {
      return { code: 'corrupt', message: MESSAGES.damaged };
    }
    totalUncompressed += entry.uncompressedSize;
    if (totalUncompressed > limits.maxUncompressedBytes) {
      // Sum the rest too, so the message names the whole figure; reading names only is cheap.
      const total = await sumRemainingSizes(reader, position, directory.entryCount - index - 1, totalUncompressed);
      // An honest workbook can be this big too, so the advice is the one that helps it.
      return {
        code: 'zip_bomb',
        message: `the workbook would unpack to ${formatBytes(total)} (limit ${formatBytes(limits.maxUncompressedBytes)}): split the rows into smaller workbooks`,
      };
    }
    if (entry.uncompressedSize > ratioCheckFromBytes) {
      const ratio = entry.uncompressedSize / Math.max(entry.compressedSize, 1);
      if (ratio > limits.maxCompressionRatio) {
        return bomb(
          `the part "${printableName(entry.name)}" would unpack to ${formatBytes(entry.uncompressedSize)} from ${formatBytes(entry.compressedSize)}, ` +
            `${formatCount(Math.round(ratio))}:1 (limit ${formatCount(limits.maxCompressionRatio)}:1)`,
        );
      }
    }
    if (entry.flags & FLAG_ENCRYPTED) encrypted = true;
    if (!SUPPORTED_METHODS.has(entry.method)) unsupportedMethod ??= entry.method;
    if ((TELLING_NAMES as readonly string[]).includes(entry.name)) names.add(entry.name as TellingName);
  }
  // A directory that goes on past the count it declares hides entries from the count check.
  if (position + 4 <= directory.offset + directory.size) {
    const more = await reader.bytes(position, 4);
    if (more && more.readUInt32LE(0) === ZIP_DIRECTORY_ENTRY) return { code: 'corrupt', message: MESSAGES.damaged };
  }

  if (directory.entryCount === 0) return { code: 'not_xlsx', message: MESSAGES.emptyZip };
  if (!names.has('xl/workbook.xml') || !names.has('[Content_Types].xml')) {
    return { code: 'not_xlsx', message: whatZipIsThis(names) };
  }
  if (encrypted) return { code: 'password_protected', message: MESSAGES.encryptedZip };
  if (unsupportedMethod !== undefined) {
    return {
      code: 'not_xlsx',
      message: `the workbook is compressed in a way Excel never uses (zip method ${unsupportedMethod}): ${SAVE_AS_XLSX}`,
    };
  }
  return undefined;
}

function whatZipIsThis(names: Set<TellingName>): string {
  if (names.has('xl/workbook.bin')) return MESSAGES.xlsb;
  if (names.has('word/document.xml')) return MESSAGES.docx;
  if (names.has('ppt/presentation.xml')) return MESSAGES.pptx;
  if (names.has('mimetype') && names.has('content.xml')) return MESSAGES.openDocument;
  return MESSAGES.zipNotWorkbook;
}

/** Finds the end of central directory record (and its ZIP64 form) and reads where the directory is. */
async function locateCentralDirectory(file: FileHandle, size: number): Promise<CentralDirectory | WorkbookProblem> {
  const tailLength = Math.min(size, END_OF_DIRECTORY_SIZE + MAX_ZIP_COMMENT);
  const tailStart = size - tailLength;
  const tail = await readAt(file, tailStart, tailLength);
  const recordInTail = findEndOfDirectory(tail);
  if (recordInTail < 0) return { code: 'corrupt', message: MESSAGES.incomplete };
  const recordPosition = tailStart + recordInTail;
  const record = tail.subarray(recordInTail, recordInTail + END_OF_DIRECTORY_SIZE);
  const disk = record.readUInt16LE(4);
  const directoryDisk = record.readUInt16LE(6);
  const directory: CentralDirectory = {
    entryCount: record.readUInt16LE(10),
    size: record.readUInt32LE(12),
    offset: record.readUInt32LE(16),
    limit: recordPosition,
  };

  const zip64 = await readZip64Directory(file, recordPosition);
  if (zip64 === 'damaged') return { code: 'corrupt', message: MESSAGES.damaged };
  if (zip64 === 'multi-part' || (!zip64 && (disk !== 0 || directoryDisk !== 0))) {
    return { code: 'corrupt', message: MESSAGES.multiPart };
  }
  if (zip64) return zip64;
  if (directory.entryCount === 0xffff || directory.size === 0xffffffff || directory.offset === 0xffffffff) {
    // The fields say "see the ZIP64 record", but there is none.
    return { code: 'corrupt', message: MESSAGES.damaged };
  }
  return directory;
}

/** The last `PK\x05\x06` whose comment fits in the file; searching backwards skips look-alikes in data. */
function findEndOfDirectory(tail: Buffer): number {
  for (let at = tail.length - END_OF_DIRECTORY_SIZE; at >= 0; at--) {
    if (tail.readUInt32LE(at) !== ZIP_END_OF_DIRECTORY_SIGNATURE) continue;
    const commentLength = tail.readUInt16LE(at + 20);
    if (at + END_OF_DIRECTORY_SIZE + commentLength <= tail.length) return at;
  }
  return -1;
}

/** The ZIP64 end of central directory, when a locator sits right before the classic record. */
async function readZip64Directory(
  file: FileHandle,
  recordPosition: number,
): Promise<CentralDirectory | 'damaged' | 'multi-part' | undefined> {
  if (recordPosition < ZIP64_LOCATOR_SIZE) return undefined;
  const locatorPosition = recordPosition - ZIP64_LOCATOR_SIZE;
  const locator = await readAt(file, locatorPosition, ZIP64_LOCATOR_SIZE);
  if (locator.length < ZIP64_LOCATOR_SIZE || locator.readUInt32LE(0) !== ZIP64_LOCATOR) return undefined;
  const recordOffset = readUInt64(locator, 8);
  if (recordOffset + ZIP64_END_OF_DIRECTORY_SIZE > locatorPosition) return 'damaged';
  const record = await readAt(file, recordOffset, ZIP64_END_OF_DIRECTORY_SIZE);
  if (record.length < ZIP64_END_OF_DIRECTORY_SIZE || record.readUInt32LE(0) !== ZIP64_END_OF_DIRECTORY) return 'damaged';
  if (record.readUInt32LE(16) !== 0 || record.readUInt32LE(20) !== 0) return 'multi-part';
  return {
    entryCount: readUInt64(record, 32),
    size: readUInt64(record, 40),
    offset: readUInt64(record, 48),
    limit: recordOffset,
  };
}

interface DirectoryEntry {
  name: string;
  flags: number;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Where the next entry starts. */
  next: number;
}

async function readDirectoryEntry(reader: WindowReader, position: number): Promise<DirectoryEntry | undefined> {
  const fixed = await reader.bytes(position, DIRECTORY_ENTRY_SIZE);
  if (!fixed || fixed.readUInt32LE(0) !== ZIP_DIRECTORY_ENTRY) return undefined;
  const flags = fixed.readUInt16LE(8);
  const method = fixed.readUInt16LE(10);
  let compressedSize = fixed.readUInt32LE(20);
  let uncompressedSize = fixed.readUInt32LE(24);
  const nameLength = fixed.readUInt16LE(28);
  const extraLength = fixed.readUInt16LE(30);
  const commentLength = fixed.readUInt16LE(32);
  let localHeaderOffset = fixed.readUInt32LE(42);
  const variable = await reader.bytes(position + DIRECTORY_ENTRY_SIZE, nameLength + extraLength);
  if (!variable) return undefined;
  const name = variable.toString(flags & FLAG_UTF8_NAME ? 'utf8' : 'latin1', 0, nameLength);

  // ZIP64 moves the fields that overflowed into an extra field, in this order, only those that did.
  if (compressedSize === 0xffffffff || uncompressedSize === 0xffffffff || localHeaderOffset === 0xffffffff) {
    const zip64 = findExtraField(variable.subarray(nameLength), ZIP64_EXTRA_FIELD);
    if (!zip64) return undefined;
    let at = 0;
    const next64 = (): number | undefined => {
      if (at + 8 > zip64.length) return undefined;
      const value = readUInt64(zip64, at);
      at += 8;
      return value;
    };
    if (uncompressedSize === 0xffffffff) {
      const value = next64();
      if (value === undefined) return undefined;
      uncompressedSize = value;
    }
    if (compressedSize === 0xffffffff) {
      const value = next64();
      if (value === undefined) return undefined;
      compressedSize = value;
    }
    if (localHeaderOffset === 0xffffffff) {
      const value = next64();
      if (value === undefined) return undefined;
      localHeaderOffset = value;
    }
  }
  return {
    name,
    flags,
    method,
    compressedSize,
    uncompressedSize,
    localHeaderOffset,
    next: position + DIRECTORY_ENTRY_SIZE + nameLength + extraLength + commentLength,
  };
}

function findExtraField(extra: Buffer, id: number): Buffer | undefined {
  let at = 0;
  while (at + 4 <= extra.length) {
    const fieldId = extra.readUInt16LE(at);
    const fieldSize = extra.readUInt16LE(at + 2);
    if (at + 4 + fieldSize > extra.length) return undefined;
    if (fieldId === id) return extra.subarray(at + 4, at + 4 + fieldSize);
    at += 4 + fieldSize;
  }
  return undefined;
}

/** Adds up the claimed sizes of the entries not read yet; a damaged entry ends the sum where it is. */
async function sumRemainingSizes(reader: WindowReader, position: number, remaining: number, sumSoFar: number): Promise<number> {
  let total = sumSoFar;
  for (let index = 0; index < remaining; index++) {
    const entry = await readDirectoryEntry(reader, position);
    if (!entry) break;
    total += entry.uncompressedSize;
    position = entry.next;
  }
  return total;
}

/**
 * Reads a region of the file through a window, so a directory of thousands of entries costs a few
 * reads and bounded memory. One entry (46 bytes plus at most three 64 KiB fields) always fits.
 */
class WindowReader {
  private static readonly WINDOW_BYTES = 256 * KiB;
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly file: FileHandle,
    private readonly end: number,
  ) {}

  /** The bytes, or undefined when they run past the region's end (a damaged directory). */
  async bytes(position: number, length: number): Promise<Buffer | undefined> {
    if (position < 0 || position + length > this.end) return undefined;
    const windowEnd = this.windowStart + this.window.length;
    if (position < this.windowStart || position + length > windowEnd) {
      const toRead = Math.min(Math.max(WindowReader.WINDOW_BYTES, length), this.end - position);
      this.window = await readAt(this.file, position, toRead);
      this.windowStart = position;
      if (this.window.length < length) return undefined;
    }
    return this.window.subarray(position - this.windowStart, position - this.windowStart + length);
  }
}

function bomb(what: string): WorkbookProblem {
  return { code: 'zip_bomb', message: `${what}: this looks like a zip bomb, not a workbook` };
}

/** Entry names come from the file: keep them short and free of control characters in messages. */
function printableName(name: string): string {
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}

// ---------------------------------------------------------------------------------------------
// Compound File Binary (OLE2): .xls, and the container of a password-protected .xlsx

const CFB_SIGNATURE = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
const CFB_HEADER_SIZE = 512;
const CFB_HEADER_DIFAT_ENTRIES = 109;
const CFB_DIRECTORY_ENTRY_SIZE = 128;
const CFB_MAX_REGULAR_SECTOR = 0xfffffffa;
const CFB_END_OF_CHAIN = 0xfffffffe;
const CFB_STORAGE = 1;
const CFB_STREAM = 2;
const CFB_ROOT = 5;
/** Real directories are a few sectors; past this many we stop and judge by what we have. */
const CFB_MAX_DIRECTORY_SECTORS = 4096;
/** How far to look for the stream names when the directory cannot be followed. */
const CFB_SCAN_BYTES = 4 * MiB;

async function checkCompoundFile(file: FileHandle, size: number, head: Buffer): Promise<WorkbookProblem> {
  const names = (await readCompoundDirectoryNames(file, size, head)) ?? (await scanForStreamNames(file, size));
  const has = (name: string) => names.some((n) => n.toLowerCase() === name.toLowerCase());
  // ECMA-376 Agile/Standard encryption: the encrypted .xlsx zip is the EncryptedPackage stream.
  if (has('EncryptionInfo') && has('EncryptedPackage')) return { code: 'password_protected', message: MESSAGES.passwordProtected };
  if (has('WordDocument')) return { code: 'not_xlsx', message: MESSAGES.doc };
  if (has('PowerPoint Document')) return { code: 'not_xlsx', message: MESSAGES.ppt };
  return { code: 'legacy_xls', message: MESSAGES.legacyXls };
}

/**
 * The names in a compound file's directory, following its sector chain through the FAT
 * ([MS-CFB] 2.2–2.6); undefined when the header or the chain is damaged.
 */
async function readCompoundDirectoryNames(file: FileHandle, size: number, header: Buffer): Promise<string[] | undefined> {
  if (header.length < CFB_HEADER_SIZE || header.readUInt16LE(0x1c) !== 0xfffe) return undefined;
  const sectorShift = header.readUInt16LE(0x1e);
  if (sectorShift !== 9 && sectorShift !== 12) return undefined;
  const sectorSize = 2 ** sectorShift;
  const idsPerSector = sectorSize / 4;
  const sectorsInFile = Math.ceil(size / sectorSize);
  const fatSectorCount = header.readUInt32LE(0x2c);
  const firstDirectorySector = header.readUInt32LE(0x30);
  const firstDifatSector = header.readUInt32LE(0x44);
  const difatSectorCount = header.readUInt32LE(0x48);
  if (fatSectorCount > sectorsInFile || difatSectorCount > sectorsInFile) return undefined;

  const readSector = async (sector: number): Promise<Buffer | undefined> => {
    if (sector > CFB_MAX_REGULAR_SECTOR) return undefined;
    const data = await readAt(file, (sector + 1) * sectorSize, sectorSize);
    return data.length === sectorSize ? data : undefined;
  };

  // Where the FAT's sectors are: the first 109 in the header, the rest in a chain of DIFAT sectors.
  const fatSectors: number[] = [];
  for (let i = 0; i < Math.min(fatSectorCount, CFB_HEADER_DIFAT_ENTRIES); i++) fatSectors.push(header.readUInt32LE(0x4c + i * 4));
  let difatSector = firstDifatSector;
  for (let i = 0; i < difatSectorCount && fatSectors.length < fatSectorCount; i++) {
    const data = await readSector(difatSector);
    if (!data) return undefined;
    for (let j = 0; j < idsPerSector - 1 && fatSectors.length < fatSectorCount; j++) fatSectors.push(data.readUInt32LE(j * 4));
    difatSector = data.readUInt32LE((idsPerSector - 1) * 4);
  }

  const fatCache = new Map<number, Buffer>();
  const nextSector = async (sector: number): Promise<number | undefined> => {
    const fatIndex = Math.floor(sector / idsPerSector);
    let fat = fatCache.get(fatIndex);
    if (!fat) {
      const location = fatSectors[fatIndex];
      fat = location === undefined ? undefined : await readSector(location);
      if (!fat) return undefined;
      fatCache.set(fatIndex, fat);
    }
    return fat.readUInt32LE((sector % idsPerSector) * 4);
  };

  const names: string[] = [];
  let sector = firstDirectorySector;
  for (let visited = 0; sector !== CFB_END_OF_CHAIN; visited++) {
    // A chain longer than the file has sectors loops; a very long one is not a real directory.
    if (visited >= Math.min(sectorsInFile, CFB_MAX_DIRECTORY_SECTORS)) break;
    const data = await readSector(sector);
    if (!data) return undefined;
    for (let at = 0; at + CFB_DIRECTORY_ENTRY_SIZE <= data.length; at += CFB_DIRECTORY_ENTRY_SIZE) {
      const type = data[at + 0x42];
      const nameBytes = data.readUInt16LE(at + 0x40);
      if (type !== CFB_STORAGE && type !== CFB_STREAM && type !== CFB_ROOT) continue;
      if (nameBytes < 2 || nameBytes > 64 || nameBytes % 2 !== 0) continue;
      names.push(data.toString('utf16le', at, at + nameBytes - 2));
    }
    const next = await nextSector(sector);
    if (next === undefined) return undefined;
    sector = next;
  }
  return names.length > 0 ? names : undefined;
}

/** A damaged directory: look for the telling names (UTF-16LE, as the directory stores them) near the start. */
async function scanForStreamNames(file: FileHandle, size: number): Promise<string[]> {
  const data = await readAt(file, 0, Math.min(size, CFB_SCAN_BYTES));
  return ['EncryptionInfo', 'EncryptedPackage', 'WordDocument', 'PowerPoint Document', 'Workbook'].filter((name) =>
    data.includes(Buffer.from(name, 'utf16le')),
  );
}

// ---------------------------------------------------------------------------------------------
// Anything else: text, or some other kind of file

const KNOWN_FILES: ReadonlyArray<{ signature: Buffer; what: string }> = [
  { signature: Buffer.from('%PDF-', 'latin1'), what: 'a PDF document' },
  { signature: Buffer.from([0x89, 0x50, 0x4e, 0x47]), what: 'a PNG image' },
  { signature: Buffer.from([0xff, 0xd8, 0xff]), what: 'a JPEG image' },
  { signature: Buffer.from('GIF8', 'latin1'), what: 'a GIF image' },
  { signature: Buffer.from('Rar!', 'latin1'), what: 'a RAR archive' },
  { signature: Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]), what: 'a 7-Zip archive' },
  { signature: Buffer.from([0x1f, 0x8b]), what: 'a gzip archive' },
];

function checkOtherFile(head: Buffer): WorkbookProblem {
  // Before the text test: a PDF's first kilobytes can be plain text.
  const known = KNOWN_FILES.find((k) => startsWith(head, k.signature));
  if (known) return { code: 'not_xlsx', message: `this is ${known.what}, not an Excel workbook (.xlsx)` };
  const text = decodeText(head);
  if (text !== undefined && looksLikeText(text)) {
    return { code: 'csv_or_text', message: /^\s*</.test(text) ? MESSAGES.markup : MESSAGES.csv };
  }
  return { code: 'not_xlsx', message: MESSAGES.notXlsx };
}

/**
 * The head as text: UTF-8 or UTF-16 by their byte order marks, UTF-16 without one when every other
 * byte is zero, else UTF-8, else a single-byte code page (a CSV saved as Windows-1251 or -1252 is
 * still a CSV). `stream: true` forgives a character cut in half by the 4 KB boundary.
 */
function decodeText(head: Buffer): string | undefined {
  if (startsWith(head, Buffer.from([0xef, 0xbb, 0xbf]))) return decode('utf-8', head.subarray(3));
  if (startsWith(head, Buffer.from([0xff, 0xfe]))) return decode('utf-16le', head.subarray(2));
  if (startsWith(head, Buffer.from([0xfe, 0xff]))) return decode('utf-16le', swapBytePairs(head.subarray(2)));
  if (head.includes(0)) {
    const utf16 = utf16WithoutMark(head);
    if (utf16 === 'le') return decode('utf-16le', head);
    if (utf16 === 'be') return decode('utf-16le', swapBytePairs(head));
    return undefined;
  }
  return decode('utf-8', head) ?? head.toString('latin1');
}

function decode(encoding: 'utf-8' | 'utf-16le', bytes: Buffer): string | undefined {
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(bytes, { stream: true });
  } catch {
    return undefined;
  }
}

/** ASCII-range text in UTF-16 has a zero in every other byte: odd positions (LE) or even (BE). */
function utf16WithoutMark(head: Buffer): 'le' | 'be' | undefined {
  const pairs = Math.floor(head.length / 2);
  if (pairs < 2) return undefined;
  let zeroHigh = 0;
  let zeroLow = 0;
  for (let i = 0; i < pairs; i++) {
    if (head[2 * i] === 0) zeroLow++;
    if (head[2 * i + 1] === 0) zeroHigh++;
  }
  if (zeroHigh >= pairs * 0.9 && zeroLow === 0) return 'le';
  if (zeroLow >= pairs * 0.9 && zeroHigh === 0) return 'be';
  return undefined;
}

function swapBytePairs(bytes: Buffer): Buffer {
  const swapped = Buffer.from(bytes.subarray(0, bytes.length - (bytes.length % 2)));
  return swapped.swap16();
}

/**
 * Text has no NULs and no control characters but tab, line breaks, form feed and the DOS end-of-file
 * mark; binary data is full of them (about one byte in nine of random data).
 */
function looksLikeText(text: string): boolean {
  return !/[\u0000-\u0008\u000b\u000e-\u0019\u001b-\u001f\u007f]/.test(text);
}

// ---------------------------------------------------------------------------------------------
// Figures for messages

/** Binary units named as Excel users know them: 1 GiB reads "1 GB". */
function formatBytes(bytes: number): string {
  if (bytes < KiB) return `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let value = bytes / KiB;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1).replace(/\.0$/, '')} ${units[unit]}`;
}

function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}
