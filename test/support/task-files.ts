import ExcelJS from 'exceljs';
import type request from 'supertest';
import type { TestStack } from './harness';

/** supertest: collect a binary body (an .xlsx) into a Buffer. */
export function binary(res: request.Response | NodeJS.ReadableStream, callback: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  (res as NodeJS.ReadableStream).on('data', (chunk: Buffer) => chunks.push(chunk));
  (res as NodeJS.ReadableStream).on('end', () => callback(null, Buffer.concat(chunks)));
}

/** Downloads a task file as an operator would. */
export async function downloadTaskFile(stack: TestStack, type: string, templateId?: string): Promise<Buffer> {
  const url = `/api/v1/task-files/${type}${templateId ? `?templateId=${templateId}` : ''}`;
  const res = await stack.admin().get(url).buffer(true).parse(binary).expect(200);
  return res.body as Buffer;
}

/**
 * Fills a downloaded task file as an operator would in Excel: the rows (by column name) replace
 * the example row; other sheets stay as they are.
 */
export async function fillTaskFile(file: Buffer, rows: Record<string, string | number | undefined>[]): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(file as unknown as ExcelJS.Buffer);
  const sheet = workbook.worksheets[0]!;
  const header = (sheet.getRow(1).values as ExcelJS.CellValue[]).map((v) => (v === undefined || v === null ? '' : String(v)));
  sheet.spliceRows(2, 1);
  rows.forEach((row, i) => {
    for (const [name, value] of Object.entries(row)) {
      if (value === undefined) continue;
      const column = header.indexOf(name);
      if (column < 1) throw new Error(`no column ${name} in the file (it has ${header.filter(Boolean).join(', ')})`);
      sheet.getRow(i + 2).getCell(column).value = value;
    }
  });
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

/** A workbook made from scratch: one sheet with these rows (row 1: the column names). */
export async function workbookOf(rows: (string | number)[][]): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('Recipients');
  for (const row of rows) sheet.addRow(row);
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

/** POST /api/v1/tasks as a multipart form. */
export function uploadTask(stack: TestStack, file: Buffer, fields: Record<string, string>, fileName = 'recipients.xlsx') {
  let req = stack.admin().post('/api/v1/tasks');
  for (const [name, value] of Object.entries(fields)) req = req.field(name, value);
  return req.attach('file', file, fileName);
}

/** Reads an .xlsx's first sheet as arrays of cell texts (row 1 included). */
export async function sheetRows(file: Buffer): Promise<string[][]> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(file as unknown as ExcelJS.Buffer);
  const rows: string[][] = [];
  workbook.worksheets[0]!.eachRow((row) => {
    const values = row.values as ExcelJS.CellValue[];
    // Empty cells are holes in ExcelJS's array: read every column up to the row's last.
    rows.push(Array.from({ length: row.cellCount }, (_, i) => (values[i + 1] === null || values[i + 1] === undefined ? '' : String(values[i + 1]))));
  });
  return rows;
}
