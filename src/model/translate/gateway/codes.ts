/* The diagnostic codes of the Gateway API translation (their meanings: src/shared/codes.ts). */

import type { PassCode } from '../../../shared/codes.ts';

/** Stable codes of the Gateway API translation. */
export const GatewayCodes = {
  addressPoolExhausted: 'PASS_GATEWAY_ADDRESS_POOL_EXHAUSTED',
  addressNotUsable: 'PASS_GATEWAY_ADDRESS_NOT_USABLE',
  addressUnsupported: 'PASS_GATEWAY_ADDRESS_UNSUPPORTED',
  backendKind: 'PASS_GATEWAY_BACKEND_KIND',
  badHostname: 'PASS_GATEWAY_BAD_HOSTNAME',
  badMatch: 'PASS_GATEWAY_BAD_MATCH',
  certificateRef: 'PASS_GATEWAY_CERTIFICATE_REF',
  conflict: 'PASS_GATEWAY_CONFLICT',
  fieldIgnored: 'PASS_GATEWAY_FIELD_IGNORED',
  filterNotSupported: 'PASS_GATEWAY_FILTER_NOT_SUPPORTED',
  listenerConflict: 'PASS_GATEWAY_LISTENER_CONFLICT',
  listenerPort: 'PASS_GATEWAY_LISTENER_PORT',
  listenerProtocol: 'PASS_GATEWAY_LISTENER_PROTOCOL',
  matchNotSupported: 'PASS_GATEWAY_MATCH_NOT_SUPPORTED',
  mirrorInvalid: 'PASS_GATEWAY_MIRROR_INVALID',
  notAttached: 'PASS_GATEWAY_NOT_ATTACHED',
  parentNotFound: 'PASS_GATEWAY_PARENT_NOT_FOUND',
  refNotPermitted: 'PASS_GATEWAY_REF_NOT_PERMITTED',
  unreadable: 'PASS_GATEWAY_UNREADABLE',
} as const satisfies Record<string, PassCode>;
