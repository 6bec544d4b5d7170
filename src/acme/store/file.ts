/*
 * The file store: one JSON file shaped like Traefik 1.x's acme.json (Email, DomainsCertificate.Certs
 * with base64 PEMs, so an old acme.json's certificates are picked up), written atomically with mode
 * 0600, plus PEM files per certificate beside it for haproxy (`<main>.pem`: chain + key) and nginx
 * (`<main>.crt`, `<main>.key`).
 */

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { PassError } from '../../shared/errors.ts';
import { defined } from '../../shared/optional.ts';
import { SerialQueue } from '../../shared/serial.ts';
import { acmeCertificateId } from '../types.ts';
import type { AccountRecord, AcmeState, BackoffState, IssuanceRecord, PendingOrder, RenewalWindow, StoredCertificate } from '../types.ts';
import type { CertificateStore } from './types.ts';

/** Writes a file atomically and durably: temp file in the same directory, fsync, rename, fsync dir. */
export async function writeFileAtomic(file: string, content: string, mode: number): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(content);
    await fh.chmod(mode); // the umask masks open's mode
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  }
}

/** The on-disk shape (Traefik 1.x names where they exist). */
interface FileCert {
  Domains: { Main: string; SANs: string[] };
  Certificate: { Domain: string; CertURL?: string; Certificate: string; PrivateKey: string };
  NotBefore?: string;
  NotAfter?: string;
  IssuedAt?: string;
  Origin?: StoredCertificate['origin'];
  AriId?: string;
  Renewal?: RenewalWindow;
}

