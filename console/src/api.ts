/** The documented HTTP API (/api/v1) with the signed-in key: JSON calls, downloads and uploads. */
import { errorLines, fileNameFromDisposition, roleFromProbe, type Role } from './logic';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly lines: string[],
    readonly body: unknown,
  ) {
    super(lines.join('\n'));
  }
}

const KEY_STORAGE = 'console.apiKey';
const ROLE_STORAGE = 'console.role';

export interface Session {
  key: string;
  role: Role;
}

export function savedSession(): Session | null {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const role = sessionStorage.getItem(ROLE_STORAGE);
  return key && (role === 'admin' || role === 'operator') ? { key, role } : null;
}

export function saveSession(session: Session | null): void {
  if (session) {
    sessionStorage.setItem(KEY_STORAGE, session.key);
    sessionStorage.setItem(ROLE_STORAGE, session.role);
  } else {
    sessionStorage.removeItem(KEY_STORAGE);
    sessionStorage.removeItem(ROLE_STORAGE);
  }
}

/** Checks a key and finds its role (see roleFromProbe). */
export async function probeKey(key: string): Promise<Role | 'invalid'> {
  const res = await fetch('/api/v1/api-keys?pageSize=1', { headers: { Authorization: `Bearer ${key}` } });
  const role = roleFromProbe(res.status);
  if (role === 'unknown') throw new ApiError(res.status, errorLines(await res.json().catch(() => null), `HTTP ${res.status}`), null);
  return role;
}

export class Api {
  constructor(
    private readonly key: string,
    private readonly onUnauthorized: () => void,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  private async fail(res: Response): Promise<never> {
    if (res.status === 401) this.onUnauthorized();
    const body = await res.json().catch(() => null);
    throw new ApiError(res.status, errorLines(body, `HTTP ${res.status} ${res.statusText}`), body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(path, {
      method,
      headers: this.headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) return this.fail(res);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** The bytes of a file the API sends (an .xlsx), with the name it gives. */
  async fetchFile(path: string, fallbackName: string): Promise<{ blob: Blob; name: string }> {
    const res = await fetch(path, { headers: this.headers() });
    if (!res.ok) return this.fail(res);
    return { blob: await res.blob(), name: fileNameFromDisposition(res.headers.get('Content-Disposition'), fallbackName) };
  }

  /** Downloads a file as the browser's own download (the key goes in a header, so no plain link). */
  async download(path: string, fallbackName: string): Promise<string> {
    const { blob, name } = await this.fetchFile(path, fallbackName);
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return name;
  }

  /** A multipart upload with the bytes sent reported as they go (fetch cannot report upload progress). */
  upload<T>(method: string, path: string, form: FormData, options: { uploadId?: string; onProgress?: (sent: number, total: number) => void }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, path);
      xhr.setRequestHeader('Authorization', `Bearer ${this.key}`);
      if (options.uploadId) xhr.setRequestHeader('X-Upload-Id', options.uploadId);
      xhr.upload.onprogress = (event) => options.onProgress?.(event.loaded, event.lengthComputable ? event.total : 0);
      xhr.onerror = () => reject(new ApiError(0, ['the upload failed: network error'], null));
      xhr.onload = () => {
        let body: unknown = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          /* not JSON */
        }
        if (xhr.status >= 200 && xhr.status < 300) return resolve(body as T);
        if (xhr.status === 401) this.onUnauthorized();
        reject(new ApiError(xhr.status, errorLines(body, `HTTP ${xhr.status}`), body));
      };
      xhr.send(form);
    });
  }
}

/** The browser's raw-deflate inflater, for reading .xlsx files (see xlsx.ts). */
export async function inflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
