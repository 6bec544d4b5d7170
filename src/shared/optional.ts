/*
 * Optional fields under exactOptionalPropertyTypes: `{ x?: string }` refuses `{ x: undefined }`, so
 * every possibly-undefined value used to be spread in as `...(x === undefined ? {} : { x })`.
 * `defined({ a, b })` does that once: it drops the undefined values and says so in its type.
 */

/** The keys of `T` whose value may be undefined. */
type MaybeUndefinedKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? K : never }[keyof T];

/**
 * `T` with every possibly-undefined field made optional (and its `undefined` removed): the type of
 * {@link defined}'s result, assignable to options whose fields are `readonly x?: X`.
 */
export type Defined<T> = {
  [K in keyof T as K extends MaybeUndefinedKeys<T> ? never : K]: T[K];
} & {
  [K in keyof T as K extends MaybeUndefinedKeys<T> ? K : never]?: Exclude<T[K], undefined>;
};

/**
 * A copy of `fields` without the properties whose value is `undefined`, typed so that it can be
 * spread into (or passed as) an object with optional fields under exactOptionalPropertyTypes:
 * `{ logger, ...defined({ email: a.email, ask: a.onDemandAsk }) }`. Other falsy values are kept.
 */
export function defined<T extends object>(fields: T): Defined<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  // The loop above is exactly what Defined<T> describes; TypeScript cannot follow it.
  return out as Defined<T>;
}
