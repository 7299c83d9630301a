/** Create and edit a notification task: file upload with progress and row errors, time limiter. */
import { ActionIcon, Alert, Button, FileInput, Group, Modal, Progress, Select, Stack, Switch, Table, Text, TextInput } from '@mantine/core';
import { DateTimePicker, TimeInput } from '@mantine/dates';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { ApiError, inflateRaw } from '../api';
import { useApp } from '../context';
import { canEditSchedule, isoToLocal, localToIso, sendWindowProblems, TASK_FILE_TYPES, type TaskFileType } from '../logic';
import { readFirstSheet } from '../xlsx';

export interface Task {
  id: string;
  name: string;
  type: string;
  status: string;
  statusReason: string | null;
  templateId: string | null;
  fileName: string | null;
  timezone: string;
  sendWindows: { from: string; to: string }[];
  startAt: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  total: number;
  rejected: number;
  duplicates: number;
  counts: Record<string, number>;
  workflowId: string;
  temporalUiUrl: string;
}

interface Window {
  from: string;
  to: string;
}

const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export function useTimeZones(): string[] {
  return useMemo(() => {
    const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    return [...new Set(['UTC', browserZone(), ...zones])];
  }, []);
}

/** The send windows of a time limiter: add, change and remove rows of HH:MM from–to. */
export function WindowsEditor({ windows, onChange }: { windows: Window[]; onChange: (windows: Window[]) => void }) {
  const { t } = useApp();
  const set = (i: number, patch: Partial<Window>) => onChange(windows.map((w, j) => (j === i ? { ...w, ...patch } : w)));
  return (
    <Stack gap={6}>
      <Text size="sm" fw={500}>
        {t('form.limiter')}
      </Text>
      <Text size="xs" c="dimmed">
        {t('form.limiterHint')}
      </Text>
      {windows.map((w, i) => (
        <Group key={i} gap="xs" align="end">
          <TimeInput label={i === 0 ? t('common.from') : undefined} value={w.from} onChange={(e) => set(i, { from: e.currentTarget.value })} aria-label={`${t('common.from')} ${i + 1}`} />
          <TimeInput label={i === 0 ? t('common.to') : undefined} value={w.to} onChange={(e) => set(i, { to: e.currentTarget.value })} aria-label={`${t('common.to')} ${i + 1}`} />
          <ActionIcon variant="subtle" color="red" size="lg" aria-label={`${t('common.delete')} ${i + 1}`} onClick={() => onChange(windows.filter((_, j) => j !== i))}>
            ×
          </ActionIcon>
        </Group>
      ))}
      <Group>
        <Button variant="light" size="xs" onClick={() => onChange([...windows, { from: '09:00', to: '21:00' }])}>
          {t('form.addWindow')}
        </Button>
      </Group>
    </Stack>
  );
}

interface Created {
  id: string;
  name: string;
  total: number;
  rejected: number;
  duplicates: number;
}

