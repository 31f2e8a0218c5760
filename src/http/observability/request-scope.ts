import { AsyncLocalStorage } from 'node:async_hooks';

/** The request being served, as seen from anywhere in its asynchronous flow (logs, error masking). */
export interface RequestScope {
  readonly requestId: string | undefined;
  readonly organizationId: string | undefined;
}

const storage = new AsyncLocalStorage<RequestScope>();

export function runInRequestScope<T>(scope: RequestScope, run: () => T): T {
  return storage.run(scope, run);
}

export function currentRequestScope(): RequestScope | undefined {
  return storage.getStore();
}
