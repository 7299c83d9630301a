/** The shell: sign-in, then the navigation and the page of the address bar. */
import { Alert, AppShell, Badge, Burger, Button, Center, Group, NavLink, Paper, PasswordInput, SegmentedControl, Stack, Text, Title } from '@mantine/core';
import { DatesProvider } from '@mantine/dates';
import { useDisclosure } from '@mantine/hooks';
import { useMemo, useState, type FormEvent } from 'react';
import { Api, ApiError, probeKey, saveSession, savedSession, type Session } from './api';
import { AppContext, useLanguage, useLocation, type AppContextValue } from './context';
import type { Lang, MessageKey } from './i18n';
import { DashboardPage } from './pages/DashboardPage';
import { HlrPage } from './pages/HlrPage';
import { MessagesPage } from './pages/MessagesPage';
import { TaskHistoryPage } from './pages/TaskHistoryPage';
import { SendersPage } from './pages/SendersPage';
import { SendPage } from './pages/SendPage';
import { TasksPage } from './pages/TasksPage';
import { TemplatesPage } from './pages/TemplatesPage';

interface NavItem {
  path: string;
  label: MessageKey;
}
/** The pages, in the navigation's order. */
const PAGES: NavItem[] = [
  { path: '/dashboard', label: 'nav.dashboard' },
  { path: '/tasks', label: 'nav.tasks' },
  { path: '/messages', label: 'nav.messages' },
  { path: '/hlr', label: 'nav.hlr' },
  { path: '/templates', label: 'nav.templates' },
  { path: '/senders', label: 'nav.senders' },
  { path: '/send', label: 'nav.send' },
];

function LanguageSwitch({ lang, setLang }: { lang: Lang; setLang: (lang: Lang) => void }) {
  return (
    <SegmentedControl
      size="xs"
      aria-label="Language"
      value={lang}
      onChange={(value) => setLang(value === 'ru' ? 'ru' : 'en')}
      data={[
        { value: 'en', label: 'EN' },
        { value: 'ru', label: 'RU' },
      ]}
    />
  );
}

function SignIn({ onSignedIn, lang, setLang, t }: { onSignedIn: (session: Session) => void; lang: Lang; setLang: (lang: Lang) => void; t: AppContextValue['t'] }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const role = await probeKey(key.trim());
      if (role === 'invalid') setError(t('signIn.invalid'));
      else onSignedIn({ key: key.trim(), role });
    } catch (e) {
      setError(t('signIn.failed', { reason: e instanceof ApiError ? e.message : String(e) }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Center mih="100vh" bg="gray.0">
      <Paper withBorder shadow="sm" p="xl" w={420}>
        <form onSubmit={submit}>
          <Stack>
            <Group justify="space-between">
              <Title order={2}>{t('signIn.title')}</Title>
              <LanguageSwitch lang={lang} setLang={setLang} />
            </Group>
            <Text size="sm" c="dimmed">
              {t('signIn.intro')}
            </Text>
            <PasswordInput label={t('signIn.key')} value={key} onChange={(e) => setKey(e.currentTarget.value)} required autoFocus data-testid="api-key" />
            {error && (
              <Alert color="red" role="alert">
                {error}
              </Alert>
            )}
            <Button type="submit" loading={busy} disabled={!key.trim()}>
              {t('signIn.submit')}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}

function Page({ path, search }: { path: string; search: string }) {
  const history = /^\/tasks\/([0-9a-f-]{36})\/history\/?$/i.exec(path);
  if (history) return <TaskHistoryPage taskId={history[1]!} />;
  if (path.startsWith('/messages')) return <MessagesPage />;
  if (path.startsWith('/hlr')) return <HlrPage />;
  if (path.startsWith('/dashboard')) return <DashboardPage />;
  if (path.startsWith('/senders')) return <SendersPage />;
  if (path.startsWith('/send')) return <SendPage key={search} templateId={new URLSearchParams(search).get('templateId') ?? undefined} />;
  const template = /^\/templates(?:\/([0-9a-f-]{36}|new))?\/?$/i.exec(path);
  if (template) return <TemplatesPage key={template[1] ?? 'list'} id={template[1]} />;
  return <TasksPage />;
}

export function App() {
  const [lang, setLang, t] = useLanguage();
  const [location, navigate] = useLocation();
  const [session, setSession] = useState<Session | null>(() => savedSession());
  const [opened, { toggle, close }] = useDisclosure();
  const signOut = () => {
    saveSession(null);
    setSession(null);
  };
  const value = useMemo<AppContextValue | null>(
    () => (session ? { api: new Api(session.key, signOut), session, lang, t, navigate } : null),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [session, lang, t, navigate],
  );

  if (!session || !value) {
    return (
      <SignIn
        lang={lang}
        setLang={setLang}
        t={t}
        onSignedIn={(s) => {
          saveSession(s);
          setSession(s);
          if (location.pathname === '/' || location.pathname === '') navigate('/tasks');
        }}
      />
    );
  }
  const path = location.pathname === '/' ? '/tasks' : location.pathname;
  return (
    <AppContext.Provider value={value}>
      <DatesProvider settings={{ locale: lang, firstDayOfWeek: 1 }}>
        <AppShell header={{ height: 56 }} navbar={{ width: 250, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
          <AppShell.Header>
            <Group h="100%" px="md" justify="space-between">
              <Group>
                <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" />
                <Title order={4}>{t('app.title')}</Title>
              </Group>
              <Group>
                <Badge variant="light" data-testid="role">
                  {t(session.role === 'admin' ? 'role.admin' : 'role.operator')}
                </Badge>
                <LanguageSwitch lang={lang} setLang={setLang} />
                <Button variant="subtle" size="xs" onClick={signOut}>
                  {t('app.signOut')}
                </Button>
              </Group>
            </Group>
          </AppShell.Header>
          <AppShell.Navbar p="xs">
            {PAGES.map((item) => (
              <NavLink
                key={item.path}
                href={item.path}
                label={t(item.label)}
                active={path === item.path || path.startsWith(`${item.path}/`)}
                onClick={(event) => {
                  event.preventDefault();
                  close();
                  navigate(item.path);
                }}
              />
            ))}
          </AppShell.Navbar>
          <AppShell.Main>
            <Page path={path} search={location.search} />
          </AppShell.Main>
        </AppShell>
      </DatesProvider>
    </AppContext.Provider>
  );
}
