import type { Diagnostic } from '../shared/diagnostics.ts';

/** A file a rendering produces, besides or as the main configuration. */
export interface RenderedFile {
  /** Path relative to the work directory, `/`-separated. */
  readonly path: string;
  readonly content: string;
  /** File mode: 0o600 for anything holding a private key or a password hash. */
  readonly mode: number;
  /** Holds a private key or password hashes: never printed by `--dry-run`. */
  readonly secret: boolean;
  /**
   * Read by the proxy's unprivileged worker processes at request time (not by the master at
   * load time): the driver makes it readable by the worker group (0640) when workers drop privileges.
   */
  readonly workerReadable?: boolean;
}

/** A complete rendering: the main configuration plus its auxiliary files. */
export interface RenderedConfig {
  readonly dialect: 'haproxy' | 'nginx';
  /** The main configuration; its first line is the checksum header. */
  readonly main: RenderedFile;
  /** Map files, certificate lists, certificates, error pages, password files. */
  readonly files: readonly RenderedFile[];
  /** sha256 over every file (main body and auxiliary files). */
  readonly checksum: string;
  /** sha256 over the same, with endpoint addresses and certificate contents left out. */
  readonly structure: string;
  /** Objects left out of the rendering, and why. */
  readonly diagnostics: readonly Diagnostic[];
}

/** A listening address for a helper the proxy forwards to (the ACME HTTP-01 responder). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Where the proxy sends its request log lines (syslog over UDP, to the controller), and which. */
export interface RequestLogTarget {
  readonly address: HostPort;
  /** Every request (access logs, metrics), or only the upstream failures (502/503/504) the controller reports. */
  readonly all: boolean;
}

/** The line that starts every rendered main configuration. */
export const CHECKSUM_PREFIX = '# passerelle-checksum: ';
