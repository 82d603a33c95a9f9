import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What is known about an HTTP request from its start, kept for the code that runs on its behalf
 * (the audit record of a write is made deep in the database layer). Captured when the request
 * arrives: the socket, and with it the peer address, may be gone by the time a write commits.
 */
export interface RequestContext {
  readonly requestId: string;
  readonly ip: string;
  readonly source: string;
  readonly method: string;
  readonly path: string;
  /** Per-request state of the modules that keep some (the audit module's pending record). */
  readonly slots: Map<symbol, unknown>;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` (and everything it starts) as work of the request. */
export function runInRequest<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The request being served, when the caller runs on behalf of one. */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/**
 * Runs `fn` as nobody's request: background loops started or woken by a request (the job
 * runner) must not carry that request's context into every later run.
 */
export function outsideRequest<T>(fn: () => T): T {
  return storage.exit(fn);
}
