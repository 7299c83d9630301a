import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import ExcelJS from 'exceljs';
import { UnreadableWorkbookError, worksheetRows } from '../../api/services/worksheet-rows';
import { buildZip, deflatedEntry } from '../support/hand-zip';

/** How an uploaded task file's rows are read: the parts through the zip's directory, the first sheet in the workbook's order. */
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worksheet-rows-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function readAll(file: string): Promise<{ sheets: number; rows: [number, unknown[]][] }> {
  const result = { sheets: 0 };
  const rows: [number, unknown[]][] = [];
  for await (const batch of worksheetRows(file, result)) for (const row of batch) rows.push([row.number, row.values.slice(1)]);
  return { sheets: result.sheets, rows };
}

const MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"';
const RELS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const sheetXml = (rows: string) => `<?xml version="1.0" encoding="UTF-8"?><worksheet ${MAIN}><sheetData>${rows}</sheetData></worksheet>`;

/** A workbook whose first tab ("Recipients") is stored as sheet2.xml, after a "Help" sheet1.xml in the zip. */
function handWrittenWorkbook(overrides: { sheet2?: ReturnType<typeof deflatedEntry> } = {}): Buffer {
  return buildZip([
    deflatedEntry('[Content_Types].xml', '<?xml version="1.0"?><Types/>'),
    deflatedEntry('xl/worksheets/sheet1.xml', sheetXml('<row r="1"><c r="A1" t="str"><v>help text</v></c></row>')),
    overrides.sheet2 ??
      deflatedEntry(
        'xl/worksheets/sheet2.xml',
        sheetXml(
          '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>' +
            '<row r="3"><c r="A3"><v>79950000010</v></c><c r="B3" t="s"><v>2</v></c></row>',
        ),
      ),
    deflatedEntry(
      'xl/sharedStrings.xml',
      `<?xml version="1.0"?><sst ${MAIN} count="3" uniqueCount="3"><si><t>phone</t></si><si><t>text</t></si><si><r><t>Rich </t></r><r><t>text</t></r></si></sst>`,
    ),
    deflatedEntry(
      'xl/_rels/workbook.xml.rels',
      `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
        `<Relationship Id="rId1" Type="${RELS}/worksheet" Target="worksheets/sheet1.xml"/>` +
        `<Relationship Id="rId2" Type="${RELS}/worksheet" Target="/xl/worksheets/sheet2.xml"/>` +
        `<Relationship Id="rId3" Type="${RELS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>`,
    ),
    // Stored last, as ExcelJS writes it: a one-pass reader meets the sheets before it.
    deflatedEntry(
      'xl/workbook.xml',
      `<?xml version="1.0"?><workbook ${MAIN} xmlns:r="${RELS}"><sheets><sheet name="Recipients" sheetId="2" r:id="rId2"/><sheet name="Help" sheetId="1" r:id="rId1"/></sheets></workbook>`,
    ),
  ]);
}

it('reads the first sheet in the workbook’s order, whatever the zip’s order, with its shared strings', async () => {
  const file = path.join(dir, 'ordered.xlsx');
  fs.writeFileSync(file, handWrittenWorkbook());
  expect(await readAll(file)).toEqual({
    sheets: 1,
    rows: [
      [1, ['phone', 'text']],
      [3, [79950000010, 'Rich text']],
    ],
  });
});

it('a part that unpacks to more than the zip directory says is refused (the size checks read the directory)', async () => {
  const real = sheetXml(`<row r="1"><c r="A1" t="str"><v>${'x'.repeat(5000)}</v></c></row>`);
  const lying = { ...deflatedEntry('xl/worksheets/sheet2.xml', real), uncompressedSize: 100 };
  const file = path.join(dir, 'lying.xlsx');
  fs.writeFileSync(file, handWrittenWorkbook({ sheet2: lying }));
  const reading = readAll(file);
  await expect(reading).rejects.toThrow(UnreadableWorkbookError);
  await expect(reading).rejects.toThrow('the part xl/worksheets/sheet2.xml unpacks to more than its zip directory says');
});

it('a damaged part is an unreadable workbook, not a crash', async () => {
  const broken = { ...deflatedEntry('xl/worksheets/sheet2.xml', sheetXml('')), stored: Buffer.from([0xff, 0xff, 0xff, 0xff]) };
  const file = path.join(dir, 'damaged.xlsx');
  fs.writeFileSync(file, handWrittenWorkbook({ sheet2: broken }));
  await expect(readAll(file)).rejects.toThrow(UnreadableWorkbookError);
  // A local header that is not where the directory says: the layout itself is inconsistent.
  const shifted = handWrittenWorkbook();
  const sheet1Header = shifted.indexOf('PK\x03\x04', 1, 'latin1');
  shifted.writeUInt32LE(0, sheet1Header);
  fs.writeFileSync(file, shifted);
  await expect(readAll(file)).rejects.toThrow('the file is damaged (its zip directory is inconsistent)');
});

it('an ExcelJS-written workbook (workbook.xml stored last) reads the same every time, several uploads at once', async () => {
  // ExcelJS's own one-pass reader lost workbook.xml now and then on such files under load (exceljs#3064).
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('Recipients');
  sheet.addRow(['phone', 'text']);
  sheet.addRow([79950002010, { richText: [{ text: 'Rich ', font: { bold: true } }, { text: 'text' }] }]);
  sheet.addRow(['+79950002020', { text: 'Open the link', hyperlink: 'https://example.com/a' }]);
  workbook.addWorksheet('Help').addRow(['not a recipient']);
  const file = path.join(dir, 'exceljs.xlsx');
  fs.writeFileSync(file, Buffer.from(await workbook.xlsx.writeBuffer({ useSharedStrings: true } as never)));
  const expected = await readAll(file);
  expect(expected.rows.map(([n, values]) => [n, values[0]])).toEqual([
    [1, 'phone'],
    [2, 79950002010],
    [3, '+79950002020'],
  ]);
  expect(expected.rows[1]![1][1]).toBe('Rich text');
  const reads = await Promise.all(Array.from({ length: 12 }, () => readAll(file)));
  for (const read of reads) expect(read).toEqual(expected);
});

it('a stored (not deflated) part reads too', async () => {
  const xml = Buffer.from(sheetXml('<row r="1"><c r="A1" t="str"><v>stored</v></c></row>'));
  const stored = { name: 'xl/worksheets/sheet2.xml', stored: xml, method: 0, uncompressedSize: xml.length, crc: zlib.crc32(xml) };
  const file = path.join(dir, 'stored.xlsx');
  fs.writeFileSync(file, handWrittenWorkbook({ sheet2: stored }));
  expect((await readAll(file)).rows).toEqual([[1, ['stored']]]);
});
