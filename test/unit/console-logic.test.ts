import ExcelJS from 'exceljs';
import { PassThrough } from 'node:stream';
import zlib from 'node:zlib';
import { dictionaries, translate, translateOr } from '../../console/src/i18n';
import {
  errorLines,
  fileNameFromDisposition,
  isoToLocal,
  localToIso,
  may,
  orderedCounts,
  parsePhones,
  progressOf,
  roleFromProbe,
  sendWindowProblems,
  taskActions,
  toQuery,
} from '../../console/src/logic';
import { columnIndex, readFirstSheet } from '../../console/src/xlsx';

/** The operator console's logic that runs without a browser (console/src/logic.ts, i18n.ts, xlsx.ts). */
describe('task controls', () => {
  it('offers only the transitions the API allows in each status', () => {
    expect(taskActions('created')).toEqual({ start: true, pause: false, resume: false, cancel: true });
    expect(taskActions('in_progress')).toEqual({ start: false, pause: true, resume: false, cancel: true });
    expect(taskActions('paused')).toEqual({ start: false, pause: false, resume: true, cancel: true });
    for (const ended of ['completed', 'canceled', 'failed']) expect(taskActions(ended)).toEqual({ start: false, pause: false, resume: false, cancel: false });
  });

  it('tells the role of a key from the admin-only probe, and hides admin actions from operators', () => {
    expect(roleFromProbe(200)).toBe('admin');
    expect(roleFromProbe(403)).toBe('operator');
    expect(roleFromProbe(401)).toBe('invalid');
    expect(roleFromProbe(500)).toBe('unknown');
    expect(may('admin', 'approveSender')).toBe(true);
    expect(may('operator', 'approveSender')).toBe(false);
    expect(may('operator', 'operate')).toBe(true);
    expect(may(undefined, 'operate')).toBe(false);
  });
});

describe('filters', () => {
  it('puts only the filters that have a value in the query string', () => {
    expect(toQuery({ name: '', category: undefined, page: 1, status: null })).toBe('?page=1');
    expect(toQuery({ search: 'a b&c', optional: false })).toBe('?search=a+b%26c&optional=false');
    expect(toQuery({})).toBe('');
  });

  it('turns local picker values into instants in the browser zone and back', () => {
    const start = localToIso('2026-11-03');
    expect(start).toBe(new Date(2026, 10, 3, 0, 0, 0, 0).toISOString());
    expect(localToIso('2026-11-03', { endOfDay: true })).toBe(new Date(2026, 10, 3, 23, 59, 59, 999).toISOString());
    expect(localToIso('2026-11-03 14:05:00')).toBe(new Date(2026, 10, 3, 14, 5, 0).toISOString());
    expect(localToIso('2026-11-03 14:05')).toBe(new Date(2026, 10, 3, 14, 5, 0).toISOString());
    expect(localToIso('')).toBeUndefined();
    expect(localToIso('yesterday')).toBeUndefined();
    expect(isoToLocal(new Date(2026, 0, 2, 3, 4, 5).toISOString())).toBe('2026-01-02 03:04:05');
    expect(isoToLocal(null)).toBeNull();
  });

  it('checks send windows as typed', () => {
    expect(sendWindowProblems([])).toEqual([]);
    expect(sendWindowProblems([{ from: '09:00', to: '21:00' }, { from: '22:00', to: '02:00' }])).toEqual([]);
    expect(sendWindowProblems([{ from: '9', to: '21:00' }])).toHaveLength(1);
    expect(sendWindowProblems([{ from: '10:00', to: '10:00' }])).toHaveLength(1);
  });

  it('reads pasted phone numbers one per line or separated, each once', () => {
    expect(parsePhones('+79990000001\n+7 999 000-00-02, +79990000001;\n\n 89990000003 ')).toEqual(['+79990000001', '+7 999 000-00-02', '89990000003']);
    expect(parsePhones('  \n ')).toEqual([]);
  });
});

