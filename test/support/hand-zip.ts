import zlib from 'node:zlib';

/** Zip files written by hand, for what no zip library will write: lying sizes, ZIP64, encryption flags, parts in any order. */

export interface ZipEntrySpec {
  name: string;
  /** The entry's bytes as they lie in the zip (deflated already for method 8). */
  stored: Buffer;
  method: number;
  /** What the headers claim it unpacks to. */
  uncompressedSize: number;
  crc: number;
  flags?: number;
}

export function deflatedEntry(name: string, content: string | Buffer): ZipEntrySpec {
  const data = Buffer.from(content);
  return { name, stored: zlib.deflateRawSync(data), method: 8, uncompressedSize: data.length, crc: zlib.crc32(data) };
}

export const WORKBOOK_PARTS = (): ZipEntrySpec[] => [
  deflatedEntry('[Content_Types].xml', '<?xml version="1.0"?><Types/>'),
  deflatedEntry('xl/workbook.xml', '<?xml version="1.0"?><workbook/>'),
];

/**
 * APPNOTE.TXT layout: per entry a local header (PK\x03\x04) and its data, then the central
 * directory (PK\x01\x02 per entry), then, for ZIP64, the ZIP64 end of central directory record
 * (PK\x06\x06) and its locator (PK\x06\x07), then the end of central directory record (PK\x05\x06).
 * Sizes above 4 GiB go into a ZIP64 extra field (id 1) with the 32-bit fields set to 0xFFFFFFFF.
 */
export function buildZip(entries: ZipEntrySpec[], options: { zip64?: boolean; claimedEntryCount?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const big = entry.uncompressedSize > 0xfffffffe;
    const zip64Extra = Buffer.alloc(big ? 20 : 0);
    if (big) {
      zip64Extra.writeUInt16LE(1, 0);
      zip64Extra.writeUInt16LE(16, 2);
      zip64Extra.writeBigUInt64LE(BigInt(entry.uncompressedSize), 4);
      zip64Extra.writeBigUInt64LE(BigInt(entry.stored.length), 12);
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(big ? 45 : 20, 4);
    local.writeUInt16LE(0x0800 | (entry.flags ?? 0), 6);
    local.writeUInt16LE(entry.method, 8);
    local.writeUInt32LE(entry.crc >>> 0, 14);
    local.writeUInt32LE(big ? 0xffffffff : entry.stored.length, 18);
    local.writeUInt32LE(big ? 0xffffffff : entry.uncompressedSize, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(zip64Extra.length, 28);
    parts.push(local, name, zip64Extra, entry.stored);

    // The central directory's ZIP64 field holds only what overflowed: here the uncompressed size.
    const directoryExtra = Buffer.alloc(big ? 12 : 0);
    if (big) {
      directoryExtra.writeUInt16LE(1, 0);
      directoryExtra.writeUInt16LE(8, 2);
      directoryExtra.writeBigUInt64LE(BigInt(entry.uncompressedSize), 4);
    }
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(big ? 45 : 20, 4);
    header.writeUInt16LE(big ? 45 : 20, 6);
    header.writeUInt16LE(0x0800 | (entry.flags ?? 0), 8);
    header.writeUInt16LE(entry.method, 10);
    header.writeUInt32LE(entry.crc >>> 0, 16);
    header.writeUInt32LE(entry.stored.length, 20);
    header.writeUInt32LE(big ? 0xffffffff : entry.uncompressedSize, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt16LE(directoryExtra.length, 30);
    header.writeUInt32LE(offset, 42);
    directory.push(header, name, directoryExtra);
    offset += local.length + name.length + zip64Extra.length + entry.stored.length;
  }
  const directoryOffset = offset;
  const directoryBytes = Buffer.concat(directory);
  parts.push(directoryBytes);
  const count = options.claimedEntryCount ?? entries.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  if (options.zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4); // size of the record after this field
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(BigInt(count), 24);
    record.writeBigUInt64LE(BigInt(count), 32);
    record.writeBigUInt64LE(BigInt(directoryBytes.length), 40);
    record.writeBigUInt64LE(BigInt(directoryOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(directoryOffset + directoryBytes.length), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(record, locator);
    end.writeUInt16LE(0xffff, 8);
    end.writeUInt16LE(0xffff, 10);
    end.writeUInt32LE(0xffffffff, 12);
    end.writeUInt32LE(0xffffffff, 16);
  } else {
    end.writeUInt16LE(count, 8);
    end.writeUInt16LE(count, 10);
    end.writeUInt32LE(directoryBytes.length, 12);
    end.writeUInt32LE(directoryOffset, 16);
  }
  parts.push(end);
  return Buffer.concat(parts);
}
