import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { Agent } from 'undici';
import type { OutboundPolicy } from './address-policy.js';

/** One resolved address, as `dns.lookup(..., { all: true })` gives it. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a hostname to every address; replaceable in tests to play DNS (rebinding, internal answers). */
export type Resolver = (hostname: string, family: number) => Promise<ResolvedAddress[]>;

const systemResolver: Resolver = (hostname, family) => dnsLookup(hostname, { all: true, family, verbatim: true });

/**
 * A `lookup` for the socket itself: the address is checked in the same step that hands it to
 * `connect`, so an answer that changes between a check and the connection (DNS rebinding) cannot reach
 * an internal address. The socket keeps the hostname for Host and TLS SNI.
 */
function guardedLookup(policy: OutboundPolicy, plainHttp: boolean, resolve: Resolver): LookupFunction {
  return (hostname, options, callback) => {
    const family = typeof options.family === 'number' ? options.family : 0;
    resolve(hostname, family).then(
      (addresses) => {
        let permitted: ResolvedAddress[];
        try {
          permitted = policy.permittedAddresses(hostname, addresses, plainHttp);
        } catch (error) {
          return callback(error as NodeJS.ErrnoException, '', 0);
        }
        if (options.all) return (callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, permitted);
        const [first] = permitted as [ResolvedAddress];
        callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/** An undici dispatcher whose every new connection passes the policy's connect-time address check. */
export function createGuardedAgent(policy: OutboundPolicy, options: { plainHttp: boolean; resolve?: Resolver }): Agent {
  return new Agent({ connect: { lookup: guardedLookup(policy, options.plainHttp, options.resolve ?? systemResolver) } });
}
