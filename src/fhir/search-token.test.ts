import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSearch } from '../store/search/parse.ts';
import { unescape } from '../store/search/parse-values.ts';
import { encodedIdentifierToken, escapeSearchValue, readableIdentifierToken } from './search-token.ts';

// Search separators, query-string delimiters and URI punctuation, mixed with any code point.
const unit = fc.oneof(fc.constantFrom('\\', '|', ',', '$', '%', '&', '#', '+', '?', '=', ' ', ':', '/'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
const text = fc.string({ unit, minLength: 1, maxLength: 30 });

/** The value of `identifier=<token>` as the server reads a conditional query. */
const parsedToken = (token: string) => {
  const { request } = parseSearch('Patient', [...new URLSearchParams(`identifier=${token}`)], { strict: true });
  return request.filters.map((f) => (f.kind === 'param' ? f.values : f));
};

describe('FHIR search tokens for identifiers', () => {
  it('escapes backslash, bar, comma and dollar with a backslash', () => {
    expect(escapeSearchValue('a\\b|c,d$e&f')).toBe('a\\\\b\\|c\\,d\\$e&f');
  });

  it('encoded token: each half escaped then fully URL-encoded, the separating bar left as is', () => {
    expect(encodedIdentifierToken({ system: 'urn:oid:1.2', value: 'a|b,c$d&e f\\' })).toBe('urn%3Aoid%3A1.2|a%5C%7Cb%5C%2Cc%5C%24d%26e%20f%5C%5C');
  });

  it('readable token: only query-string delimiters percent-encoded, `:` and `/` left readable', () => {
    expect(readableIdentifierToken({ system: 'http://x.org/ids', value: 'a|b,c$d&e f+g%h#i?j=k\\' }))
      .toBe('http://x.org/ids|a\\|b\\,c\\$d%26e%20f%2Bg%25h%23i%3Fj%3Dk\\\\');
  });

  it('unescaping the escaped value gives the original', () => {
    fc.assert(fc.property(fc.string({ unit }), (s) => unescape(escapeSearchValue(s)) === s));
  });

  it('both spellings parse, with the server search parser, to the identifier they were made from', () => {
    fc.assert(
      fc.property(text, text, (system, value) => {
        const expected = [[{ kind: 'token', system, code: value }]];
        expect(parsedToken(encodedIdentifierToken({ system, value }))).toEqual(expected);
        expect(parsedToken(readableIdentifierToken({ system, value }))).toEqual(expected);
      }),
    );
  });
});
