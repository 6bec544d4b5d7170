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
        port: target.publicPort ?? addressOf(targetName, target).port,
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
    return {
      name,
      address: addressOf(name, ep),
      ...(ep.publicPort === undefined ? {} : { publicPort: ep.publicPort }),
      tls: ep.tls !== undefined,
      middlewares,
      timeouts: { ...ep.timeouts },
      ...(trusted.length === 0 ? {} : { trustedIPs: [...trusted] }),
      ...(ep.allowEncodedSlashes ? { allowEncodedSlashes: true } : {}),
    };
  });
}
