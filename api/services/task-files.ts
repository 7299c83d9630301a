/**
 * The task files users download to fill (`GET /api/v1/task-files/:type`): one .xlsx per type whose
 * columns come from core/task-files.ts, the definition the import reads too.
 */
import ExcelJS from 'exceljs';
import { FULL_CHANNEL_SLOTS, fullChannelColumn, taskFileColumns, VARIABLE_COLUMN_PREFIX, type TaskFileColumn, type TaskFileType } from '../../core/task-files';

export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

export const RECIPIENTS_SHEET = 'Recipients';
export const COLUMNS_SHEET = 'Columns';
export const LISTS_SHEET = 'Lists';

/**
 * The last row whose list columns offer their drop-down. Validations are stored as one range per
 * column in the file, but ExcelJS's non-streaming reader expands a range into one entry per cell
 * (the `full` file: 8 lists × 100,000 rows ≈ 1.5 s and 100 MB to load), so this is not the sheet's
 * last row. Rows below it are still imported and checked; they only lack the drop-down.
 */
export const LAST_VALIDATED_ROW = 100_000;

/** ExcelJS 4.4.0 has `worksheet.dataValidations`, which stores one rule for a whole range (the
 * typed `cell.dataValidation` would store 100,000 rules per column), but its typings omit it. */
interface WithRangeValidations {
  dataValidations: { add(range: string, validation: ExcelJS.DataValidation): void };
}

const REQUIRED_HEADER_FILL = 'FFFFC000';
const OPTIONAL_HEADER_FILL = 'FFE7E6E6';
const MIN_COLUMN_WIDTH = 12;
const MAX_COLUMN_WIDTH = 50;

/** The template a universal file is downloaded for: its `{variables}` become `var:` columns. */
export interface TaskFileTemplate {
  id: string;
  name: string;
  variables: readonly string[];
}

const TYPE_TITLES: Record<TaskFileType, string> = {
  sms: 'SMS',
  sponsored: 'Sponsored Viber messages',
  chat: 'Chat sessions',
  'whatsapp-chat': 'WhatsApp template messages',
  universal: 'Universal (a saved template)',
  full: 'Full (every channel, with fallbacks)',
};

const WHAT_ONE_ROW_SENDS: Record<TaskFileType, string> = {
  sms: 'One row sends one SMS: "text" from "sender" to "phone".',
  sponsored: 'One row sends one Viber message to "phone" from "sender": "text", with an optional image and button.',
  chat: 'One row starts one chat session: bot "botId" writes "text" to chat "chatId" in "messenger".',
  'whatsapp-chat': 'One row sends one approved WhatsApp template ("templateName" in "language", filled with "templateData") to "phone" from "sender".',
  universal:
    `One row sends a saved template (the row's "templateId", or the templateId given with the upload) to one recipient, on each of the template's channels; "var:<name>" columns fill its {name} placeholders.`,
  full:
    'One row sends one message on up to six channels: "channel1" first; "channel2" … "channel6" are fallbacks, each sent only if every channel before it failed (channel1 → channel2 → … → channel6). Each channel takes its content from the columns named after it (e.g. "viber.sender", "viber.text").',
};

/** Builds the workbook of one task file type: the sheet to fill, the sheet explaining it, and the
 * hidden sheet holding the drop-down lists. */
export function buildTaskFileWorkbook(type: TaskFileType, template?: TaskFileTemplate): ExcelJS.Workbook {
  const columns = taskFileColumns(type, template?.variables ?? []);
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'Notification orchestrator';
  const recipients = workbook.addWorksheet(RECIPIENTS_SHEET, { views: [{ state: 'frozen', ySplit: 1 }] });
  const explanation = workbook.addWorksheet(COLUMNS_SHEET);
  const listRanges = writeLists(workbook, columns);
  writeRecipientsSheet(recipients, columns, listRanges);
  writeColumnsSheet(explanation, type, columns, template);
  return workbook;
}

/**
 * Puts every distinct list on the hidden Lists sheet, one column each, and returns the range
 * formula per list. Always a range, never an inline list: inline list formulas are limited to
 * 255 characters (the WhatsApp languages are longer) and cannot hold values with commas.
 */
function writeLists(workbook: ExcelJS.Workbook, columns: TaskFileColumn[]): Map<readonly string[], string> {
  const ranges = new Map<readonly string[], string>();
  const lists = [...new Set(columns.flatMap((column) => (column.list ? [column.list] : [])))];
  if (lists.length === 0) return ranges;
  const sheet = workbook.addWorksheet(LISTS_SHEET, { state: 'hidden' });
  lists.forEach((list, index) => {
    const sheetColumn = sheet.getColumn(index + 1);
    const letter = sheetColumn.letter;
    // Row 1 says which columns use the list, for whoever unhides the sheet.
    sheet.getCell(1, index + 1).value = columns.filter((column) => column.list === list).map((column) => column.name).join(', ');
    list.forEach((value, i) => (sheet.getCell(i + 2, index + 1).value = value));
    sheetColumn.width = Math.min(MAX_COLUMN_WIDTH, Math.max(MIN_COLUMN_WIDTH, ...list.map((value) => value.length + 2)));
    ranges.set(list, `${LISTS_SHEET}!$${letter}$2:$${letter}$${list.length + 1}`);
  });
  return ranges;
}

