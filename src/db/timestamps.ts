/**
 * Reading and writing instants on the hot path. A page of 100 integrations carries about 250 of them
 * (last check, last sync start and finish); PostgreSQL's text for each became a Date through a regular
 * expression (pg's default parser) and went out through `Date.prototype.toISOString`, together about an
 * eighth of the gateway's CPU for such a page (BENCHMARKS.md, fourth round). Both are done here by
 * reading and writing the digits directly, for the one layout PostgreSQL and the API use; anything
 * else goes to the general code, so that the result is always the same.
 */

const DIGIT_0 = 48;

function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i += 1) {
    const d = text.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return Number.NaN;
    value = value * 10 + d;
  }
  return value;
}

/**
 * Parses a `timestamptz` as PostgreSQL prints it with DateStyle ISO: `2026-01-31 12:00:00.123456+00`,
 * the fraction optional (1 to 6 digits), the offset `+HH` or `+HH:MM`. Returns null for any other
 * layout (infinity, BC years, years before 1000 or beyond 9999, an offset with seconds), which the caller hands to the
 * general parser.
 */
export function parseTimestamptz(text: string): Date | null {
  const length = text.length;
  if (
    length < 22 ||
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 32 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58
  ) {
    return null;
  }
  let at = 19;
  let millis = 0;
  if (text.charCodeAt(at) === 46) {
    at += 1;
    let scale = 100;
    const start = at;
    while (at < length) {
      const d = text.charCodeAt(at) - DIGIT_0;
      if (d < 0 || d > 9) break;
      millis += d * scale;
      scale /= 10;
      at += 1;
    }
    if (at === start || at - start > 6) return null;
    // Microseconds are truncated to milliseconds, as the general parser does.
    millis = Math.floor(millis);
  }
  const sign = text.charCodeAt(at);
  if (sign !== 43 && sign !== 45) return null;
  let offsetMinutes: number;
  if (length === at + 3) offsetMinutes = digits(text, at + 1, at + 3) * 60;
  else if (length === at + 6 && text.charCodeAt(at + 3) === 58)
    offsetMinutes = digits(text, at + 1, at + 3) * 60 + digits(text, at + 4, at + 6);
  else return null;
  const year = digits(text, 0, 4);
  // Date.UTC reads years 0-99 as 1900-1999: the few years before 1000 go to the general parser.
  if (!(year >= 1000)) return null;
  const utc = Date.UTC(
    year,
    digits(text, 5, 7) - 1,
    digits(text, 8, 10),
    digits(text, 11, 13),
    digits(text, 14, 16),
    digits(text, 17, 19),
    millis,
  );
  if (Number.isNaN(utc) || Number.isNaN(offsetMinutes)) return null;
  return new Date(utc - (sign === 43 ? 1 : -1) * offsetMinutes * 60_000);
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/**
 * `date.toISOString()`, e.g. `2026-01-31T12:00:00.000Z`, written out directly for years 1000 to 9999
 * (three times faster); other years, and invalid dates (a RangeError), go to toISOString itself.
 */
export function isoString(date: Date): string {
  const year = date.getUTCFullYear();
  if (!(year >= 1000 && year <= 9999)) return date.toISOString();
  const ms = date.getUTCMilliseconds();
  return (
    `${year}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}` +
    `T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}` +
    `.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`
  );
}
