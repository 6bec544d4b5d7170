/*
 * Gateway listeners: which entry point serves each (by port and protocol), whether it is valid
 * (protocol, route kinds, hostname conflicts), its certificate from certificateRefs (a cross-namespace
 * Secret needs a ReferenceGrant) or, when the Gateway opts in, a certificate intent for ACME.
 */

import { GATEWAY_GROUP, GatewayConditions as T, GatewayReasons as R } from '../../gateway-api.ts';
import { publicPortOf } from '../../types.ts';
import type { CertificateIntent, EntryPoint } from '../../types.ts';
import { Codes } from '../diagnostics.ts';
import { acmeServes } from '../intents.ts';
import type { AcmeIssuance } from '../intents.ts';
import type { SecretReader, TlsSecret } from '../tls.ts';
import { GatewayCodes } from './codes.ts';
import type { ReferenceGrants } from './grants.ts';
import type { ParsedGateway, ParsedListener } from './read.ts';
import type { AddressProblem } from './addresses.ts';
import { condition, HTTP_ROUTE_KIND } from './status.ts';
import type { GatewayCondition } from './status.ts';

/** The Gateway annotation that asks ACME for the certificates of its HTTPS listeners (`"true"`). */
export const GATEWAY_ACME_ANNOTATION = 'passerelle.dev/acme';

/** A usable listener certificate: the Secret's id (`namespace/name`) and PEM. */
export type ListenerCertificate = Extract<TlsSecret, { ok: true }> & { readonly id: string };

/** What translate decided about one listener; `attached` counts routes while they attach. */
export interface ListenerState {
  readonly gateway: ParsedGateway;
  readonly listener: ParsedListener;
  readonly entryPoint: EntryPoint | undefined;
  readonly supportedKinds: readonly { readonly group: string; readonly kind: string }[];
  /** Routes may be served through it (accepted, not conflicted, its certificate resolved). */
  readonly programmed: boolean;
  readonly conditions: readonly GatewayCondition[];
  readonly certificate: ListenerCertificate | undefined;
  readonly intent: CertificateIntent | undefined;
  /** `namespace/name` of the routes attached. */
  readonly attached: Set<string>;
}

/** What listener decisions need besides the Gateway. */
export interface ListenerContext {
  readonly entryPoints: readonly EntryPoint[];
  readonly secrets: SecretReader;
  readonly grants: ReferenceGrants;
  readonly acme: AcmeIssuance | undefined;
}

/** The entry point of a listener: same TLS-ness, its public port (else the port it listens on) equal to the listener's. */
export function entryPointFor(entryPoints: readonly EntryPoint[], port: number, tls: boolean): EntryPoint | undefined {
  const candidates = entryPoints.filter((ep) => ep.tls === tls);
  return candidates.find((ep) => publicPortOf(ep) === port) ?? candidates.find((ep) => ep.address.port === port);
}

/** How a listener conflicts with an earlier one of its Gateway: another protocol on its port, or the same port and hostname. */
function conflictWith(a: ParsedListener, b: ParsedListener): string | undefined {
  if (a.port !== b.port) return undefined;
  if (a.protocol !== b.protocol) return R.protocolConflict;
  return a.hostname?.host === b.hostname?.host ? R.hostnameConflict : undefined;
}

interface Refs {
  readonly ok: boolean;
  readonly reason: string;
  readonly message: string;
  readonly certificate?: ListenerCertificate;
  readonly intent?: CertificateIntent;
}