function writeRecipientsSheet(sheet: ExcelJS.Worksheet, columns: TaskFileColumn[], listRanges: Map<readonly string[], string>): void {
  columns.forEach((column, index) => {
    const sheetColumn = sheet.getColumn(index + 1);
    sheetColumn.width = Math.min(MAX_COLUMN_WIDTH, Math.max(MIN_COLUMN_WIDTH, column.name.length + 4, column.example.length + 2));
    // Every value of a task file is text: as a number Excel would turn +79991234567 into
    // 79991234567, drop an id's leading zeros, or read "3/4" as a date.
    sheetColumn.numFmt = '@';
  });

  const header = sheet.getRow(1);
  columns.forEach((column, index) => {
    const cell = header.getCell(index + 1);
    cell.value = column.name;
    cell.font = { bold: column.required };
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: column.required ? REQUIRED_HEADER_FILL : OPTIONAL_HEADER_FILL } };
    cell.note = `${column.required ? 'Required. ' : ''}${column.description}`;
  });
  sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: columns.length } };

  const example = sheet.getRow(2);
  columns.forEach((column, index) => {
    if (column.example) example.getCell(index + 1).value = column.example;
  });

  columns.forEach((column, index) => {
    if (!column.list) return;
    const letter = sheet.getColumn(index + 1).letter;
    (sheet as unknown as WithRangeValidations).dataValidations.add(`${letter}2:${letter}${LAST_VALIDATED_ROW}`, {
      type: 'list',
      allowBlank: true,
      formulae: [listRanges.get(column.list)!],
      showErrorMessage: true,
      errorStyle: 'stop',
      errorTitle: column.name,
      error: `Choose a value from the list (see the ${COLUMNS_SHEET} sheet).`,
    });
  });
}

function writeColumnsSheet(sheet: ExcelJS.Worksheet, type: TaskFileType, columns: TaskFileColumn[], template: TaskFileTemplate | undefined): void {
  sheet.columns = [{ width: 24 }, { width: 10 }, { width: 70 }, { width: 40 }, { width: 30 }];
  const title = sheet.addRow([`Task file: ${TYPE_TITLES[type]}`]);
  title.font = { bold: true, size: 14 };

  const notes = [
    WHAT_ONE_ROW_SENDS[type],
    ...typeSpecificNotes(type, template),
    `Fill the ${RECIPIENTS_SHEET} sheet, one recipient per row below the header. Row 2 is an example: overwrite or delete it, or it is sent too.`,
    'Keep the column names in row 1 as they are: the columns are found by these names. A file without a required column is refused as a whole.',
    'Required columns have bold headers on an orange background; the other columns may be left empty. Columns with allowed values offer them in a drop-down list.',
    'The same recipient listed more than once in a file is sent once: the repeats are dropped and counted.',
    'Rows with a problem (a missing required value, a malformed number, a value not allowed) are not sent; the rest of the file is. GET /api/v1/tasks/<task id>/errors.xlsx lists each of them with its row number and the reason.',
  ];
  for (const note of notes) sheet.addRow([note]);
  sheet.addRow([]);

  const tableHeader = sheet.addRow(['Column', 'Required', 'Description', 'Allowed values', 'Example']);
  tableHeader.font = { bold: true };
  tableHeader.eachCell((cell) => (cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: OPTIONAL_HEADER_FILL } }));
  for (const column of columns) {
    const row = sheet.addRow([column.name, column.required ? 'yes' : 'no', column.description, column.list?.join(', ') ?? '', column.example]);
    row.alignment = { vertical: 'top', wrapText: true };
    if (column.required) row.getCell(1).font = { bold: true };
  }
}

function typeSpecificNotes(type: TaskFileType, template: TaskFileTemplate | undefined): string[] {
  switch (type) {
    case 'universal':
      return template
        ? [
            `Made for template "${template.name}" (${template.id}): ${
              template.variables.length > 0
                ? `one ${VARIABLE_COLUMN_PREFIX}<name> column per variable (${template.variables.map((name) => `{${name}}`).join(', ')}).`
                : 'it has no variables, so there are no var: columns.'
            }`,
          ]
        : [
            `To fill a template's variables, add one column per variable named ${VARIABLE_COLUMN_PREFIX}<name> (${VARIABLE_COLUMN_PREFIX}name fills {name}), or download this file with ?templateId=<template id> to get those columns ready-made.`,
          ];
    case 'full':
      return [
        `Name the channels in ${fullChannelColumn(1)} … ${fullChannelColumn(FULL_CHANNEL_SLOTS)} and fill the columns of each channel you name; leave the rest of a row's channel columns empty.`,
      ];
    default:
      return [];
  }
}
