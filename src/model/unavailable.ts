/* Why a route answers 503 without trying an endpoint: the same words in every mode. */
import type { Backend } from './types.ts';

/**
 * Why a route whose backend has no endpoints answers 503, for the answer's body and the logs. It names
 * no Service (clients need not learn them; the logs and `passerelle check` do).
 * @param backend the route's backend, undefined when the model has none under that id.
 */
export function unavailableCause(backend: Pick<Backend, 'unresolved'> | undefined): string {
  switch (backend?.unresolved) {
    case undefined:
      return backend === undefined ? 'the backend of this route does not exist' : 'no endpoint is ready';
    case 'service':
      return 'the Service of this route does not exist';
    case 'port':
      return 'the Service of this route has no such port';
    case 'externalName':
      return 'the Service of this route is of type ExternalName, which is not supported';
  }
}