interface FileShape {
  Version?: number;
  Email?: string;
  Account?: AccountRecord;
  DomainsCertificate?: { Certs?: FileCert[] | null };
  Orders?: PendingOrder[];
  Backoff?: Record<string, BackoffState>;
  Issuances?: IssuanceRecord[];
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Serialises a state to the file format. */
export function stateToJson(state: AcmeState): string {
  const certs: FileCert[] = Object.values(state.certificates)
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((c) => ({
      Domains: { Main: c.names[0] ?? '', SANs: c.names.slice(1) },
      Certificate: { Domain: c.names[0] ?? '', ...defined({ CertURL: c.orderUrl }), Certificate: b64(c.certPem), PrivateKey: b64(c.keyPem) },
      NotBefore: c.notBefore,
      NotAfter: c.notAfter,
      IssuedAt: c.issuedAt,
      ...defined({ Origin: c.origin, AriId: c.ariId, Renewal: c.renewal }),
    }));
  const out: FileShape = {
    Version: 1,
    ...defined({ Email: state.account?.email, Account: state.account }),
    DomainsCertificate: { Certs: certs },
    Orders: Object.values(state.orders).sort((a, b) => (a.id < b.id ? -1 : 1)),
    Backoff: Object.fromEntries(Object.entries(state.backoff).sort(([a], [b]) => (a < b ? -1 : 1))),
    Issuances: [...state.issuances],
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/**
 * Reads the file format (or a Traefik 1.x acme.json: its certificates are imported, dates read
 * from the leaf by `certDates`). Unreadable entries are skipped.
 */
export function stateFromJson(text: string, certDates: (certPem: string) => { notBefore: string; notAfter: string } | undefined): AcmeState {
  const raw: unknown = JSON.parse(text);
  if (!isObj(raw)) throw new Error('not a JSON object');
  const f = raw as FileShape;
  const certificates: Record<string, StoredCertificate> = {};
  for (const c of f.DomainsCertificate?.Certs ?? []) {
    if (!isObj(c) || !isObj(c.Domains) || !isObj(c.Certificate) || typeof c.Domains.Main !== 'string') continue;
    const certPem = unb64(c.Certificate.Certificate ?? '');
    const keyPem = unb64(c.Certificate.PrivateKey ?? '');
    if (!certPem.includes('BEGIN CERTIFICATE') || !keyPem.includes('PRIVATE KEY')) continue;
    const dates = c.NotBefore !== undefined && c.NotAfter !== undefined ? { notBefore: c.NotBefore, notAfter: c.NotAfter } : certDates(certPem);
    if (dates === undefined) continue;
    const main = c.Domains.Main.toLowerCase();
    const names = [main, ...(Array.isArray(c.Domains.SANs) ? c.Domains.SANs.map((s) => String(s).toLowerCase()) : []).filter((s) => s !== main)];
    const id = acmeCertificateId(main);
    certificates[id] = {
      id,
      names,
      certPem,
      keyPem,
      ...dates,
      issuedAt: c.IssuedAt ?? dates.notBefore,
      ...defined({ origin: c.Origin, orderUrl: c.Certificate.CertURL, ariId: c.AriId, renewal: c.Renewal }),
    };
  }
  const orders: Record<string, PendingOrder> = {};
  for (const o of f.Orders ?? []) if (isObj(o) && typeof o.id === 'string' && typeof o.orderUrl === 'string') orders[o.id] = o;
  const backoff: Record<string, BackoffState> = {};
  for (const [k, v] of Object.entries(isObj(f.Backoff) ? f.Backoff : {})) if (isObj(v) && typeof v.nextAttemptAt === 'string') backoff[k] = v;
  const issuances = (Array.isArray(f.Issuances) ? f.Issuances : []).filter((r) => isObj(r) && Array.isArray(r.names) && typeof r.at === 'string');
  const account = isObj(f.Account) && typeof f.Account.keyPem === 'string' && typeof f.Account.caServer === 'string' ? f.Account : undefined;
  return { ...defined({ account }), certificates, orders, backoff, issuances };
}

/** File name base of a certificate's PEM files. */
function pemBase(c: StoredCertificate): string {
  return (c.names[0] ?? c.id).replace(/[^a-z0-9._-]/g, '_');
}

/** Options of {@link FileCertificateStore}. */
export interface FileStoreOptions {
  /** The JSON file (`storage` / `storageFile`). */
  readonly file: string;
  /** Where PEM files go (default: `certs/` beside the JSON file); `false`: none. */
  readonly pemDir?: string | false;
  /** Reads notBefore/notAfter of a leaf (for Traefik 1.x files without them). */
  readonly certDates: (certPem: string) => { notBefore: string; notAfter: string } | undefined;
}

/** ACME state in one JSON file (mode 0600) plus PEM files per certificate. */
export class FileCertificateStore implements CertificateStore {
  readonly description: string;
  readonly #o: FileStoreOptions;
  readonly #queue = new SerialQueue();

  constructor(options: FileStoreOptions) {
    this.#o = options;
    this.description = `file ${options.file}`;
  }

  /** The directory of the PEM files, when written. */
  get pemDir(): string | undefined {
    const d = this.#o.pemDir;
    if (d === false) return undefined;
    return d ?? path.join(path.dirname(this.#o.file), 'certs');
  }

  async load(): Promise<AcmeState> {
    let text: string;
    try {
      text = await readFile(this.#o.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { certificates: {}, orders: {}, backoff: {}, issuances: [] };
      throw new PassError('PASS_ACME_STORAGE', `cannot read ACME storage ${this.#o.file}: ${(err as Error).message}`, { cause: err });
    }
    if (text.trim() === '') return { certificates: {}, orders: {}, backoff: {}, issuances: [] };
    try {
      return stateFromJson(text, this.#o.certDates);
    } catch (err) {
      throw new PassError('PASS_ACME_STORAGE', `ACME storage ${this.#o.file} is not valid JSON: ${(err as Error).message}; fix or remove it`, { cause: err });
    }
  }

  save(state: AcmeState): Promise<void> {
    return this.#queue.run(() => this.#save(state));
  }

  async #save(state: AcmeState): Promise<void> {
    await writeFileAtomic(this.#o.file, stateToJson(state), 0o600);
    await chmod(this.#o.file, 0o600);
    const dir = this.pemDir;
    if (dir === undefined) return;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keep = new Set<string>();
    for (const c of Object.values(state.certificates)) {
      const base = pemBase(c);
      const chain = c.certPem.endsWith('\n') ? c.certPem : `${c.certPem}\n`;
      const key = c.keyPem.endsWith('\n') ? c.keyPem : `${c.keyPem}\n`;
      const files: [string, string][] = [
        [`${base}.crt`, chain],
        [`${base}.key`, key],
        [`${base}.pem`, `${chain}${key}`],
      ];
      for (const [name, content] of files) {
        keep.add(name);
        const target = path.join(dir, name);
        const old = await readFile(target, 'utf8').catch(() => undefined);
        if (old !== content) await writeFileAtomic(target, content, 0o600);
      }
    }
    for (const name of await readdir(dir)) {
      if (/\.(crt|key|pem)$/.test(name) && !keep.has(name)) await rm(path.join(dir, name), { force: true });
    }
  }
}
