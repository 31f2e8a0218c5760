import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { OutboundBlockedError } from './errors.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Address, number];

/** What a development gateway may reach with `allowPrivate`: its own machine and its LAN. */
const PRIVATE_RANGES = new Set(['loopback', 'private', 'uniqueLocal', 'carrierGradeNat']);

/** Parsed `OUTBOUND_ALLOWLIST`: exact hostnames, `*.suffix` wildcards, and address ranges. */
interface Allowlist {
  hosts: Set<string>;
  suffixes: string[];
  ranges: Cidr[];
}

const HOSTNAME = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function normalizeHost(host: string): string {
  return host
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** Parses one allowlist entry (hostname, `*.domain`, IP or CIDR); null when it is none of those. */
function parseEntry(raw: string): { host: string } | { range: Cidr } | null {
  const entry = normalizeHost(raw.trim());
  try {
    if (entry.includes('/')) return { range: ipaddr.parseCIDR(entry) };
    if (ipaddr.IPv4.isValidFourPartDecimal(entry) || ipaddr.IPv6.isValid(entry)) {
      const address = ipaddr.parse(entry);
      return { range: [address, address.kind() === 'ipv4' ? 32 : 128] };
    }
  } catch {
    return null;
  }
  return HOSTNAME.test(entry) ? { host: entry } : null;
}

/** Whether every comma-separated entry parses (for configuration validation). */
export function isValidAllowlist(entries: readonly string[]): boolean {
  return entries.every((entry) => parseEntry(entry) !== null);
}

function parseAllowlist(entries: readonly string[]): Allowlist {
  const list: Allowlist = { hosts: new Set(), suffixes: [], ranges: [] };
  for (const raw of entries) {
    const parsed = parseEntry(raw);
    if (!parsed) throw new Error(`invalid outbound allowlist entry: ${raw}`);
    if ('range' in parsed) list.ranges.push(parsed.range);
    else if (parsed.host.startsWith('*.')) list.suffixes.push(parsed.host.slice(1));
    else list.hosts.add(parsed.host);
  }
  return list;
}

const ipv4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);

/**
 * The IPv4 addresses an IPv6 address carries, which is where its packets end up: IPv4-mapped
 * (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated but
 * still routed by some stacks), NAT64 with the well-known prefix (`64:ff9b::a.b.c.d`), 6to4
 * (`2002:aabb:ccdd::`) and Teredo (`2001:0:<server>:…:<client, inverted>`, both judged). Empty for an
 * address that embeds none. NAT64 under a local-use prefix (`64:ff9b:1::/48`) places the IPv4 address
 * where its operator chose, so it stays reserved (refused unless allow-listed).
 */
export function embeddedIPv4(address: Address): ipaddr.IPv4[] {
  if (address.kind() === 'ipv4') return [];
  const v6 = address as ipaddr.IPv6;
  const parts = v6.parts as [number, number, number, number, number, number, number, number];
  switch (v6.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return [ipv4(parts[6], parts[7])];
    case 'rfc6052':
      return parts[1] === 0xff9b && parts[2] === 0 ? [ipv4(parts[6], parts[7])] : [];
    case '6to4':
      return [ipv4(parts[1], parts[2])];
    case 'teredo':
      return [ipv4(parts[2], parts[3]), ipv4(parts[6] ^ 0xffff, parts[7] ^ 0xffff)];
    case 'unicast':
      // ::/96 apart from :: and ::1, which are their own ranges (unspecified, loopback).
      return parts.slice(0, 6).every((part) => part === 0) ? [ipv4(parts[6], parts[7])] : [];
    default:
      return [];
  }
}

/**
 * The addresses a destination is judged as: the IPv4 addresses an IPv6 address embeds, in place of it
 * (so `[::a9fe:a9fe]` is metadata like 169.254.169.254), or the address itself.
 */
function judgedAddresses(address: Address): Address[] {
  const embedded = embeddedIPv4(address);
  return embedded.length > 0 ? embedded : [address];
}

/** Options shared by the policy and the client. */
export interface PolicyOptions {
  /** Hostnames (`api.example.com`, `*.corp.example`), IPs or CIDR ranges always allowed, over plain http too. */
  allowlist: readonly string[];
  /** Also allow loopback, RFC 1918, unique-local and CGNAT addresses (development). Link-local never. */
  allowPrivate: boolean;
  /** Refuse plain `http` unless the host or every address it resolves to is allow-listed. */
  requireHttps: boolean;
}

/** Decides which destinations an outbound call may reach, before connecting and at connect time. */
export class OutboundPolicy {
  private readonly allowlist: Allowlist;

  constructor(private readonly options: PolicyOptions) {
    this.allowlist = parseAllowlist(options.allowlist);
  }

  /** Whether a hostname is allow-listed by name (then wherever it resolves is trusted). */
  hostAllowed(hostname: string): boolean {
    const host = normalizeHost(hostname);
    return this.allowlist.hosts.has(host) || this.allowlist.suffixes.some((suffix) => host.endsWith(suffix));
  }

  private rangeListed(address: Address): boolean {
    return this.allowlist.ranges.some(([base, bits]) => address.kind() === base.kind() && address.match(base, bits));
  }

  /** Listed as written, or every IPv4 address it embeds is. */
  private addressListed(address: Address): boolean {
    return this.rangeListed(address) || judgedAddresses(address).every((judged) => this.rangeListed(judged));
  }

  /** Whether an address is public unicast, or private where private networks are allowed. */
  private rangeAllowed(address: Address): boolean {
    const range = address.range();
    return range === 'unicast' || (this.options.allowPrivate && PRIVATE_RANGES.has(range));
  }

  /** Whether a resolved address may be connected to; `plainHttp` calls need an allow-listed address. */
  addressAllowed(text: string, plainHttp: boolean): boolean {
    let address: Address;
    try {
      address = ipaddr.parse(text);
    } catch {
      return false;
    }
    if (this.addressListed(address)) return true;
    if (plainHttp) return false;
    return judgedAddresses(address).every((judged) => this.rangeAllowed(judged));
  }

  /**
   * Checks what is known before connecting: scheme, https, and a literal address (which is connected to
   * without any lookup). Returns whether the connection must be plain http over allow-listed addresses,
   * which only the connect-time lookup can tell for a hostname.
   */
  checkUrl(url: URL): { plainHttp: boolean } {
    const host = url.host;
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new OutboundBlockedError(host, `the ${url.protocol.replace(/:$/, '')} scheme is not allowed`);
    const hostname = normalizeHost(url.hostname);
    const literal = isIP(hostname) !== 0;
    const listed = this.hostAllowed(hostname) || (literal && this.addressListed(ipaddr.parse(hostname)));
    const plainHttp = url.protocol === 'http:' && this.options.requireHttps && !listed;
    if (literal && !this.addressAllowed(hostname, plainHttp)) {
      throw new OutboundBlockedError(
        host,
        plainHttp ? 'https is required' : 'the address is internal (loopback, private, link-local or reserved)',
      );
    }
    return { plainHttp };
  }

  /**
   * Keeps the resolved addresses a connection may use, so that DNS answering with a mix cannot steer
   * the socket inside; refuses when none is left.
   */
  permittedAddresses<T extends { address: string }>(hostname: string, addresses: readonly T[], plainHttp: boolean): T[] {
    if (this.hostAllowed(hostname)) return [...addresses];
    const permitted = addresses.filter((entry) => this.addressAllowed(entry.address, plainHttp));
    if (permitted.length === 0) {
      throw new OutboundBlockedError(hostname, plainHttp ? 'https is required' : 'the host resolves only to internal addresses');
    }
    return permitted;
  }
}
