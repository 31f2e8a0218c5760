import type { Random } from './fuzz-random.js';
import type { FuzzCase, FuzzWorld } from './fuzz-requests.js';

// Generators for the HTTP edge: bodies in types the gateway does not read (in any letter case), Accept
// headers that exclude every answer with q=0, lone surrogates, destinations written as IPv6 forms that
// carry an internal IPv4 address, and requests that stall.

const CREATE_KEY = 'mutation { createApiKey(input: { role: VIEWER, name: "fuzz" }) { key userErrors { code } } }';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** Bodies of a type the gateway does not read, in any letter case, or with no type; Accept that excludes every answer. */
export const mediaTypes = (random: Random, world: FuzzWorld): FuzzCase => {
  const json = JSON.stringify({ query: CREATE_KEY });
  const csrf: Record<string, string> = random.bool() ? { 'x-graphql-yoga-csrf': '1' } : {};
  const mixedCase = (text: string) => [...text].map((char) => (random.bool() ? char.toUpperCase() : char)).join('');
  const [contentType, body] = random.pick<() => [string | null, string]>([
    () => [mixedCase('application/x-www-form-urlencoded'), `query=${encodeURIComponent(CREATE_KEY)}`],
    () => [mixedCase('text/plain'), random.pick([json, CREATE_KEY])],
    () => [`${mixedCase('text/plain')}; charset=UTF-8`, json],
    () => [
      `${mixedCase('multipart/form-data')}; boundary=zz`,
      `--zz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${json}\r\n--zz--\r\n`,
    ],
    () => [`application/json; charset=${random.pick(['latin1', 'utf-16', 'ISO-8859-1', 'us-ascii'])}`, json],
    () => ['application/json, text/plain', json],
    () => [null, random.pick([json, `query=${encodeURIComponent(CREATE_KEY)}`])],
  ])();
  if (random.bool(0.3)) {
    const accept = random.pick([
      'application/json;q=0',
      'APPLICATION/JSON;Q=0',
      'application/json;q=0, application/graphql-response+json;q=0',
      '*/*;q=0',
      'application/json;q=0, text/html',
      'application/*;q=0',
    ]);
    return {
      category: 'Accept excluding every answer',
      expect: 'refused',
      request: { method: 'POST', headers: { 'content-type': 'application/json', accept, ...bearer(world.keys.ADMIN) }, body: json },
    };
  }
  const headers = { ...bearer(world.keys.ADMIN), ...csrf, ...(contentType === null ? {} : { 'content-type': contentType }) };
  return { category: 'unread body type', expect: 'refused', request: { method: 'POST', headers, body } };
};

/** A string with a UTF-16 surrogate that has no pair: not a character, so not text any column can hold. */
function loneSurrogate(random: Random): string {
  const unit = String.fromCharCode(random.between(0xd800, 0xdfff));
  return random.pick([unit, `${random.string(3)}${unit}`, `${unit}${random.string(3)}`, `\ud83d\ude00${unit}`, `${unit}${unit}`]);
}

/** Lone surrogates in variables (JSON writes them as `\udxxx` escapes) and in the document. */
export const loneSurrogates = (random: Random, world: FuzzWorld): FuzzCase => {
  const text = loneSurrogate(random);
  const [key, query, variables] = random.pick<() => [string, string, Record<string, unknown>?]>([
    () => [
      world.keys.ADMIN,
      'mutation($n: String) { createApiKey(input: { role: VIEWER, name: $n }) { key userErrors { code } } }',
      { n: text },
    ],
    () => [world.keys.VIEWER, 'query($s: String) { integrations(first: 5, filter: { search: $s }) { totalCount } }', { s: text }],
    () => [
      world.keys.VIEWER,
      'query($p: [String!]) { integrations(first: 5, filter: { providers: $p }) { totalCount } }',
      { p: ['github', text] },
    ],
    () => [
      world.keys.EDITOR,
      `mutation($e: [String!]) { refreshIntegration(input: { id: "${world.own.integrations[3]}", webhook: { events: $e } }) ` +
        '{ integration { id } userErrors { code } } }',
      { e: [text] },
    ],
    () => [
      world.keys.EDITOR,
      'mutation($c: JSONObject) { connectIntegration(input: ' +
        '{ provider: "http", authKind: API_TOKEN, displayName: "x", config: $c, credentials: { token: "t" } }) { userErrors { code } } }',
      { c: { baseUrl: 'https://x.test', [text]: 1 } },
    ],
    () => [
      world.keys.ADMIN,
      `mutation { createApiKey(input: { role: VIEWER, name: ${random.bool() ? JSON.stringify(text) : `"${text}"`} }) { key } }`,
    ],
  ])();
  const body = JSON.stringify({ query, ...(variables === undefined ? {} : { variables }) });
  return {
    category: 'lone surrogate',
    expect: 'refused',
    request: { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(key) }, body },
  };
};

