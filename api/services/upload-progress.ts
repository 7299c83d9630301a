import type { ImportProgress } from './task-import';

/** How an upload is getting on, for a client that polls `GET /api/v1/uploads/:uploadId`. */
export interface UploadState extends ImportProgress {
  uploadId: string;
  state: 'reading' | 'done' | 'failed';
  taskId: string | null;
  error: string | null;
  startedAt: string;
  updatedAt: string;
}

const KEEP_FINISHED_MS = 15 * 60_000;
const MAX_UPLOADS = 1000;

/**
 * Progress of the uploads this API process is reading, by the id the client chose (`X-Upload-Id`).
 * In memory and bounded: a finished upload is kept for 15 minutes; the task itself is the record.
 */
export class UploadProgress {
  private readonly uploads = new Map<string, UploadState & { expiresAt?: number }>();

  begin(uploadId: string): void {
    this.prune();
    const now = new Date().toISOString();
    this.uploads.set(uploadId, { uploadId, state: 'reading', rowsRead: 0, accepted: 0, rejected: 0, duplicates: 0, taskId: null, error: null, startedAt: now, updatedAt: now });
  }

  update(uploadId: string, progress: ImportProgress): void {
    const upload = this.uploads.get(uploadId);
    if (upload) Object.assign(upload, progress, { updatedAt: new Date().toISOString() });
  }

  finish(uploadId: string, outcome: { taskId: string } | { error: string }): void {
    const upload = this.uploads.get(uploadId);
    if (!upload) return;
    Object.assign(upload, 'taskId' in outcome ? { state: 'done', taskId: outcome.taskId } : { state: 'failed', error: outcome.error }, {
      updatedAt: new Date().toISOString(),
      expiresAt: Date.now() + KEEP_FINISHED_MS,
    });
  }

  get(uploadId: string): UploadState | undefined {
    const upload = this.uploads.get(uploadId);
    if (!upload) return undefined;
    const { expiresAt: _expiresAt, ...state } = upload;
    return state;
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, upload] of this.uploads) if (upload.expiresAt !== undefined && upload.expiresAt < now) this.uploads.delete(id);
    // Still full: forget the oldest (Map keeps insertion order).
    while (this.uploads.size >= MAX_UPLOADS) this.uploads.delete(this.uploads.keys().next().value!);
  }
}
