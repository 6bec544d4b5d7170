import { parseListenAddress } from '../config/schema.ts';
import type { EntryPointConfig, StaticConfig } from '../config/schema.ts';
import { PassError } from '../shared/errors.ts';
import type { EntryPoint, ListenAddress, Middleware } from './types.ts';

function addressOf(name: string, ep: EntryPointConfig): ListenAddress {
  try {
    const a = parseListenAddress(ep.address);
    return a.host === undefined ? { port: a.port } : { host: a.host, port: a.port };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PassError('PASS_CONFIG_BAD_ADDRESS', reason, { field: `entryPoints.${name}.address`, cause: err });
  }
}

/**
 * The port clients connect to, when it is not the listening port: `publicPort`, else, behind the
 * publish Service of `[kubernetes]` (which maps the scheme's standard port to the container port, as
 * deploy/ does), 80 or 443. Undefined: clients connect to the listening port.
 */
function publicPortFor(config: StaticConfig, ep: StaticConfig['entryPoints'][string]): number | undefined {
  if (ep.publicPort !== undefined) return ep.publicPort;
  if (!config.kubernetes.enabled || config.kubernetes.publishService === undefined) return undefined;
  return ep.tls === undefined ? 80 : 443;
}

/**
 * The entry points to serve: those in defaultEntryPoints, sorted by name, with their
 * middlewares (redirect before basic auth: the seed's http entry point has both and
 * the article shows a 302, so the redirect must win). A redirect goes to the target's `publicPort`
 * when it has one (the port clients connect to), else to the port it listens on.
 * @throws PassError PASS_CONFIG_BAD_REDIRECT, PASS_CONFIG_BAD_ADDRESS, PASS_CONFIG_UNKNOWN_ENTRYPOINT
 *   (parseConfig reports these earlier with lines; this guards configs built in code).
 */
export function entryPointsFromConfig(config: StaticConfig): EntryPoint[] {
  const served = [...new Set(config.defaultEntryPoints)].sort();
  return served.map((name): EntryPoint => {
    const ep = config.entryPoints[name];
    if (ep === undefined) {
      throw new PassError('PASS_CONFIG_UNKNOWN_ENTRYPOINT', `defaultEntryPoints names "${name}", which is not defined`, { field: 'defaultEntryPoints' });
    }
    const middlewares: Middleware[] = [];
    if (ep.redirect) {
      const targetName = ep.redirect.entryPoint;
      const target = config.entryPoints[targetName];
      const field = `entryPoints.${name}.redirect.entryPoint`;
      if (target === undefined || targetName === name || !served.includes(targetName)) {
        const why = targetName === name ? 'itself' : target === undefined ? 'an undefined entry point' : 'an entry point that is not served';
        throw new PassError('PASS_CONFIG_BAD_REDIRECT', `entry point "${name}" redirects to ${why} ("${targetName}")`, { field });
      }
      middlewares.push({
        kind: 'redirect',
        entryPoint: targetName,
        scheme: target.tls ? 'https' : 'http',
        // The port clients reach the target on: behind a Service mapping 443 to 8443, 443.
        port: publicPortFor(config, target) ?? addressOf(targetName, target).port,
        status: ep.redirect.permanent ? 308 : 302,
      });
    }
    const basic = ep.auth?.basic;
    if (basic) {
      middlewares.push({
        kind: 'basicAuth',
        realm: basic.realm,
        users: basic.users.map((u) => ({ user: u.user, hash: u.hash })),
        removeHeader: basic.removeHeader,
      });
    }
    const trusted = ep.forwardedHeaders.trustedIPs;
    const publicPort = publicPortFor(config, ep);
    return {
      name,
      address: addressOf(name, ep),
      ...(publicPort === undefined ? {} : { publicPort }),
      tls: ep.tls !== undefined,
      middlewares,
      timeouts: { ...ep.timeouts },
      ...(trusted.length === 0 ? {} : { trustedIPs: [...trusted] }),
      ...(ep.allowEncodedSlashes ? { allowEncodedSlashes: true } : {}),
    };
  });
}
