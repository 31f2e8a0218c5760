import type { RequestState } from '../admission/request-state.js';

/** What REST handlers get from the router: the request's state (admission/request-state.ts). */
export type RestEnv = { Variables: { state: RequestState } };
