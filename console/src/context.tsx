/** What every page uses: the API with the signed-in key, the language, and the client-side route. */
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { Api, Session } from './api';
import { translate, type Lang, type MessageKey } from './i18n';

export interface AppContextValue {
  api: Api;
  session: Session;
  lang: Lang;
  t: (key: MessageKey, params?: Record<string, string | number>) => string;
  navigate: (to: string) => void;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside AppContext');
  return value;
}

export function useLanguage(): [Lang, (lang: Lang) => void, AppContextValue['t']] {
  const [lang, setLang] = useState<Lang>(() => (localStorage.getItem('console.lang') === 'ru' ? 'ru' : 'en'));
  const change = useCallback((next: Lang) => {
    localStorage.setItem('console.lang', next);
    document.documentElement.lang = next;
    setLang(next);
  }, []);
  const t = useCallback((key: MessageKey, params?: Record<string, string | number>) => translate(lang, key, params), [lang]);
  return [lang, change, t];
}

/** The path and query of the address bar, changed by `navigate` and the browser's back/forward. */
export function useLocation(): [URL, (to: string) => void] {
  const [href, setHref] = useState(() => window.location.href);
  useEffect(() => {
    const onPop = () => setHref(window.location.href);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((to: string) => {
    window.history.pushState(null, '', to);
    setHref(window.location.href);
    window.scrollTo(0, 0);
  }, []);
  return [new URL(href), navigate];
}

/** Calls `load` now, whenever `deps` change, and every `everyMs` while `active` (live counts). */
export function usePolling(load: () => Promise<void> | void, deps: unknown[], everyMs: number, active = true): void {
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    void latest.current();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') void latest.current();
    }, everyMs);
    return () => window.clearInterval(timer);
  }, [active, everyMs]);
}
