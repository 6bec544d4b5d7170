/* The HTTP-01 token store: what every driver's `/.well-known/acme-challenge/` answers. */

/** Tokens of HTTP-01 challenges in progress and their key authorizations. */
export class Http01Tokens {
  readonly #tokens = new Map<string, string>();

  /** Publishes a token until {@link remove}. */
  set(token: string, keyAuthorization: string): void {
    this.#tokens.set(token, keyAuthorization);
  }

  remove(token: string): void {
    this.#tokens.delete(token);
  }

  get size(): number {
    return this.#tokens.size;
  }

  /** The driver hook (`AcmeChallengeHook`): the key authorization of a token, or undefined. */
  readonly hook = (token: string): string | undefined => this.#tokens.get(token);
}
