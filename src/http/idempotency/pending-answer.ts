import type { SealBinding } from './response-seal.js';

/** The key row a claim holds: its organization, key and the claim's token. */
export interface ClaimTarget {
  organizationId: string;
  key: string;
  token: string;
  /** The request holding the claim, for the log lines about it. */
  requestId?: string | undefined;
}

/**
 * What a mutation sent with an Idempotency-Key still owes its answer: a claimed key whose answer is to be
 * sealed and stored once it is written, or a stored answer that replaces the one GraphQL would write.
 */
export type PendingAnswer =
  | { kind: 'claimed'; target: ClaimTarget; credential: string; binding: SealBinding }
  | { kind: 'replay'; status: number; headers: Record<string, string>; body: string };
