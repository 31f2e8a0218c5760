import { ServiceError } from '../../errors.js';

/** An event type (`integration.connected`) or a pattern: `*`, or a prefix of segments and `.*` (`integration.*`). */
const PATTERN = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$/;

/** The most patterns one endpoint filters by. */
export const MAX_PATTERNS = 50;

/** Whether a type matches a pattern: `*` everything, `a.*` every type under `a.`, else the type itself. */
export function matchesPattern(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** Whether an endpoint with these patterns receives the type; no patterns means every type. */
export function matchesFilter(patterns: readonly string[], type: string): boolean {
  return patterns.length === 0 || patterns.some((pattern) => matchesPattern(pattern, type));
}

/**
 * Validates an endpoint's filter: each entry a pattern that matches at least one type the gateway
 * sends (`known`), so that a typo is refused instead of silently matching nothing. Duplicates go.
 */
export function cleanEventFilter(patterns: readonly string[], known: readonly string[], field: string[]): string[] {
  if (patterns.length === 0)
    throw new ServiceError('VALIDATION', 'Give at least one event type or pattern, e.g. "*" or "integration.*".', field);
  if (patterns.length > MAX_PATTERNS) throw new ServiceError('VALIDATION', `At most ${MAX_PATTERNS} event types or patterns.`, field);
  patterns.forEach((pattern, index) => {
    if (pattern.length > 100 || !PATTERN.test(pattern)) {
      throw new ServiceError(
        'VALIDATION',
        'An event filter entry is an event type (integration.connected), a prefix ending in .* (integration.*), or *.',
        [...field, String(index)],
      );
    }
    if (!known.some((type) => matchesPattern(pattern, type))) {
      throw new ServiceError('VALIDATION', `"${pattern}" matches no event type the gateway sends.`, [...field, String(index)]);
    }
  });
  return [...new Set(patterns)];
}
