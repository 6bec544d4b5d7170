/*
 * What the Gateway API tests through the file source share: Service + EndpointSlice YAML for a local
 * echo server, and a folder with a controller configuration (one HTTP entry point, a proxy mode, the
 * file source on the folder's objects) that nginx's workers can read.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { proxyWorkDir } from '../workdir.ts';

/** A Service `name` in namespace demo whose one ready endpoint is 127.0.0.1:port. */
export function serviceYaml(name: string, port: number): string {
  return `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: demo }
spec:
  ports: [{ name: http, port: 80, targetPort: ${port} }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-1, namespace: demo, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports: [{ name: http, port: ${port} }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
`;
}

/** A temporary folder holding `objects/services.yaml`, `objects/gateway.yaml` and `passerelle.toml` (entry point `web` on 127.0.0.1:entry). */
export function gatewayFolder(o: { readonly prefix: string; readonly mode: string; readonly entry: number; readonly services: string; readonly gateway: string }): { dir: string; configFile: string } {
  const dir = proxyWorkDir(o.prefix);
  const objects = path.join(dir, 'objects');
  mkdirSync(objects);
  writeFileSync(path.join(objects, 'services.yaml'), o.services);
  writeFileSync(path.join(objects, 'gateway.yaml'), o.gateway);
  const configFile = path.join(dir, 'passerelle.toml');
  writeFileSync(
    configFile,
    `[entryPoints.web]
address = "127.0.0.1:${o.entry}"

[proxy]
mode = "${o.mode}"
workDir = ${JSON.stringify(path.join(dir, 'work'))}
gracePeriod = "1s"

[file]
directory = ${JSON.stringify(objects)}
watch = false
`,
  );
  return { dir, configFile };
}
