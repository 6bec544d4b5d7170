import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan, registeredDomain, renewalTime } from '../../src/acme/planner.ts';
import type { Plan } from '../../src/acme/planner.ts';
import { acmeCertificateId, emptyAcmeState } from '../../src/acme/types.ts';
import type { AcmeState, CertificateRequest, StoredCertificate } from '../../src/acme/types.ts';

const NOW = new Date('2025-06-01T00:00:00Z');
const DAY = 24 * 3600_000;
const iso = (offsetMs: number): string => new Date(NOW.getTime() + offsetMs).toISOString();

function req(...names: string[]): CertificateRequest {
  return { id: acmeCertificateId(names[0]!), names, origin: 'ingress', sources: [{ kind: 'Ingress', namespace: 'web', name: 'x' }] };
}
function cert(names: string[], notBefore: number, notAfter: number, extra: Partial<StoredCertificate> = {}): StoredCertificate {
  return { id: acmeCertificateId(names[0]!), names, certPem: 'C', keyPem: 'K', notBefore: iso(notBefore), notAfter: iso(notAfter), issuedAt: iso(notBefore), ...extra };
}
function state(s: Partial<AcmeState>): AcmeState {
  return { ...emptyAcmeState, ...s };
}
const certs = (...cs: StoredCertificate[]): Record<string, StoredCertificate> => Object.fromEntries(cs.map((c) => [c.id, c]));

interface Case {
  readonly name: string;
  readonly requests: CertificateRequest[];
  readonly state: AcmeState;
  readonly expect: (p: Plan) => void;
}