/** The certificate of an HTTPS listener from its certificateRefs (first usable one), or its ACME intent. */
function listenerCertificate(gw: ParsedGateway, l: ParsedListener, ctx: ListenerContext): Refs {
  const h = gw.header;
  const report = h.reporter;
  const optIn = h.annotations[GATEWAY_ACME_ANNOTATION] === 'true';
  const intent: CertificateIntent | undefined = optIn
    ? { source: h.ref, ...(h.location === undefined ? {} : { location: h.location }), field: l.field, kind: 'tls', hosts: l.hostname === undefined ? [] : [l.hostname], incomplete: l.hostname === undefined, acme: true }
    : undefined;
  let missing = l.certificateRefs.length === 0;
  for (const [k, ref] of l.certificateRefs.entries()) {
    if (k > 0) {
      report.warning(GatewayCodes.fieldIgnored, ref.field, 'only the first usable certificateRef of a listener is served; this one is ignored');
      continue;
    }
    if (ref.group !== '' || ref.kind !== 'Secret') {
      report.error(GatewayCodes.certificateRef, ref.field, `certificateRef ${ref.group}/${ref.kind} is not a core Secret; the listener has no certificate`);
      return { ok: false, reason: R.invalidCertificateRef, message: `${ref.field} is not a Secret` };
    }
    if (!ctx.grants.allows({ group: GATEWAY_GROUP, kind: 'Gateway', namespace: h.namespace }, { group: '', kind: 'Secret', namespace: ref.namespace, name: ref.name })) {
      report.error(GatewayCodes.refNotPermitted, ref.field, `no ReferenceGrant in namespace ${ref.namespace} lets Gateways of ${h.namespace} use Secret ${ref.name}; the listener has no certificate`);
      return { ok: false, reason: R.refNotPermitted, message: `Secret ${ref.namespace}/${ref.name} is in another namespace and no ReferenceGrant allows it` };
    }
    const secret = ctx.secrets.read(ref.namespace, ref.name);
    if (secret.ok) return { ok: true, reason: R.resolvedRefs, message: 'the certificate Secret is resolved', certificate: { ...secret, id: `${ref.namespace}/${ref.name}` } };
    if (secret.code !== Codes.missingSecret) {
      report.error(GatewayCodes.certificateRef, ref.field, `Secret ${ref.namespace}/${ref.name} is not a usable TLS Secret; the listener has no certificate`);
      return { ok: false, reason: R.invalidCertificateRef, message: `Secret ${ref.namespace}/${ref.name} is not a usable TLS Secret` };
    }
    missing = true;
  }
  const where = l.certificateRefs[0]?.field ?? `${l.field}.tls`;
  if (missing && intent !== undefined && acmeServes(intent, ctx.acme)) {
    if (l.certificateRefs.length > 0) report.warning(GatewayCodes.certificateRef, where, 'the Secret does not exist: the certificate is issued by ACME');
    return { ok: true, reason: R.resolvedRefs, message: 'the certificate is issued by ACME', intent };
  }
  const why = l.certificateRefs.length === 0 ? 'the listener names no certificateRef' : `Secret ${l.certificateRefs[0]?.namespace ?? ''}/${l.certificateRefs[0]?.name ?? ''} does not exist`;
  const acmeNote = intent === undefined ? '' : ctx.acme === undefined ? ' ([acme] is not configured)' : l.hostname === undefined ? ' (ACME needs a listener hostname)' : ' (ACME cannot order this name)';
  report.error(GatewayCodes.certificateRef, where, `${why}${acmeNote}; the listener has no certificate`);
  return { ok: false, reason: R.invalidCertificateRef, message: why, ...(intent === undefined ? {} : { intent }) };
}

