import { describe, expect, it } from 'vitest';
import { isValidAllowlist, OutboundPolicy } from './address-policy.js';
import { OutboundBlockedError } from './errors.js';

const strict = new OutboundPolicy({ allowlist: [], allowPrivate: false, requireHttps: true });
const development = new OutboundPolicy({ allowlist: [], allowPrivate: true, requireHttps: false });
const check = (policy: OutboundPolicy, url: string) => policy.checkUrl(new URL(url));

describe('OutboundPolicy addresses', () => {
  const internal = [
    '127.0.0.1',
    '127.9.9.9',
    '::1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    'fc00::1',
    'fd12:3456::1',
    '169.254.169.254',
    '169.254.0.1',
    'fe80::1',
    '100.64.0.1',
    '100.127.255.254',
    '0.0.0.0',
    '::',
    '224.0.0.1',
    'ff02::1',
    '255.255.255.255',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:10.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '192.0.2.1',
    '240.0.0.1',
  ];
  it.each(internal)('refuses %s in production mode', (address) => {
    expect(strict.addressAllowed(address, false)).toBe(false);
  });

  it.each(['8.8.8.8', '140.82.112.3', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    'allows public %s',
    (address) => {
      expect(strict.addressAllowed(address, false)).toBe(true);
      // Plain http to a public address is never allowed when https is required.
      expect(strict.addressAllowed(address, true)).toBe(false);
    },
  );

  it('lets development reach loopback and private networks, but never link-local or metadata', () => {
    for (const address of ['127.0.0.1', '::1', '10.0.0.1', '192.168.0.10', 'fd00::1', '100.64.1.1', '::ffff:127.0.0.1']) {
      expect(development.addressAllowed(address, false), address).toBe(true);
    }
    for (const address of ['169.254.169.254', 'fe80::1', '0.0.0.0', '224.0.0.1', '::ffff:169.254.169.254']) {
      expect(development.addressAllowed(address, false), address).toBe(false);
    }
  });

  it('allows what the allowlist names: IPs, CIDR ranges, hostnames and wildcards', () => {
    const policy = new OutboundPolicy({
      allowlist: ['10.20.0.0/16', '169.254.169.254', 'git.corp.example', '*.svc.internal'],
      allowPrivate: false,
      requireHttps: true,
    });
    expect(policy.addressAllowed('10.20.3.4', true)).toBe(true);
    expect(policy.addressAllowed('::ffff:10.20.3.4', false)).toBe(true);
    expect(policy.addressAllowed('10.21.0.1', false)).toBe(false);
    expect(policy.addressAllowed('169.254.169.254', false)).toBe(true);
    expect(policy.hostAllowed('GIT.corp.example.')).toBe(true);
    expect(policy.hostAllowed('api.svc.internal')).toBe(true);
    expect(policy.hostAllowed('svc.internal')).toBe(false);
    expect(policy.hostAllowed('evilgit.corp.example')).toBe(false);
    expect(policy.permittedAddresses('git.corp.example', [{ address: '10.0.0.1' }], true)).toHaveLength(1);
  });

  it('keeps only permitted addresses of a DNS answer and refuses when none is left', () => {
    const answer = [{ address: '10.0.0.1' }, { address: '140.82.112.3' }, { address: '127.0.0.1' }];
    expect(strict.permittedAddresses('mixed.example', answer, false)).toEqual([{ address: '140.82.112.3' }]);
    expect(() => strict.permittedAddresses('inside.example', [{ address: '169.254.169.254' }], false)).toThrow(OutboundBlockedError);
  });
});

describe('OutboundPolicy on IPv6 addresses that embed an IPv4 one', () => {
  // 169.254.169.254 (cloud metadata), 127.0.0.1 (loopback), 10.0.0.1 (private) and 8.8.8.8 (public),
  // written in every IPv6 form that carries an IPv4 address.
  const forms: [string, (a: number, b: number) => string][] = [
    ['IPv4-mapped', (a, b) => `::ffff:${hex(a)}:${hex(b)}`],
    ['IPv4-translated', (a, b) => `::ffff:0:${hex(a)}:${hex(b)}`],
    ['IPv4-compatible', (a, b) => `::${hex(a)}:${hex(b)}`],
    ['NAT64', (a, b) => `64:ff9b::${hex(a)}:${hex(b)}`],
    ['6to4', (a, b) => `2002:${hex(a)}:${hex(b)}::1`],
    ['Teredo (client)', (a, b) => `2001:0:808:808:8000:63bf:${hex(a ^ 0xffff)}:${hex(b ^ 0xffff)}`],
  ];
  const hex = (n: number) => n.toString(16);
  const addresses = {
    metadata: [0xa9fe, 0xa9fe],
    loopback: [0x7f00, 0x0001],
    private: [0x0a00, 0x0001],
    public: [0x0808, 0x0808],
  } as const;
  const table = forms.flatMap(([form, write]) => Object.entries(addresses).map(([kind, [a, b]]) => [form, kind, write(a, b)] as const));

  it.each(table)('%s %s (%s): judged as the IPv4 address it carries', (_form, kind, address) => {
    expect(strict.addressAllowed(address, false), 'production').toBe(kind === 'public');
    expect(development.addressAllowed(address, false), 'development').toBe(kind !== 'metadata');
  });

  it('refuses the metadata address in the notation the attack used, in both modes, before connecting', () => {
    for (const url of [
      'http://[::a9fe:a9fe]/',
      'http://[::169.254.169.254]/latest/meta-data/',
      'https://[64:ff9b::169.254.169.254]/',
      'https://[2002:a9fe:a9fe::]/',
      'https://[::ffff:0:a9fe:a9fe]/',
    ]) {
      expect(() => check(development, url), url).toThrow(OutboundBlockedError);
      expect(() => check(strict, url), url).toThrow(OutboundBlockedError);
    }
    // And in a DNS answer, at connect time.
    expect(() =>
      development.permittedAddresses('aaaa.example', [{ address: '::a9fe:a9fe' }, { address: '2002:a9fe:a9fe::1' }], false),
    ).toThrow(OutboundBlockedError);
  });

  it('judges a Teredo address by its server as well as its client', () => {
    expect(development.addressAllowed('2001:0:a9fe:a9fe:8000:63bf:f7f7:f7f7', false)).toBe(false);
  });

  it('keeps NAT64 under a local-use prefix reserved: where it carries the IPv4 address is not known', () => {
    expect(development.addressAllowed('64:ff9b:1::a9fe:a9fe', false)).toBe(false);
    expect(strict.addressAllowed('64:ff9b:1::808:808', false)).toBe(false);
  });

  it('allow-lists an embedded address by its IPv4 range', () => {
    const policy = new OutboundPolicy({ allowlist: ['10.20.0.0/16'], allowPrivate: false, requireHttps: true });
    for (const address of ['::ffff:10.20.3.4', '::a14:304', '64:ff9b::a14:304', '2002:a14:304::1'])
      expect(policy.addressAllowed(address, true), address).toBe(true);
    expect(policy.addressAllowed('::a15:1', false)).toBe(false);
  });
});

describe('OutboundPolicy URLs', () => {
  it('refuses schemes other than http and https', () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/', 'gopher://example.com/', 'data:text/plain,x']) {
      expect(() => check(development, url), url).toThrow(/scheme is not allowed/);
    }
  });

  it('refuses literal internal addresses in any notation before connecting', () => {
    for (const url of [
      'https://127.1/',
      'https://0x7f000001/',
      'https://2130706433/',
      'https://[::ffff:127.0.0.1]/',
      'https://[::1]/',
      'https://169.254.169.254/latest/meta-data/',
    ]) {
      expect(() => check(strict, url), url).toThrow(OutboundBlockedError);
    }
    expect(check(strict, 'https://140.82.112.3/')).toEqual({ plainHttp: false });
  });

  it('requires https unless the host or its addresses are allow-listed', () => {
    expect(() => check(strict, 'http://140.82.112.3/')).toThrow(/https is required/);
    // A hostname is decided at connect time, where only allow-listed addresses may be used.
    expect(check(strict, 'http://api.example.com/')).toEqual({ plainHttp: true });
    const listed = new OutboundPolicy({ allowlist: ['api.example.com', '10.0.0.0/8'], allowPrivate: false, requireHttps: true });
    expect(check(listed, 'http://api.example.com/')).toEqual({ plainHttp: false });
    expect(check(listed, 'http://10.1.1.1:8080/')).toEqual({ plainHttp: false });
    expect(check(development, 'http://127.0.0.1:4000/')).toEqual({ plainHttp: false });
  });

  it('validates allowlist entries', () => {
    expect(isValidAllowlist(['example.com', '*.example.com', '10.0.0.0/8', '::1', 'fd00::/8', '127.0.0.1'])).toBe(true);
    for (const bad of ['10.0.0.0/40', 'http://example.com', 'exa mple.com', '*', 'a..b']) expect(isValidAllowlist([bad]), bad).toBe(false);
    expect(() => new OutboundPolicy({ allowlist: ['not a host'], allowPrivate: false, requireHttps: false })).toThrow();
  });
});
