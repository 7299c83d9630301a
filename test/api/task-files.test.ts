import { randomUUID } from 'node:crypto';
import ExcelJS from 'exceljs';
import request from 'supertest';
import { CHANNELS, CHAT_MESSENGERS } from '../../core/config';
import { TASK_FILE_TYPES, taskFileColumns, WHATSAPP_LANGUAGES, type TaskFileType } from '../../core/task-files';
import { smsTemplate, startStack, type TestStack } from '../support/harness';

/** GET /api/v1/task-files/:type: each of the six files opened as a user would in Excel — the
 * header, the example row, the frozen header, the drop-down lists, the explanation sheet — and the
 * universal file's var: columns for a template. */

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

/** supertest buffers only text and JSON by itself. */
function binary(res: request.Response, callback: (err: Error | null, body: Buffer) => void) {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
}

async function download(path: string) {
  const res = await stack.admin().get(path).buffer(true).parse(binary).expect(200);
  const workbook = new ExcelJS.Workbook();
  // ExcelJS reads Node buffers; its typings only name its own ArrayBuffer-based Buffer.
  await workbook.xlsx.load(res.body as unknown as ExcelJS.Buffer);
  return { res, workbook };
}

const rowValues = (sheet: ExcelJS.Worksheet, row: number, width: number) =>
  Array.from({ length: width }, (_, i) => {
    const value = sheet.getRow(row).getCell(i + 1).value;
    return value === null || value === undefined ? '' : String(value);
  });

/** The values a list validation offers, read from the range its formula names. */
function listValues(workbook: ExcelJS.Workbook, validation: ExcelJS.DataValidation): string[] {
  const match = /^(\w+)!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)$/.exec(String(validation.formulae[0]));
  if (!match) throw new Error(`not a range formula: ${validation.formulae[0]}`);
  const [, sheetName, column, first, lastColumn, last] = match;
  expect(lastColumn).toBe(column);
  const sheet = workbook.getWorksheet(sheetName!);
  if (!sheet) throw new Error(`no sheet ${sheetName}`);
  const values: string[] = [];
  for (let row = Number(first); row <= Number(last); row++) values.push(String(sheet.getCell(`${column}${row}`).value));
  return values;
}

/** Column name → the list validation of its data rows (checked at the first and a far row). */
function validationOf(sheet: ExcelJS.Worksheet, columnName: string, header: string[]) {
  const index = header.indexOf(columnName);
  expect(index).toBeGreaterThanOrEqual(0);
  const letter = sheet.getColumn(index + 1).letter;
  const validation = sheet.getCell(`${letter}2`).dataValidation;
  expect(validation?.type).toBe('list');
  expect(sheet.getCell(`${letter}5000`).dataValidation).toEqual(validation);
  expect(sheet.getCell(`${letter}1`).dataValidation).toBeUndefined();
  return validation!;
}

/** Per type, the list columns a user picks from, with the values each must offer. */
const EXPECTED_LISTS: Record<TaskFileType, Record<string, readonly string[]>> = {
  sms: {},
  sponsored: {},
  chat: { messenger: CHAT_MESSENGERS },
  'whatsapp-chat': { language: WHATSAPP_LANGUAGES },
  universal: {},
  full: {
    ...Object.fromEntries([1, 2, 3, 4, 5, 6].map((slot) => [`channel${slot}`, CHANNELS])),
    'whatsapp.language': WHATSAPP_LANGUAGES,
    'chat.messenger': CHAT_MESSENGERS,
  },
};

