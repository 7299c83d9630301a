/** Notification tasks: categories, search, task files, create/edit/delete, control and live counts. */
import { Alert, Anchor, Badge, Button, Group, Menu, Modal, Pagination, Progress, SegmentedControl, Stack, Table, Text, TextInput, Title, Tooltip } from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import { useDebouncedValue } from '@mantine/hooks';
import { useState } from 'react';
import { ApiError } from '../api';
import { usePolling, useApp } from '../context';
import type { MessageKey } from '../i18n';
import { formatDateTime, isTaskEnded, localToIso, orderedCounts, progressOf, statusColor, TASK_CATEGORIES, TASK_FILE_TYPES, taskActions, toQuery, type TaskAction, type TaskCategory } from '../logic';
import { CreateTaskModal, EditTaskModal, type Task } from './TaskForms';

const PAGE_SIZE = 20;

interface TaskPage {
  items: Task[];
  total: number;
}

export function StatusBadge({ status }: { status: string }) {
  const { t } = useApp();
  const known = ['created', 'in_progress', 'paused', 'completed', 'canceled', 'failed'].includes(status);
  return (
    <Badge color={statusColor(status)} variant="light" data-status={status}>
      {known ? t(`status.${status}` as MessageKey) : status}
    </Badge>
  );
}

export function CountBadges({ counts }: { counts: Record<string, number> }) {
  const entries = orderedCounts(counts);
  if (entries.length === 0) return <Text size="sm">—</Text>;
  return (
    <Group gap={4} data-testid="counts">
      {entries.map(([status, n]) => (
        <Badge key={status} color={statusColor(status)} variant="outline" size="sm" data-count={status}>
          {status} {n}
        </Badge>
      ))}
    </Group>
  );
}

type Confirm = { kind: 'delete' | 'cancel'; task: Task } | null;

