import type { Plugin } from 'graphql-yoga';

const arrivals = new WeakMap<Request, Date>();

/**
 * Notes when each request arrived, before it waits for anything (authentication, a database
 * connection, a row lock). A forced token refresh skips when another refresh was recorded since its
 * request began; a time taken later, when the resolver runs, could already be after a refresh that
 * committed while this request waited, and it would then refresh a second time.
 */
export function useRequestClock(): Plugin {
  return {
    onRequest({ request }) {
      arrivals.set(request, new Date());
    },
  };
}

/** When the request arrived, if the gateway runs `useRequestClock`. */
export function requestArrivedAt(request: Request | undefined): Date | undefined {
  return request ? arrivals.get(request) : undefined;
}