/** An IPv4 address the outbound policy refuses even with private networks allowed: link-local, "this network", multicast, reserved. */
function internalIPv4(random: Random): [number, number, number, number] {
  const octet = () => random.int(256);
  return random.pick<() => [number, number, number, number]>([
    () => [169, 254, 169, 254],
    () => [169, 254, octet(), octet()],
    // Not 0.0.0.x: `::0.0.0.1` is ::1, IPv6 loopback, which development allows.
    () => [0, random.between(1, 255), octet(), octet()],
    () => [random.between(224, 239), octet(), octet(), octet()],
    () => [random.between(240, 255), octet(), octet(), octet()],
  ])();
}

/** That address as an IPv6 literal that carries it, or in one of IPv4's own notations. */
function disguised(random: Random, [a, b, c, d]: [number, number, number, number]): string {
  const high = ((a << 8) | b).toString(16);
  const low = ((c << 8) | d).toString(16);
  const dotted = `${a}.${b}.${c}.${d}`;
  return random.pick([
    `[::ffff:${high}:${low}]`,
    `[::ffff:${dotted}]`,
    `[::${high}:${low}]`,
    `[::${dotted}]`,
    `[0:0:0:0:0:0:${high}:${low}]`,
    `[::ffff:0:${high}:${low}]`,
    `[64:ff9b::${high}:${low}]`,
    `[64:ff9b::${dotted}]`,
    `[2002:${high}:${low}::${random.int(0xffff).toString(16)}]`,
    `[2001:0:808:808:8000:63bf:${(((a << 8) | b) ^ 0xffff).toString(16)}:${(((c << 8) | d) ^ 0xffff).toString(16)}]`,
    `0x${(((a << 24) | (b << 16) | (c << 8) | d) >>> 0).toString(16)}`,
    String(((a << 24) | (b << 16) | (c << 8) | d) >>> 0),
    `${a}.${b}.${(c << 8) | d}`,
  ]);
}

/** A provider at an internal address in disguise: the outbound policy refuses it, before any connection. */
export const disguisedInternalAddress = (random: Random, world: FuzzWorld): FuzzCase => {
  const host = disguised(random, internalIPv4(random));
  const url =
    `${random.pick(['http', 'https'])}://${host}${random.bool() ? `:${random.between(1, 65535)}` : ''}` +
    `${random.pick(['', '/', '/latest/meta-data/', '/computeMetadata/v1/'])}`;
  const query =
    'mutation { connectIntegration(input: { provider: "http", authKind: API_TOKEN, displayName: "x", ' +
    `config: { baseUrl: ${JSON.stringify(url)} }, credentials: { token: "t" } }) { integration { id } userErrors { code } } }`;
  return {
    category: 'internal address in disguise',
    expect: 'blocked',
    request: {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(world.keys.EDITOR) },
      body: JSON.stringify({ query }),
    },
  };
};

/** A request that stops before its end and keeps the connection open: answered 408 (or closed) by the server's deadlines. */
export const stalledRequest = (random: Random, world: FuzzWorld): FuzzCase => {
  const auth = `Authorization: Bearer ${world.keys.VIEWER}\r\n`;
  const body = JSON.stringify({ query: '{ viewer { role } }' });
  const text = random.pick([
    () => `POST /graphql HTTP/1.1\r\nHost: x\r\n${auth}`,
    () =>
      `POST /graphql HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n` +
      body.slice(0, random.int(body.length)),
    () =>
      `POST /graphql HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `${body.length.toString(16)}\r\n${body.slice(0, 5)}`,
    () => `GET /graphql?query=${encodeURIComponent('{ viewer { role } }')} HTTP/1.1\r\nHo`,
  ])();
  return { category: 'stalled request', expect: 'refused', raw: Buffer.from(text, 'latin1'), stall: true };
};
