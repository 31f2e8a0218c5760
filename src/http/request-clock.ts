import type { WithRequestState } from './admission/request-state.js';

/**
 * When the request of this GraphQL context arrived, before it waited for anything (authentication, a
 * database connection, a row lock). A forced token refresh skips when another refresh was recorded since
 * its request began; a time taken later, when the resolver runs, could already be after a refresh that
 * committed while this request waited, and it would then refresh a second time.
 */
export function requestArrivedAt(context: object): Date | undefined {
  return (context as WithRequestState).state?.arrivedAt;
}
