/* The CORS policies the Gateway API CORS filter makes, shared by the behaviour test and the render tests. */

import type { CorsPolicy } from '../src/model/policy.ts';

/** Listed origins and an origin pattern, methods, headers, exposed headers, credentials. */
export const CORS_LISTED: CorsPolicy = {
  allowOrigins: ['https://www.foo.test'],
  originPatterns: ['https://*.bar.test'],
  allowMethods: ['GET', 'OPTIONS'],
  allowHeaders: ['x-h1'],
  exposeHeaders: ['x-h3', 'x-h4'],
  allowCredentials: true,
  maxAgeSeconds: 3600,
};

/** `*` everywhere with credentials: the origin, methods and headers asked are echoed. */
export const CORS_ANY: CorsPolicy = { allowOrigins: ['*'], echoOrigin: true, echoMethods: true, echoHeaders: true, allowMethods: [], allowHeaders: [], allowCredentials: true, maxAgeSeconds: 5 };

/** `*` origins without credentials: answered `*`. */
export const CORS_STAR: CorsPolicy = { allowOrigins: ['*'], allowMethods: ['PUT'], allowHeaders: [], allowCredentials: false, maxAgeSeconds: 5 };