/** The rejected rows of a task, read from its errors.xlsx (the API lists them only there). */
export function RowErrors({ taskId, rejected }: { taskId: string; rejected: number }) {
  const { api, t } = useApp();
  const [rows, setRows] = useState<string[][] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (rejected === 0) return;
    api
      .fetchFile(`/api/v1/tasks/${taskId}/errors.xlsx`, 'errors.xlsx')
      .then(async ({ blob }) => setRows((await readFirstSheet(new Uint8Array(await blob.arrayBuffer()), inflateRaw)).slice(1)))
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [api, taskId, rejected]);
  if (rejected === 0) return null;
  const shown = (rows ?? []).slice(0, 100);
  return (
    <Stack gap="xs" data-testid="row-errors">
      <Group justify="space-between">
        <Text fw={500}>{t('form.rowErrors')}</Text>
        <Button size="xs" variant="light" onClick={() => void api.download(`/api/v1/tasks/${taskId}/errors.xlsx`, 'errors.xlsx')}>
          {t('form.downloadErrors')}
        </Button>
      </Group>
      {error && <Alert color="red">{error}</Alert>}
      {rows === null && !error && <Text size="sm">{t('common.loading')}</Text>}
      {rows && (
        <Table.ScrollContainer minWidth={500} mah={300}>
          <Table striped withTableBorder fz="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('form.errorRow')}</Table.Th>
                <Table.Th>{t('form.errorColumn')}</Table.Th>
                <Table.Th>{t('form.errorValue')}</Table.Th>
                <Table.Th>{t('form.errorReason')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shown.map((r, i) => (
                <Table.Tr key={i}>
                  <Table.Td>{r[0]}</Table.Td>
                  <Table.Td>{r[1]}</Table.Td>
                  <Table.Td>{r[2]}</Table.Td>
                  <Table.Td>{r[3]}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {rows && rows.length > shown.length && (
        <Text size="xs" c="dimmed">
          {t('form.moreErrors', { count: rows.length - shown.length })}
        </Text>
      )}
    </Stack>
  );
}

function ProblemAlert({ problem }: { problem: string[] | null }) {
  if (!problem) return null;
  return (
    <Alert color="red" role="alert">
      {problem.map((line, i) => (
        <Text key={i} size="sm" fw={i === 0 ? 500 : undefined}>
          {line}
        </Text>
      ))}
    </Alert>
  );
}

const problemOf = (e: unknown) => (e instanceof ApiError ? e.lines : [e instanceof Error ? e.message : String(e)]);

export function CreateTaskModal({ opened, onClose, onCreated }: { opened: boolean; onClose: () => void; onCreated: () => void }) {
  const { api, t } = useApp();
  const zones = useTimeZones();
  const [name, setName] = useState('');
  const [type, setType] = useState<TaskFileType>('sms');
  const [templateId, setTemplateId] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [windows, setWindows] = useState<Window[]>([]);
  const [timezone, setTimezone] = useState<string>(browserZone());
  const [startAt, setStartAt] = useState<string | null>(null);
  const [shortenLinks, setShortenLinks] = useState(false);
  const [sent, setSent] = useState<number | null>(null);
  const [reading, setReading] = useState<{ rowsRead: number; accepted: number; rejected: number } | null>(null);
  const [problem, setProblem] = useState<string[] | null>(null);
  const [created, setCreated] = useState<Created | null>(null);

  const reset = () => {
    setName('');
    setType('sms');
    setTemplateId('');
    setFile(null);
    setWindows([]);
    setTimezone(browserZone());
    setStartAt(null);
    setShortenLinks(false);
    setSent(null);
    setReading(null);
    setProblem(null);
    setCreated(null);
  };
  const close = () => {
    reset();
    onClose();
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const problems = [...(name.trim() ? [] : [t('form.needName')]), ...(file ? [] : [t('form.needFile')]), ...sendWindowProblems(windows)];
    if (problems.length > 0) return setProblem(problems);
    setProblem(null);
    const form = new FormData();
    form.set('name', name.trim());
    form.set('type', type);
    if (type === 'universal' && templateId.trim()) form.set('templateId', templateId.trim());
    form.set('sendWindows', JSON.stringify(windows));
    form.set('timezone', timezone);
    const start = localToIso(startAt);
    if (start) form.set('startAt', start);
    form.set('shortenLinks', String(shortenLinks));
    form.set('file', file!, file!.name);
    const uploadId = crypto.randomUUID();
    setSent(0);
    // While the server reads the rows, show how far it is.
    const timer = window.setInterval(() => {
      api
        .get<{ rowsRead: number; accepted: number; rejected: number }>(`/api/v1/uploads/${uploadId}`)
        .then(setReading)
        .catch(() => undefined);
    }, 500);
    try {
      const result = await api.upload<Created>('POST', '/api/v1/tasks', form, {
        uploadId,
        onProgress: (loaded, total) => setSent(total > 0 ? Math.round((loaded / total) * 100) : 0),
      });
      setCreated(result);
      onCreated();
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      window.clearInterval(timer);
      setSent(null);
      setReading(null);
    }
  };

  return (
    <Modal opened={opened} onClose={close} title={t('form.createTitle')} size="lg">
      {created ? (
        <Stack>
          <Alert color={created.rejected > 0 ? 'yellow' : 'green'} data-testid="task-created">
            {t('form.created', { name: created.name, total: created.total, rejected: created.rejected, duplicates: created.duplicates })}
          </Alert>
          <RowErrors taskId={created.id} rejected={created.rejected} />
          <Group justify="end">
            <Button onClick={close}>{t('form.done')}</Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={submit}>
          <Stack>
            <TextInput label={t('form.name')} value={name} onChange={(e) => setName(e.currentTarget.value)} required />
            <Select label={t('form.type')} data={[...TASK_FILE_TYPES]} value={type} onChange={(v) => v && setType(v as TaskFileType)} allowDeselect={false} />
            {type === 'universal' && <TextInput label={t('form.templateId')} value={templateId} onChange={(e) => setTemplateId(e.currentTarget.value)} />}
            <FileInput label={t('form.file')} placeholder={t('form.filePlaceholder')} accept=".xlsx" value={file} onChange={setFile} clearable required data-testid="task-file" />
            <WindowsEditor windows={windows} onChange={setWindows} />
            <Select label={t('form.timezone')} data={zones} value={timezone} onChange={(v) => v && setTimezone(v)} searchable allowDeselect={false} />
            <DateTimePicker label={t('form.startAt')} description={t('form.startAtHint')} value={startAt} onChange={setStartAt} clearable withSeconds={false} />
            <Switch label={t('form.shortenLinks')} checked={shortenLinks} onChange={(e) => setShortenLinks(e.currentTarget.checked)} />
            {sent !== null && (
              <Stack gap={4}>
                <Text size="sm">{t('form.uploading', { percent: sent })}</Text>
                <Progress value={sent} animated />
                {reading && <Text size="sm">{t('form.reading', { rows: reading.rowsRead, accepted: reading.accepted, rejected: reading.rejected })}</Text>}
              </Stack>
            )}
            <ProblemAlert problem={problem} />
            <Group justify="end">
              <Button variant="default" onClick={close}>
                {t('common.cancel')}
              </Button>
              <Button type="submit" loading={sent !== null}>
                {t('form.submit')}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}

/** Edit: the name and time limiter at any time; the start time only before the task starts. */
export function EditTaskModal({ task, onClose, onSaved }: { task: Task | null; onClose: () => void; onSaved: () => void }) {
  return task ? <EditTaskForm key={task.id} task={task} onClose={onClose} onSaved={onSaved} /> : null;
}

function EditTaskForm({ task, onClose, onSaved }: { task: Task; onClose: () => void; onSaved: () => void }) {
  const { api, t } = useApp();
  const zones = useTimeZones();
  const [name, setName] = useState(task.name);
  const [windows, setWindows] = useState<Window[]>(task.sendWindows);
  const [timezone, setTimezone] = useState(task.timezone);
  const [startAt, setStartAt] = useState<string | null>(isoToLocal(task.startAt));
  const [problem, setProblem] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const scheduleEditable = canEditSchedule(task.status);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const problems = [...(name.trim() ? [] : [t('form.needName')]), ...sendWindowProblems(windows)];
    if (problems.length > 0) return setProblem(problems);
    setBusy(true);
    try {
      const body: Record<string, unknown> = { name: name.trim(), sendWindows: windows, timezone };
      if (scheduleEditable && isoToLocal(task.startAt) !== startAt) body.startAt = localToIso(startAt) ?? null;
      await api.request('PATCH', `/api/v1/tasks/${task.id}`, body);
      onSaved();
      onClose();
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title={t('form.editTitle')} size="lg">
      <form onSubmit={submit}>
        <Stack>
          <TextInput label={t('form.name')} value={name} onChange={(e) => setName(e.currentTarget.value)} required />
          <WindowsEditor windows={windows} onChange={setWindows} />
          <Select label={t('form.timezone')} data={zones} value={timezone} onChange={(v) => v && setTimezone(v)} searchable allowDeselect={false} />
          <DateTimePicker label={t('form.startAt')} value={startAt} onChange={setStartAt} clearable disabled={!scheduleEditable} />
          <ProblemAlert problem={problem} />
          <Group justify="end">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={busy}>
              {t('common.save')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