describe.each(TASK_FILE_TYPES)('the %s task file', (type) => {
  const columns = taskFileColumns(type);
  const names = columns.map((column) => column.name);
  let res: request.Response;
  let workbook: ExcelJS.Workbook;
  let recipients: ExcelJS.Worksheet;

  beforeAll(async () => {
    ({ res, workbook } = await download(`/api/v1/task-files/${type}`));
    recipients = workbook.worksheets[0]!;
  });

  it('is an xlsx attachment named after its type', () => {
    expect(res.headers['content-type']).toBe(XLSX);
    expect(res.headers['content-disposition']).toBe(`attachment; filename="task-${type}.xlsx"`);
  });

  it('has exactly the defined columns in row 1, then an example row, under a frozen header with a filter', () => {
    expect(recipients.name).toBe('Recipients');
    expect(rowValues(recipients, 1, names.length + 1)).toEqual([...names, '']);
    expect(rowValues(recipients, 2, names.length)).toEqual(columns.map((column) => column.example));
    expect(columns.some((column) => column.example !== '')).toBe(true);
    expect(recipients.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(recipients.autoFilter).toBe(`A1:${recipients.getColumn(names.length).letter}1`);
  });

  it('marks the required headers and keeps every value as text', () => {
    columns.forEach((column, index) => {
      const header = recipients.getRow(1).getCell(index + 1);
      expect({ name: column.name, bold: Boolean(header.font?.bold) }).toEqual({ name: column.name, bold: column.required });
      expect(recipients.getRow(2).getCell(index + 1).numFmt).toBe('@');
      expect(recipients.getColumn(index + 1).width).toBeGreaterThanOrEqual(column.name.length);
    });
    // Required and optional headers must look different, not only by weight.
    const fillsOf = (required: boolean) =>
      new Set(columns.flatMap((column, i) => (column.required === required ? [JSON.stringify(recipients.getRow(1).getCell(i + 1).fill)] : [])));
    const optionalFills = fillsOf(false);
    for (const fill of fillsOf(true)) expect(optionalFills.has(fill)).toBe(false);
  });

  it('offers exactly the allowed values as a drop-down on each list column, from a hidden sheet', () => {
    const expected = EXPECTED_LISTS[type];
    const listColumns = columns.filter((column) => column.list).map((column) => column.name);
    expect(listColumns.sort()).toEqual(Object.keys(expected).sort());
    for (const [columnName, values] of Object.entries(expected)) {
      expect({ columnName, values: listValues(workbook, validationOf(recipients, columnName, names)) }).toEqual({ columnName, values: [...values] });
    }
    const lists = workbook.getWorksheet('Lists');
    if (listColumns.length > 0) expect(lists?.state).toBe('hidden');
    else expect(lists).toBeUndefined();
  });

  it('explains every column on the second sheet, and where rejected rows are listed', () => {
    const explanation = workbook.worksheets[1]!;
    expect(explanation.name).toBe('Columns');
    const firstColumn: string[] = [];
    explanation.eachRow({ includeEmpty: true }, (row) => firstColumn.push(String(row.getCell(1).value ?? '')));
    const table = firstColumn.indexOf('Column');
    expect(table).toBeGreaterThan(0);
    expect(firstColumn.slice(table + 1)).toEqual(names);
    columns.forEach((column, i) => {
      const row = explanation.getRow(table + 2 + i);
      expect([column.name, row.getCell(2).value, row.getCell(3).value]).toEqual([column.name, column.required ? 'yes' : 'no', column.description]);
      if (column.list) expect(row.getCell(4).value).toBe(column.list.join(', '));
    });
    const notes = firstColumn.slice(0, table).join('\n');
    expect(notes).toContain('GET /api/v1/tasks/<task id>/errors.xlsx');
    expect(notes).toMatch(/repeats are dropped/);
    if (type === 'full') expect(notes).toContain('channel1 → channel2 → … → channel6');
    if (type === 'universal') expect(notes).toContain('?templateId=');
  });
});

describe('the universal file for a template', () => {
  it('has one var:<name> column per template variable, after the fixed columns', async () => {
    const templateId = await smsTemplate(stack);
    const { workbook } = await download(`/api/v1/task-files/universal?templateId=${templateId}`);
    const recipients = workbook.worksheets[0]!;
    const fixed = taskFileColumns('universal').map((column) => column.name);
    const header = rowValues(recipients, 1, fixed.length + 3);
    expect(header).toEqual([...fixed, 'var:name', 'var:order', '']);
    expect(recipients.getRow(1).getCell(fixed.length + 1).font?.bold).toBe(true);
    expect(rowValues(recipients, 2, fixed.length + 2).slice(fixed.length)).toEqual(['Ann', 'order-1']);
    const explanation: string[] = [];
    workbook.worksheets[1]!.eachRow((row) => explanation.push(String(row.getCell(1).value ?? '')));
    expect(explanation).toEqual(expect.arrayContaining(['var:name', 'var:order']));
    expect(explanation.join('\n')).toContain(templateId);
  });
});

describe('refusals', () => {
  it('404 naming the types for an unknown type', async () => {
    const res = await stack.admin().get('/api/v1/task-files/fax').expect(404);
    expect(res.body.error.code).toBe('not_found');
    for (const type of TASK_FILE_TYPES) expect(res.body.error.message).toContain(type);
  });

  it('404 for an unknown template, 400 for a malformed one or one given for another type', async () => {
    const unknown = await stack.admin().get(`/api/v1/task-files/universal?templateId=${randomUUID()}`).expect(404);
    expect(unknown.body.error.code).toBe('not_found');
    const malformed = await stack.admin().get('/api/v1/task-files/universal?templateId=not-a-uuid').expect(400);
    expect(malformed.body.error.details).toEqual([expect.objectContaining({ path: 'query.templateId' })]);
    const templateId = await smsTemplate(stack);
    const elsewhere = await stack.admin().get(`/api/v1/task-files/sms?templateId=${templateId}`).expect(400);
    expect(elsewhere.body.error.details).toEqual([expect.objectContaining({ path: 'query.templateId' })]);
  });

  it('401 without a key; an operator key is enough', async () => {
    await request(stack.app).get('/api/v1/task-files/sms').expect(401);
    await request(stack.app).get('/api/v1/task-files/sms').set('Authorization', `Bearer ${stack.operatorKey}`).expect(200);
  });

  it('is in the OpenAPI document as an xlsx download with its templateId parameter', async () => {
    const doc = (await request(stack.app).get('/api/v1/openapi.json').expect(200)).body;
    const operation = doc.paths['/api/v1/task-files/{type}'].get;
    expect(operation.tags).toEqual(['Tasks']);
    expect(Object.keys(operation.responses[200].content)).toEqual([XLSX]);
    expect(operation.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'templateId', in: 'query', required: false })]));
  });
});
