/**
 * Reading and writing instants on the hot path. A page of 100 integrations carries about 250 of them
 * (last check, last sync start and finish); PostgreSQL's text for each became a Date through a regular
 * expression (pg's default parser) and went out through `Date.prototype.toISOString`, together about an
 * eighth of the gateway's CPU for such a page (BENCHMARKS.md, fourth round). Both are done here by
 * reading and writing the digits directly, for the one layout PostgreSQL and the API use; anything
 * else goes to the general code, so that the result is always the same.
 */

const DIGIT_0 = 48;

/**
 * The ISO text of an instant read in UTC, kept on its Date by `parseTimestamptz`: PostgreSQL's text
 * already holds every digit of it, so `isoString` answers without reading the Date back. Dates read from
 * the database are never changed in place (nothing here calls a setter on one), so the text stays true.
 */
const ISO_TEXT = Symbol('iso text');

type ReadInstant = Date & { [ISO_TEXT]?: string };

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
  const date: ReadInstant = new Date(utc - (sign === 43 ? 1 : -1) * offsetMinutes * 60_000);
  if (offsetMinutes === 0) date[ISO_TEXT] = isoFromUtcText(text, at - 20);
  return date;
}

/** Where `isoFromUtcText` puts an ISO text together before reading it out as one string. */
const isoScratch = Buffer.allocUnsafe(24);
const [DOT, ZERO, LETTER_T, LETTER_Z] = [0x2e, 0x30, 0x54, 0x5a];

/**
 * `2026-01-31 12:00:00.5+00` (with `fractionDigits` 1) is `2026-01-31T12:00:00.500Z`: PostgreSQL's first 23
 * characters copied as bytes, the space made a `T`, the fraction cut or padded to three digits, a `Z` after,
 * and the result read out at once, the only string made. Only for a text `parseTimestamptz` has checked.
 */
function isoFromUtcText(text: string, fractionDigits: number): string {
  isoScratch.write(text, 0, 23, 'latin1');
  isoScratch[10] = LETTER_T;
  if (fractionDigits <= 0) isoScratch[19] = DOT;
  for (let i = 20 + Math.max(0, Math.min(3, fractionDigits)); i < 23; i += 1) isoScratch[i] = ZERO;
  isoScratch[23] = LETTER_Z;
  return isoScratch.toString('latin1', 0, 24);
}

/** `00` to `99`, and `000` to `999`: the fields of an ISO string without a string built per field. */
const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));

/**
 * `date.toISOString()`, e.g. `2026-01-31T12:00:00.000Z`, written out directly for years 1000 to 9999
 * (three times faster), or taken as PostgreSQL printed it for an instant `parseTimestamptz` read in UTC (ten
 * times); other years, and invalid dates (a RangeError), go to toISOString itself.
 */
export function isoString(date: Date): string {
  const read = (date as ReadInstant)[ISO_TEXT];
  if (read !== undefined) return read;
  const year = date.getUTCFullYear();
  if (!(year >= 1000 && year <= 9999)) return date.toISOString();
  return (
    `${year}-${TWO_DIGITS[date.getUTCMonth() + 1]}-${TWO_DIGITS[date.getUTCDate()]}` +
    `T${TWO_DIGITS[date.getUTCHours()]}:${TWO_DIGITS[date.getUTCMinutes()]}:${TWO_DIGITS[date.getUTCSeconds()]}` +
    `.${THREE_DIGITS[date.getUTCMilliseconds()]}Z`
  );
}
