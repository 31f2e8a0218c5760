import pg from 'pg';
import { describe, expect, it } from 'vitest';
import './connection.js';
import { isoString, parseTimestamptz } from './timestamps.js';

/** A deterministic stream of numbers in [0, 1), so that a failure names a reproducible input. */
function numbers(seed: number): (below: number) => number {
  let state = seed;
  return (below) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((state / 2 ** 31) * below);
  };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const FIRST = Date.UTC(1000, 0, 2);
const LAST = Date.UTC(9999, 11, 30);

/** How PostgreSQL prints `instant` with DateStyle ISO in a zone `offsetMinutes` east of UTC, with `fraction` digits. */
function printed(instant: number, offsetMinutes: number, fraction: number, micros: number): string {
  const local = new Date(instant + offsetMinutes * 60_000);
  const digits = pad(local.getUTCMilliseconds() * 1000 + micros, 6).slice(0, fraction);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const offset = Math.abs(offsetMinutes);
  return (
    `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1, 2)}-${pad(local.getUTCDate(), 2)} ` +
    `${pad(local.getUTCHours(), 2)}:${pad(local.getUTCMinutes(), 2)}:${pad(local.getUTCSeconds(), 2)}` +
    (fraction > 0 ? `.${digits}` : '') +
    `${sign}${pad(Math.floor(offset / 60), 2)}${offset % 60 ? `:${pad(offset % 60, 2)}` : ''}`
  );
}

describe('parseTimestamptz', () => {
  it('reads the instant PostgreSQL printed, in any zone and with any fraction, to the millisecond', () => {
    const next = numbers(7);
    const offsets = [0, -480, 840, -720, 330, -210, 345, 60];
    for (let i = 0; i < 5000; i += 1) {
      const fraction = next(7);
      // Printed with fewer than 3 fraction digits only when the dropped digits are zero, as PostgreSQL does.
      const instant = FIRST + next(LAST - FIRST);
      const exact = fraction >= 3 ? instant : instant - (instant % 10 ** (3 - fraction));
      const raw = next(1000);
      const micros = fraction > 3 ? raw - (raw % 10 ** (6 - fraction)) : 0;
      const text = printed(exact, offsets[next(offsets.length)] as number, fraction, micros);
      const read = parseTimestamptz(text) as Date;
      expect(read?.getTime(), text).toBe(fraction === 0 ? exact - (exact % 1000) : exact);
      // Its ISO text, kept from PostgreSQL's where the zone is UTC, is what toISOString writes.
      expect(isoString(read), text).toBe(new Date(read.getTime()).toISOString());
    }
  });

  it('leaves every other layout to the general parser', () => {
    for (const text of [
      'infinity',
      '-infinity',
      '2026-01-31 12:00:00+00 BC',
      '0999-12-31 23:59:59+00',
      '12026-01-31 12:00:00+00',
      '2026-01-31 12:00:00+05:30:15',
      '2026-01-31 12:00:00.+00',
      '2026-01-31 12:00:00.1234567+00',
      '2026-01-31T12:00:00+00',
      '2026-01-31 12:00:00',
      '2026-01-31 12:00:0x+00',
      '',
    ]) {
      expect(parseTimestamptz(text), text).toBeNull();
    }
  });

  it('is the parser pg uses for timestamptz, with pg’s own for the layouts it leaves', () => {
    const parse = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ) as (text: string) => Date | number;
    expect((parse('2026-01-31 12:00:00.5+05:30') as Date).toISOString()).toBe('2026-01-31T06:30:00.500Z');
    expect(parse('infinity')).toBe(Number.POSITIVE_INFINITY);
    expect((parse('0099-01-01 00:00:00+00') as Date).getUTCFullYear()).toBe(99);
    expect((parse('2026-01-31 12:00:00+00 BC') as Date).getUTCFullYear()).toBe(-2025);
  });
});

describe('isoString', () => {
  it('writes what toISOString writes, for every year, and throws as it does for an invalid date', () => {
    const next = numbers(11);
    for (let i = 0; i < 5000; i += 1) {
      const date = new Date(FIRST + next(LAST - FIRST));
      expect(isoString(date)).toBe(date.toISOString());
    }
    const edges = [
      Date.UTC(999, 11, 31, 23, 59, 59, 999),
      Date.UTC(1000, 0, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10000, 0, 1),
      -1,
      Date.UTC(-5, 0, 1),
      0,
      Date.UTC(2026, 0, 1, 0, 0, 0, 7),
      Date.UTC(2026, 0, 1, 0, 0, 0, 70),
    ];
    for (const time of edges) expect(isoString(new Date(time))).toBe(new Date(time).toISOString());
    expect(() => isoString(new Date(Number.NaN))).toThrow(RangeError);
  });
});
