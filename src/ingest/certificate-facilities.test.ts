import { describe, expect, it } from 'vitest';
import { isRefusedSender, maySendFor, refusedSender } from './certificate-facilities.ts';

describe('which facilities an MLLP client certificate may send for', () => {
  const none = new Map<string, string[]>();
  const lab = { cn: 'LAB1', altNames: ['lab1.example.org', 'urn:oid:1.2.3.4'] };

  it('by default, the facility its CN or a DNS/URI subject alternative name names, exactly', () => {
    for (const facility of ['LAB1', 'lab1.example.org', 'urn:oid:1.2.3.4']) expect(maySendFor(lab, facility, none), facility).toBe(true);
    for (const facility of ['LAB2', 'lab1', 'LAB1.example.org', '1.2.3.4', '']) expect(maySendFor(lab, facility, none), facility).toBe(false);
    expect(maySendFor({ altNames: ['lab3.example.org'] }, 'lab3.example.org', none)).toBe(true);
    expect(maySendFor({ altNames: [] }, '', none)).toBe(false);
  });

  it('a CN listed in MLLP_CERT_FACILITIES: the facilities listed for it, and no others', () => {
    const listed = new Map([['hub', ['FAC1', 'FAC2']]]);
    const hub = { cn: 'hub', altNames: ['hub.example.org'] };
    expect(['FAC1', 'FAC2', 'hub', 'hub.example.org', 'FAC3'].map((f) => maySendFor(hub, f, listed))).toEqual([true, true, false, false, false]);
    // Certificates not listed keep the default rule.
    expect(maySendFor(lab, 'LAB1', listed)).toBe(true);
    expect(maySendFor(lab, 'FAC1', listed)).toBe(false);
  });

  it('files a refused message under a sender of its own, recognisable on every later run', () => {
    const sender = refusedSender(lab, 'FAC9');
    expect(sender).toBe('cert-refused:LAB1|FAC9');
    expect(isRefusedSender(sender)).toBe(true);
    expect(isRefusedSender('FAC9')).toBe(false);
  });
});