/** Decides every listener of one of our Gateways (reporting problems on the Gateway). */
export function decideListeners(gw: ParsedGateway, ctx: ListenerContext): ListenerState[] {
  const report = gw.header.reporter;
  const gen = gw.generation;
  return gw.listeners.map((l, i) => {
    const states: GatewayCondition[] = [];
    let accepted: { ok: boolean; reason: string; message: string } = { ok: true, reason: R.accepted, message: 'the listener is served' };
    let refs: Refs = { ok: true, reason: R.resolvedRefs, message: 'references are resolved' };
    let entryPoint: EntryPoint | undefined;
    const http = l.protocol === 'HTTP';
    const https = l.protocol === 'HTTPS' && l.tlsMode === 'Terminate';
    if (!http && !https) {
      const what = l.protocol === 'HTTPS' ? `HTTPS with TLS mode ${l.tlsMode ?? 'none'}` : `protocol ${l.protocol}`;
      report.error(GatewayCodes.listenerProtocol, `${l.field}.protocol`, `${what} is not served (HTTP, and HTTPS with mode Terminate); the listener is not programmed`);
      accepted = { ok: false, reason: R.unsupportedProtocol, message: `${what} is not supported` };
    } else {
      entryPoint = entryPointFor(ctx.entryPoints, l.port, https);
      if (entryPoint === undefined) {
        const kind = https ? 'with TLS' : 'without TLS';
        report.error(GatewayCodes.listenerPort, `${l.field}.port`, `no entry point ${kind} has port ${l.port}; the listener is not programmed`);
        accepted = { ok: false, reason: R.portUnavailable, message: `no entry point ${kind} listens on port ${l.port}` };
      }
    }
    const kinds = l.kinds ?? [HTTP_ROUTE_KIND];
    // A protocol Passerelle does not serve takes no route kind at all (the spec's empty supportedKinds).
    const supportedKinds = http || https ? kinds.filter((k) => k.group === HTTP_ROUTE_KIND.group && k.kind === HTTP_ROUTE_KIND.kind).slice(0, 1) : [];
    if ((http || https) && supportedKinds.length < kinds.length) {
      report.error(GatewayCodes.listenerProtocol, `${l.field}.allowedRoutes.kinds`, 'only HTTPRoute routes are served; the other kinds are left out');
      refs = { ok: false, reason: R.invalidRouteKinds, message: 'only HTTPRoute is supported' };
    }
    const earlier = gw.listeners.slice(0, i).find((o) => conflictWith(o, l) !== undefined);
    const conflict = earlier === undefined ? undefined : conflictWith(earlier, l);
    const clash = earlier === undefined ? '' : conflict === R.protocolConflict ? `listener ${earlier.name} has protocol ${earlier.protocol} on port ${l.port}` : `listener ${earlier.name} has the same port ${l.port} and hostname ${l.hostname?.host ?? '(none)'}`;
    if (earlier !== undefined) report.error(GatewayCodes.listenerConflict, l.field, `${clash}; this listener is not programmed`);
    // A listener with some route kinds refused still serves HTTPRoutes; its certificate decides the rest.
    const cert: Refs | undefined = https && accepted.ok ? listenerCertificate(gw, l, ctx) : undefined;
    if (cert !== undefined && (refs.ok || !cert.ok)) refs = cert;
    else if (cert !== undefined) refs = { ...refs, ...pick(cert) };
    const programmed = accepted.ok && earlier === undefined && supportedKinds.length > 0 && (cert?.ok ?? true);
    states.push(condition(T.accepted, accepted.ok, accepted.reason, accepted.message, gen));
    states.push(condition(T.resolvedRefs, refs.ok, refs.reason, refs.message, gen));
    states.push(
      earlier === undefined
        ? condition(T.conflicted, false, R.noConflicts, 'no other listener has this port and hostname', gen)
        : condition(T.conflicted, true, conflict ?? R.hostnameConflict, clash, gen),
    );
    states.push(condition(T.programmed, programmed, programmed ? R.programmed : R.invalid, programmed ? `served on entry point ${entryPoint?.name ?? ''}` : 'the listener is not valid', gen));
    return { gateway: gw, listener: l, entryPoint, supportedKinds, programmed, conditions: states, certificate: refs.certificate, intent: refs.intent, attached: new Set<string>() };
  });
}

/** The certificate and intent of a Refs, without its verdict (the kinds' verdict stands). */
function pick(r: Refs): Partial<Refs> {
  return { ...(r.certificate === undefined ? {} : { certificate: r.certificate }), ...(r.intent === undefined ? {} : { intent: r.intent }) };
}

/** The Gateway's own conditions from its listeners and, when it asks for addresses it cannot have, why (see assignAddresses). */
export function gatewayConditions(gw: ParsedGateway, listeners: readonly ListenerState[], address?: AddressProblem): GatewayCondition[] {
  const gen = gw.generation;
  if (address?.kind === 'unsupported') {
    return [condition(T.accepted, false, R.unsupportedAddress, address.message, gen), condition(T.programmed, false, R.invalid, 'the Gateway is not accepted', gen)];
  }
  const valid = listeners.filter((l) => l.programmed).length;
  const all = listeners.length;
  const accepted = all === 0 || valid > 0;
  const reason = valid === all ? R.accepted : R.listenersNotValid;
  const message = valid === all ? 'the Gateway is accepted' : `${all - valid} of ${all} listeners are not valid`;
  const programmed =
    address !== undefined
      ? condition(T.programmed, false, R.addressNotUsable, address.message, gen)
      : condition(T.programmed, valid > 0, valid > 0 ? R.programmed : R.invalid, valid > 0 ? 'the Gateway is served' : 'no listener is valid', gen);
  return [condition(T.accepted, accepted, reason, message, gen), programmed];
}
