import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

declare module 'http' {
  interface IncomingMessage {
    /** The request's number in this process: in its log line and in every line a handler logs. */
    id: number;
    /** A logger whose lines carry the request's id (made the first time a handler logs). */
    log: Logger;
  }
}

/**
 * One line per request — who asked what, the answer, how long — at info (warn for 4xx, error for
 * 5xx), and `req.log` for the handlers. pino-http, used before, made two child loggers per
 * request (each serializing its bindings) whether or not a line was written: ≈ 8 % of the API's
 * CPU per send in its profile (npm run bench -- --api 10000), at any log level.
 */
export function requestLog(logger: Logger, options: { redact: string[]; ignore: (url: string) => boolean }): RequestHandler {
  // Redaction applies to the request lines and to every line a handler logs through req.log.
  const base = logger.child({}, { redact: options.redact });
  let nextId = 1;
  return (req, res, next) => {
    const id = nextId++;
    req.id = id;
    let child: Logger | undefined;
    Object.defineProperty(req, 'log', { configurable: true, enumerable: false, get: () => (child ??= base.child({ reqId: id })) });
    if (!options.ignore(req.url)) {
      const started = Date.now();
      const done = () => {
        res.removeListener('finish', done);
        res.removeListener('close', done);
        const status = res.statusCode;
        const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
        if (!base.isLevelEnabled(level)) return;
        const message = !res.writableFinished ? 'request aborted' : status >= 500 ? 'request errored' : 'request completed';
        base[level]({ reqId: id, req: requestFields(req, id), res: { statusCode: status }, responseTime: Date.now() - started }, message);
      };
      res.on('finish', done);
      res.on('close', done);
    }
    next();
  };
}

function requestFields(req: IncomingMessage, id: number) {
  return { id, method: req.method, url: req.url, remoteAddress: req.socket?.remoteAddress, userAgent: req.headers['user-agent'] };
}