const cases: Case[] = [
  {
    name: 'a new name is ordered',
    requests: [req('a.example.com')],
    state: emptyAcmeState,
    expect: (p) => {
      assert.deepEqual(p.place.map((o) => [o.request.id, o.reason]), [['acme.passerelle/a.example.com', 'new']]);
    },
  },
  {
    name: 'a valid certificate with more than a third of its life left is kept, wake at renewal time',
    requests: [req('a.example.com')],
    state: state({ certificates: certs(cert(['a.example.com'], -10 * DAY, 80 * DAY)) }),
    expect: (p) => {
      assert.equal(p.place.length, 0);
      assert.equal(p.valid.length, 1);
      assert.equal(p.wakeAt?.toISOString(), iso(50 * DAY));
    },
  },
  {
    name: 'a certificate with less than a third of its life left is renewed',
    requests: [req('a.example.com')],
    state: state({ certificates: certs(cert(['a.example.com'], -70 * DAY, 20 * DAY)) }),
    expect: (p) => assert.deepEqual(p.place.map((o) => o.reason), ['renew']),
  },
  {
    name: 'inside the ARI window: renewed even with most of the lifetime left',
    requests: [req('a.example.com')],
    state: state({ certificates: certs(cert(['a.example.com'], -DAY, 89 * DAY, { renewal: { start: iso(-DAY), end: iso(-DAY + 1000), nextCheck: iso(DAY) } })) }),
    expect: (p) => assert.deepEqual(p.place.map((o) => o.reason), ['renew']),
  },
  {
    name: 'before the ARI window: kept',
    requests: [req('a.example.com')],
    state: state({ certificates: certs(cert(['a.example.com'], -80 * DAY, 10 * DAY, { renewal: { start: iso(5 * DAY), end: iso(6 * DAY), nextCheck: iso(DAY) } })) }),
    expect: (p) => {
      assert.equal(p.place.length, 0);
      assert.ok(p.wakeAt !== undefined && p.wakeAt.getTime() >= NOW.getTime() + 5 * DAY);
    },
  },
  {
    name: 'an added name on the TLS entry orders a new certificate replacing the old',
    requests: [req('a.example.com', 'b.example.com')],
    state: state({ certificates: certs(cert(['a.example.com'], -DAY, 89 * DAY)) }),
    expect: (p) => assert.deepEqual(p.place.map((o) => [o.reason, o.replaces?.id]), [['names-changed', 'acme.passerelle/a.example.com']]),
  },
  {
    name: 'a name covered by another valid certificate is not ordered',
    requests: [req('b.example.com')],
    state: state({ certificates: certs(cert(['a.example.com', 'b.example.com'], -DAY, 89 * DAY)) }),
    expect: (p) => {
      assert.equal(p.place.length, 0);
      assert.equal(p.valid[0]?.certificate.id, 'acme.passerelle/a.example.com');
      assert.equal(p.unwanted.length, 0);
    },
  },
  {
    name: 'a recorded order is resumed, not placed again',
    requests: [req('a.example.com')],
    state: state({ orders: { 'acme.passerelle/a.example.com': { id: 'acme.passerelle/a.example.com', names: ['a.example.com'], orderUrl: 'https://ca/order/1', keyPem: 'K', createdAt: iso(-60_000) } } }),
    expect: (p) => {
      assert.equal(p.place.length, 0);
      assert.equal(p.resume[0]?.order.orderUrl, 'https://ca/order/1');
    },
  },
  {
    name: 'a recorded order whose last attempt failed waits out the backoff, then is resumed (never retried in a loop)',
    requests: [req('a.example.com')],
    state: state({
      orders: { 'acme.passerelle/a.example.com': { id: 'acme.passerelle/a.example.com', names: ['a.example.com'], orderUrl: 'https://ca/order/1', keyPem: 'K', createdAt: iso(-60_000) } },
      backoff: { 'a.example.com': { failures: 1, nextAttemptAt: iso(60_000) } },
    }),
    expect: (p) => {
      assert.equal(p.resume.length, 0);
      assert.equal(p.place.length, 0);
      assert.deepEqual(p.wait.map((w) => w.reason), ['backoff']);
    },
  },
  {
    name: 'an order older than six days is abandoned and a new one placed',
    requests: [req('a.example.com')],
    state: state({ orders: { 'acme.passerelle/a.example.com': { id: 'acme.passerelle/a.example.com', names: ['a.example.com'], orderUrl: 'u', keyPem: 'K', createdAt: iso(-7 * DAY) } } }),
    expect: (p) => {
      assert.equal(p.abandon.length, 1);
      assert.equal(p.place.length, 1);
    },
  },
  {
    name: 'a name backing off waits until its next attempt',
    requests: [req('a.example.com', 'b.example.com')],
    state: state({ backoff: { 'b.example.com': { failures: 3, nextAttemptAt: iso(4 * 60_000) } } }),
    expect: (p) => {
      assert.equal(p.place.length, 0);
      assert.deepEqual(p.wait.map((w) => [w.reason, w.detail, w.until.toISOString()]), [['backoff', 'b.example.com', iso(4 * 60_000)]]);
      assert.equal(p.wakeAt?.toISOString(), iso(4 * 60_000));
    },
  },
  {
    name: 'an expired backoff lets the order go',
    requests: [req('a.example.com')],
    state: state({ backoff: { 'a.example.com': { failures: 3, nextAttemptAt: iso(-1) } } }),
    expect: (p) => assert.equal(p.place.length, 1),
  },
  {
    name: 'the weekly budget of a registered domain queues new orders',
    requests: [req('new.example.com'), req('other.example.net')],
    state: state({ issuances: Array.from({ length: 50 }, (_, i) => ({ names: [`h${i}.example.com`], at: iso(-DAY + i), renewal: false })) }),
    expect: (p) => {
      assert.deepEqual(p.place.map((o) => o.request.names[0]), ['other.example.net']);
      assert.deepEqual(p.wait.map((w) => [w.reason, w.detail]), [['budget', 'example.com']]);
      assert.equal(p.wait[0]?.until.toISOString(), iso(6 * DAY));
    },
  },
  {
    name: 'the budget counts orders of the same plan',
    requests: [req('a.example.com'), req('b.example.com'), req('c.example.com')],
    state: state({ issuances: Array.from({ length: 48 }, (_, i) => ({ names: [`h${i}.example.com`], at: iso(-DAY), renewal: false })) }),
    expect: (p) => {
      assert.equal(p.place.length, 2);
      assert.equal(p.wait.length, 1);
    },
  },
  {
    name: 'renewals are exempt from the per-domain budget but not from the duplicate limit',
    requests: [req('a.example.com')],
    state: state({
      certificates: certs(cert(['a.example.com'], -80 * DAY, 10 * DAY)),
      issuances: Array.from({ length: 50 }, (_, i) => ({ names: [`h${i}.example.com`], at: iso(-DAY), renewal: false })),
    }),
    expect: (p) => assert.deepEqual(p.place.map((o) => o.reason), ['renew']),
  },
  {
    name: 'five duplicates in a week hold the sixth',
    requests: [req('a.example.com')],
    state: state({ issuances: Array.from({ length: 5 }, () => ({ names: ['a.example.com'], at: iso(-DAY), renewal: true })) }),
    expect: (p) => assert.deepEqual(p.wait.map((w) => w.reason), ['duplicate']),
  },
  {
    name: 'issuances older than a week do not count',
    requests: [req('a.example.com')],
    state: state({ issuances: Array.from({ length: 60 }, () => ({ names: ['a.example.com'], at: iso(-8 * DAY), renewal: false })) }),
    expect: (p) => assert.equal(p.place.length, 1),
  },
  {
    name: 'certificates of hosts removed from every Ingress stop being renewed; expired ones are dropped',
    requests: [],
    state: state({ certificates: certs(cert(['gone.example.com'], -80 * DAY, 10 * DAY), cert(['old.example.com'], -100 * DAY, -DAY)) }),
    expect: (p) => {
      assert.equal(p.place.length, 0);
      assert.deepEqual(p.unwanted.map((c) => c.id), ['acme.passerelle/gone.example.com']);
      assert.deepEqual(p.expired.map((c) => c.id), ['acme.passerelle/old.example.com']);
    },
  },
  {
    name: 'an expired wanted certificate is ordered again',
    requests: [req('a.example.com')],
    state: state({ certificates: certs(cert(['a.example.com'], -100 * DAY, -DAY)) }),
    expect: (p) => assert.deepEqual(p.place.map((o) => o.reason), ['expired']),
  },
  {
    name: 'an unwanted pending order is abandoned',
    requests: [],
    state: state({ orders: { x: { id: 'x', names: ['x.example.com'], orderUrl: 'u', keyPem: 'K', createdAt: iso(-1000) } } }),
    expect: (p) => assert.deepEqual(p.abandon.map((o) => o.id), ['x']),
  },
];