describe('counts and files', () => {
  it('orders counts by the message lifecycle and measures progress', () => {
    expect(orderedCounts({ ERROR: 1, DELIVERED: 5, QUEUED: 2, PAUSED: 0, MYSTERY: 1 })).toEqual([
      ['QUEUED', 2],
      ['DELIVERED', 5],
      ['ERROR', 1],
      ['MYSTERY', 1],
    ]);
    expect(progressOf({ QUEUED: 2, DELIVERED: 5, ERROR: 1 })).toEqual({ done: 6, total: 8, percent: 75 });
    expect(progressOf({})).toEqual({ done: 0, total: 0, percent: 0 });
  });

  it('names a download as the API does', () => {
    expect(fileNameFromDisposition('attachment; filename="messages-2026-11-01-2026-11-27.xlsx"', 'x.xlsx')).toBe('messages-2026-11-01-2026-11-27.xlsx');
    expect(fileNameFromDisposition("attachment; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.xlsx", 'x.xlsx')).toBe('отчёт.xlsx');
    expect(fileNameFromDisposition(null, 'x.xlsx')).toBe('x.xlsx');
  });

  it('shows the API error and each detail', () => {
    expect(errorLines({ error: { code: 'validation_failed', message: 'invalid task fields', details: [{ path: 'name', message: 'must not be empty' }] } }, 'HTTP 400')).toEqual([
      'invalid task fields',
      'name: must not be empty',
    ]);
    expect(errorLines('<html>', 'HTTP 502')).toEqual(['HTTP 502']);
  });
});

describe('interface text', () => {
  it('has every English text in Russian, with the same placeholders', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const [key, text] of Object.entries(dictionaries.en)) {
      const ru = dictionaries.ru[key as keyof typeof dictionaries.en];
      expect(ru).toBeTruthy();
      expect([key, placeholders(ru)]).toEqual([key, placeholders(text)]);
    }
  });

  it('fills placeholders and falls back for unknown keys', () => {
    expect(translate('en', 'tasks.rows', { total: 3, rejected: 1 })).toBe('3 accepted, 1 rejected');
    expect(translate('ru', 'tasks.rows', { total: 3, rejected: 1 })).toBe('принято 3, отклонено 1');
    expect(translateOr('ru', 'history.event.paused', 'paused')).toBe('Пауза');
    expect(translateOr('ru', 'history.event.something_new', 'something_new')).toBe('something_new');
  });
});

describe('reading an .xlsx in the browser', () => {
  const inflate = async (data: Uint8Array) => new Uint8Array(zlib.inflateRawSync(data));

  it('reads the first sheet of a streamed workbook (inline strings, numbers, gaps) as errors.xlsx is written', async () => {
    const chunks: Buffer[] = [];
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => chunks.push(c));
    const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream, useStyles: true, useSharedStrings: false });
    const sheet = workbook.addWorksheet('Errors');
    sheet.columns = [
      { header: 'Row', key: 'row' },
      { header: 'Column', key: 'column' },
      { header: 'Value', key: 'value' },
      { header: 'Reason', key: 'reason' },
    ];
    sheet.addRow({ row: 3, column: 'phone', value: 'abc <&> "x"', reason: 'not a valid phone number' }).commit();
    sheet.addRow({ row: 12, column: '', value: '', reason: 'текст пуст' }).commit();
    sheet.commit();
    await workbook.commit();
    const rows = await readFirstSheet(new Uint8Array(Buffer.concat(chunks)), inflate);
    expect(rows[0]).toEqual(['Row', 'Column', 'Value', 'Reason']);
    expect(rows[1]).toEqual(['3', 'phone', 'abc <&> "x"', 'not a valid phone number']);
    expect(rows[2]?.[0]).toBe('12');
    expect(rows[2]?.[3]).toBe('текст пуст');
  });

  it('reads shared strings of an ordinary workbook, and refuses what is not a zip', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('First');
    sheet.addRow(['a', 1, true]);
    sheet.getCell('E2').value = 'far';
    workbook.addWorksheet('Second').addRow(['ignored']);
    const rows = await readFirstSheet(new Uint8Array(await workbook.xlsx.writeBuffer()), inflate);
    expect(rows).toEqual([
      ['a', '1', 'TRUE'],
      ['', '', '', '', 'far'],
    ]);
    await expect(readFirstSheet(new TextEncoder().encode('phone,text\n'), inflate)).rejects.toThrow('not an .xlsx');
    expect(columnIndex('A1')).toBe(0);
    expect(columnIndex('AB7')).toBe(27);
  });
});