export function TasksPage() {
  const { api, t, lang, navigate } = useApp();
  const [category, setCategory] = useState<TaskCategory | 'all'>('all');
  const [name, setName] = useState('');
  const [debouncedName] = useDebouncedValue(name, 300);
  const [created, setCreated] = useState<[string | null, string | null]>([null, null]);
  const [page, setPage] = useState(1);
  const [data, setData] = useState<TaskPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Task | null>(null);
  const [confirm, setConfirm] = useState<Confirm>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = async () => {
    try {
      const query = toQuery({
        name: debouncedName.trim(),
        category: category === 'all' ? undefined : category,
        createdFrom: localToIso(created[0]),
        createdTo: localToIso(created[1], { endOfDay: true }),
        page,
        pageSize: PAGE_SIZE,
      });
      setData(await api.get<TaskPage>(`/api/v1/tasks${query}`));
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const live = (data?.items ?? []).some((task) => !isTaskEnded(task.status));
  // Live counts: every 2 s while a task on the page is running, else every 10 s for new tasks.
  usePolling(load, [debouncedName, category, created[0], created[1], page], live ? 2000 : 10_000);

  const clear = () => {
    setName('');
    setCreated([null, null]);
    setCategory('all');
    setPage(1);
  };

  const act = async (task: Task, action: TaskAction | 'delete') => {
    setBusy(`${task.id}:${action}`);
    try {
      if (action === 'delete') await api.request('DELETE', `/api/v1/tasks/${task.id}`);
      else await api.request('POST', `/api/v1/tasks/${task.id}/${action}`);
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.lines.join(' — ') : String(e));
    } finally {
      setBusy(null);
      await load();
    }
  };

  const downloadFile = (type: string) => void api.download(`/api/v1/task-files/${type}`, `${type}.xlsx`).catch((e: unknown) => setError(String(e)));

  const rows = (data?.items ?? []).map((task) => {
    const can = taskActions(task.status);
    const progress = progressOf(task.counts);
    const button = (action: TaskAction, label: MessageKey, color: string) =>
      can[action] && (
        <Button
          size="compact-xs"
          variant="light"
          color={color}
          loading={busy === `${task.id}:${action}`}
          onClick={() => (action === 'cancel' ? setConfirm({ kind: 'cancel', task }) : void act(task, action))}
        >
          {t(label)}
        </Button>
      );
    return (
      <Table.Tr key={task.id} data-task={task.name} data-status={task.status}>
        <Table.Td>
          <Anchor
            href={`/tasks/${task.id}/history`}
            onClick={(e) => {
              e.preventDefault();
              navigate(`/tasks/${task.id}/history`);
            }}
          >
            {task.name}
          </Anchor>
          <Text size="xs" c="dimmed">
            {task.fileName ?? ''}
          </Text>
        </Table.Td>
        <Table.Td>{task.type}</Table.Td>
        <Table.Td miw={130}>
          <StatusBadge status={task.status} />
          {task.statusReason && (
            <Text size="xs" c="dimmed">
              {task.statusReason}
            </Text>
          )}
        </Table.Td>
        <Table.Td>{formatDateTime(task.createdAt, lang)}</Table.Td>
        <Table.Td>
          <Text size="sm">{t('tasks.rows', { total: task.total, rejected: task.rejected })}</Text>
          {task.rejected > 0 && (
            <Anchor size="xs" component="button" onClick={() => void api.download(`/api/v1/tasks/${task.id}/errors.xlsx`, 'errors.xlsx')}>
              {t('tasks.errors')}
            </Anchor>
          )}
        </Table.Td>
        <Table.Td miw={220}>
          <CountBadges counts={task.counts} />
          {progress.total > 0 && (
            <Tooltip label={t('tasks.done', { done: progress.done, total: progress.total })}>
              <Progress value={progress.percent} size="sm" mt={4} aria-label={t('tasks.done', { done: progress.done, total: progress.total })} />
            </Tooltip>
          )}
        </Table.Td>
        <Table.Td>
          <Group gap={4}>
            {button('start', 'tasks.start', 'green')}
            {button('pause', 'tasks.pause', 'yellow')}
            {button('resume', 'tasks.resume', 'blue')}
            {button('cancel', 'tasks.cancelTask', 'orange')}
            <Button size="compact-xs" variant="subtle" onClick={() => navigate(`/messages?taskId=${task.id}`)}>
              {t('tasks.messages')}
            </Button>
            <Button size="compact-xs" variant="subtle" onClick={() => setEditing(task)} disabled={isTaskEnded(task.status)}>
              {t('common.edit')}
            </Button>
            <Button size="compact-xs" variant="subtle" color="red" onClick={() => setConfirm({ kind: 'delete', task })}>
              {t('common.delete')}
            </Button>
            <Anchor size="xs" href={task.temporalUiUrl} target="_blank" rel="noreferrer">
              {t('tasks.temporal')}
            </Anchor>
          </Group>
        </Table.Td>
      </Table.Tr>
    );
  });

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t('tasks.title')}</Title>
        <Group>
          <Menu position="bottom-end">
            <Menu.Target>
              <Button variant="default">{t('tasks.files')}</Button>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Label>{t('tasks.filesHint')}</Menu.Label>
              {TASK_FILE_TYPES.map((type) => (
                <Menu.Item key={type} onClick={() => downloadFile(type)}>
                  {type}.xlsx
                </Menu.Item>
              ))}
            </Menu.Dropdown>
          </Menu>
          <Button onClick={() => setCreating(true)}>{t('tasks.create')}</Button>
        </Group>
      </Group>
      <SegmentedControl
        aria-label="Category"
        value={category}
        onChange={(value) => {
          setCategory(value as TaskCategory | 'all');
          setPage(1);
        }}
        data={[{ value: 'all', label: t('tasks.category.all') }, ...TASK_CATEGORIES.map((c) => ({ value: c, label: t(`tasks.category.${c}` as MessageKey) }))]}
        style={{ alignSelf: 'flex-start' }}
      />
      <Group align="end">
        <TextInput
          label={t('tasks.searchName')}
          value={name}
          onChange={(e) => {
            setName(e.currentTarget.value);
            setPage(1);
          }}
          w={260}
        />
        <DatePickerInput
          type="range"
          label={t('tasks.createdBetween')}
          value={created}
          onChange={(value) => {
            setCreated(value as [string | null, string | null]);
            setPage(1);
          }}
          clearable
          w={280}
          valueFormat="DD.MM.YYYY"
        />
        <Button variant="default" onClick={clear}>
          {t('common.clear')}
        </Button>
      </Group>
      {error && (
        <Alert color="red" role="alert" withCloseButton onClose={() => setError(null)}>
          {error}
        </Alert>
      )}
      <Table.ScrollContainer minWidth={1000}>
        <Table striped highlightOnHover verticalSpacing="xs" data-testid="tasks">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('tasks.col.name')}</Table.Th>
              <Table.Th>{t('tasks.col.type')}</Table.Th>
              <Table.Th>{t('tasks.col.status')}</Table.Th>
              <Table.Th>{t('tasks.col.created')}</Table.Th>
              <Table.Th>{t('tasks.col.rows')}</Table.Th>
              <Table.Th>{t('tasks.col.counts')}</Table.Th>
              <Table.Th>{t('tasks.col.actions')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>{rows}</Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {data && data.items.length === 0 && <Text c="dimmed">{t('common.nothing')}</Text>}
      {data && data.total > PAGE_SIZE && <Pagination total={Math.ceil(data.total / PAGE_SIZE)} value={page} onChange={setPage} />}

      <CreateTaskModal opened={creating} onClose={() => setCreating(false)} onCreated={() => void load()} />
      <EditTaskModal task={editing} onClose={() => setEditing(null)} onSaved={() => void load()} />
      <Modal opened={confirm !== null} onClose={() => setConfirm(null)} title={confirm?.kind === 'delete' ? t('tasks.deleteTitle') : t('tasks.cancelTitle')}>
        <Stack>
          <Text>{confirm && t(confirm.kind === 'delete' ? 'tasks.deleteText' : 'tasks.cancelText', { name: confirm.task.name })}</Text>
          <Group justify="end">
            <Button variant="default" onClick={() => setConfirm(null)}>
              {t('common.cancel')}
            </Button>
            <Button
              color="red"
              data-testid="confirm"
              onClick={() => {
                const c = confirm!;
                setConfirm(null);
                void act(c.task, c.kind === 'delete' ? 'delete' : 'cancel');
              }}
            >
              {confirm?.kind === 'delete' ? t('common.delete') : t('tasks.cancelTask')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
