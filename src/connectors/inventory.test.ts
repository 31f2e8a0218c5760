import { describe, expect, it } from 'vitest';
import { nextLink } from './inventory.js';

const PAGE = 'https://api.github.com/user/repos?per_page=100&page=1';

describe('the next page of a Link header', () => {
  it('is the rel="next" URL, absolute or resolved against the page', () => {
    const github =
      '<https://api.github.com/user/repos?per_page=100&page=2>; rel="next", <https://api.github.com/user/repos?per_page=100&page=25>; rel="last"';
    expect(nextLink(github, PAGE)).toBe('https://api.github.com/user/repos?per_page=100&page=2');
    expect(nextLink('<?per_page=100&page=3>; rel="next"', PAGE)).toBe('https://api.github.com/user/repos?per_page=100&page=3');
    expect(nextLink('</user/repos?page=4>; rel="prev next"', PAGE)).toBe('https://api.github.com/user/repos?page=4');
  });

  it('is null on the last page, without a header, or for other relations', () => {
    expect(nextLink(null, PAGE)).toBeNull();
    expect(nextLink('<https://api.github.com/user/repos?page=1>; rel="first", <https://x.test/?page=9>; rel="last"', PAGE)).toBeNull();
    expect(nextLink('<https://x.test/?page=2>; rel="nextpage"', PAGE)).toBeNull();
  });
});
