import type { RoutingModel } from './types.ts';

/** One line of what changed between two models, in the words of the seed's debug log. */
export interface ChangeLine {
  readonly msg: string;
  readonly fields: Readonly<Record<string, string | number>>;
}

/**
 * What a new model creates and removes compared with the previous one (frontends = virtual hosts,
 * routes, backends and their servers with weights), for the debug log.
 */
export function describeChanges(prev: RoutingModel | undefined, next: RoutingModel): ChangeLine[] {
  const lines: ChangeLine[] = [];
  const before = new Map((prev?.virtualHosts ?? []).map((v) => [v.host, v]));
  const after = new Map(next.virtualHosts.map((v) => [v.host, v]));
  for (const [host, v] of after) {
    const old = before.get(host);
    if (!old) {
      lines.push({ msg: `Creating frontend ${host}`, fields: { frontend: host } });
      for (const ep of next.entryPoints) lines.push({ msg: `Wiring frontend ${host} to entryPoint ${ep.name}`, fields: { frontend: host, entryPoint: ep.name } });
    }
    const oldRoutes = new Set((old?.routes ?? []).map((r) => `${r.pathType} ${r.path} ${r.backend}`));
    for (const r of v.routes) {
      const key = `${r.pathType} ${r.path} ${r.backend}`;
      if (!oldRoutes.has(key)) lines.push({ msg: `Creating route ${host} ${r.pathType}:${r.path} -> ${r.backend}`, fields: { frontend: host, path: r.path, pathType: r.pathType, backend: r.backend } });
    }
  }
  for (const host of before.keys()) if (!after.has(host)) lines.push({ msg: `Removing frontend ${host}`, fields: { frontend: host } });
  const prevBackends = prev?.backends ?? {};
  for (const [id, b] of Object.entries(next.backends)) {
    const old = prevBackends[id];
    if (!old) lines.push({ msg: `Creating backend ${id}`, fields: { backend: id } });
    const oldServers = new Set((old?.endpoints ?? []).map((e) => `${e.address}:${e.port}`));
    for (const e of b.endpoints) {
      if (!oldServers.has(`${e.address}:${e.port}`)) {
        lines.push({ msg: `Creating server ${e.name ?? `${e.address}:${e.port}`} at http://${e.address}:${e.port} with weight ${e.weight}`, fields: { backend: id, server: `${e.address}:${e.port}`, weight: e.weight } });
      }
    }
    const newServers = new Set(b.endpoints.map((e) => `${e.address}:${e.port}`));
    for (const s of oldServers) if (!newServers.has(s)) lines.push({ msg: `Removing server ${s} from backend ${id}`, fields: { backend: id, server: s } });
  }
  for (const id of Object.keys(prevBackends)) if (!Object.hasOwn(next.backends, id)) lines.push({ msg: `Removing backend ${id}`, fields: { backend: id } });
  return lines;
}