for (const c of cases) {
  test(`acme planner: ${c.name}`, () => {
    c.expect(plan({ requests: c.requests, state: c.state, now: NOW }));
  });
}

test('acme planner: pure — same input, same plan; input untouched', () => {
  const s = state({ certificates: certs(cert(['a.example.com'], -70 * DAY, 20 * DAY)) });
  const frozen = JSON.stringify(s);
  const a = plan({ requests: [req('a.example.com'), req('b.example.com')], state: s, now: NOW });
  const b = plan({ requests: [req('a.example.com'), req('b.example.com')], state: s, now: NOW });
  assert.deepEqual(a, b);
  assert.equal(JSON.stringify(s), frozen);
});

test('acme planner: registered domains', () => {
  const table: [string, string][] = [
    ['a.b.example.com', 'example.com'],
    ['example.com', 'example.com'],
    ['www.shop.example.co.uk', 'example.co.uk'],
    ['x.user.github.io', 'user.github.io'],
  ];
  for (const [name, want] of table) assert.equal(registeredDomain(name), want, name);
});

test('acme planner: renewal time is a third before expiry without ARI, inside the window with it', () => {
  const c = cert(['a.example.com'], 0, 90 * DAY);
  assert.equal(renewalTime(c).toISOString(), iso(60 * DAY));
  const w = { start: iso(50 * DAY), end: iso(52 * DAY), nextCheck: iso(DAY) };
  const t = renewalTime({ ...c, renewal: w }).getTime();
  assert.ok(t >= NOW.getTime() + 50 * DAY && t <= NOW.getTime() + 51 * DAY);
});
