/*
 * Live endpoint states from HAProxy's runtime API (`show stat`). With health checks (a user
 * template that adds `check`), HAProxy's own status says it. Without (the bundled templates),
 * HAProxy keeps every server UP and only counts: failed connections (`econ`: the request failed
 * there; `wretr` / `wredis`: it was retried on the same server / redispatched to another, as the
 * bundled `retry-on conn-failure` + `option redispatch` do) and answers (`hrsp_*`). The state is
 * then what the counters did since the last look: only failures, down; only answers, up; both, the
 * more frequent; nothing, unchanged.
 */

import type { EndpointLiveState } from '../types.ts';

/** One server line of `show stat`. */
export interface ServerStat {
  /** Backend name (`pxname`). */
  readonly backend: string;
  /** Server name (`svname`). */
  readonly server: string;
  /** `status`: `UP`, `DOWN`, `MAINT`, `no check`, `UP 1/3`, ... */
  readonly status: string;
  /** Failed connections: `econ` + `wretr` + `wredis`. */
  readonly failures: number;
  /** HTTP answers received (every `hrsp_*`). */
  readonly answers: number;
}

const FAILURE_COLUMNS = ['econ', 'wretr', 'wredis'];
const ANSWER_COLUMNS = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'];

/**
 * Parses the CSV of `show stat` (header line `# pxname,svname,...`) into its server lines.
 *
 * @param csv the runtime API's answer
 * @returns one entry per server (frontends and backends left out)
 */
export function parseServerStats(csv: string): ServerStat[] {
  const lines = csv.split('\n');
  const header = lines.find((l) => l.startsWith('# '));
  if (header === undefined) return [];
  const cols = header.slice(2).split(',');
  const at = (name: string): number => cols.indexOf(name);
  const [px, sv, status] = [at('pxname'), at('svname'), at('status')];
  const failures = FAILURE_COLUMNS.map(at).filter((i) => i >= 0);
  const answers = ANSWER_COLUMNS.map(at).filter((i) => i >= 0);
  if (px < 0 || sv < 0 || status < 0) return [];
  const out: ServerStat[] = [];
  for (const line of lines) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(',');
    const server = f[sv] ?? '';
    if (server === '' || server === 'FRONTEND' || server === 'BACKEND') continue;
    const num = (i: number): number => {
      const n = Number(f[i] ?? '');
      return Number.isFinite(n) ? n : 0;
    };
    out.push({ backend: f[px] ?? '', server, status: f[status] ?? '', failures: failures.reduce((n, i) => n + num(i), 0), answers: answers.reduce((n, i) => n + num(i), 0) });
  }
  return out;
}

/** What was seen of one server slot at the last look. */
export interface SeenCounters {
  readonly failures: number;
  readonly answers: number;
  readonly state: EndpointLiveState | undefined;
}

/**
 * The live state of one server from its `show stat` line and what was seen at the last look (for
 * the same address in the same slot; undefined the first time, when every counter counts).
 *
 * @param stat the server's line
 * @param seen the counters and state of the last look
 * @returns the state now (undefined: unknown) and the counters to remember
 */
export function serverLiveState(stat: ServerStat, seen: SeenCounters | undefined): SeenCounters {
  const checked = /^(UP|DOWN|NOLB|DRAIN)\b/.exec(stat.status)?.[1];
  if (checked !== undefined) return { failures: stat.failures, answers: stat.answers, state: checked === 'DOWN' ? 'down' : 'up' };
  // Counters start over after a reload (a new worker).
  const base = seen === undefined || stat.failures < seen.failures || stat.answers < seen.answers ? { failures: 0, answers: 0, state: seen?.state } : seen;
  const failed = stat.failures - base.failures;
  const answered = stat.answers - base.answers;
  const state = failed === 0 && answered === 0 ? base.state : failed > answered ? 'down' : 'up';
  return { failures: stat.failures, answers: stat.answers, state };
}
