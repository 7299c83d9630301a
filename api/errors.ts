import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';

export interface ErrorDetail {
  path: string;
  message: string;
}

/** An error with the HTTP status and the documented error shape (shared/API.md, "Errors"). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details: ErrorDetail[] = []) => new HttpError(400, 'validation_failed', message, details);
export const unprocessable = (message: string, details: ErrorDetail[] = []) => new HttpError(422, 'unprocessable', message, details);
export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);

export function zodDetails(error: z.ZodError, prefix: (string | number)[] = []): ErrorDetail[] {
  return error.issues.map((issue) => ({ path: [...prefix, ...issue.path].map(String).join('.'), message: issue.message }));
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

/** Turns every error into the documented shape; unexpected ones are logged and become 500. */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let httpError: HttpError;
  if (err instanceof HttpError) httpError = err;
  else if (err instanceof z.ZodError) httpError = badRequest('request validation failed', zodDetails(err));
  else if (err?.type === 'entity.parse.failed') httpError = badRequest(`malformed JSON body: ${err.message}`, [{ path: 'body', message: 'not valid JSON' }]);
  else if (err?.type === 'entity.too.large') httpError = new HttpError(413, 'payload_too_large', `request body larger than ${err.limit} bytes`);
  else if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported') httpError = new HttpError(415, 'unsupported_media_type', err.message);
  else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) httpError = new HttpError(err.status, 'bad_request', err.message);
  else {
    req.log?.error({ err }, 'unhandled error');
    httpError = new HttpError(500, 'internal', 'internal error');
  }
  const body: { error: { code: string; message: string; details?: ErrorDetail[] } } = {
    error: { code: httpError.code, message: httpError.message },
  };
  if (httpError.details.length > 0) body.error.details = httpError.details;
  res.status(httpError.status).json(body);
};
