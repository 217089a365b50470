import { describe, expect, it } from 'vitest';
import { pageLinks } from './fhir-bundle.ts';

const relations = (links: ReturnType<typeof pageLinks>) => links.map((l) => l.relation);

describe('pageLinks', () => {
  const base = 'https://hie.example/fhir/Observation';
  it('links next while matches remain and previous after the first page, keeping the other parameters', () => {
    const first = pageLinks(base, [['code', '2345-7'], ['_count', '20']], { url: '', offset: 0, count: 20, total: 45, returned: 20 });
    expect(relations(first)).toEqual(['self', 'next']);
    expect(first[1].url).toBe(`${base}?code=2345-7&_count=20&_offset=20`);
    expect(relations(pageLinks(base, [], { url: '', offset: 40, count: 20, total: 45, returned: 5 }))).toEqual(['self', 'previous']);
  });

  it('gives no next link for _count=0, which asks for the total alone', () => {
    expect(relations(pageLinks(base, [['_count', '0']], { url: '', offset: 0, count: 0, total: 45, returned: 0 }))).toEqual(['self']);
  });

  it('without a total, links next only after a full page', () => {
    expect(relations(pageLinks(base, [], { url: '', offset: 0, count: 20, returned: 20 }))).toEqual(['self', 'next']);
    expect(relations(pageLinks(base, [], { url: '', offset: 0, count: 20, returned: 19 }))).toEqual(['self']);
  });
});
