import type { CliFlags } from './flags.ts';
import { describeDiagnostics } from '../model/describe.ts';
import type { RoutingModel } from '../model/types.ts';
import { buildOnce } from './build.ts';
import { acmeCheck } from './acme.ts';
import type { AcmeCheck } from './acme.ts';
import { describeCertificateStatuses } from '../acme/status.ts';
import { defined } from '../shared/optional.ts';

/** `passerelle check`: every diagnostic and, with `[acme]`, the state of each certificate; exit code 1 when any diagnostic is an error. */
export async function checkCommand(flags: CliFlags, out: NodeJS.WritableStream): Promise<number> {
  const built = await buildOnce(flags);
  let model: RoutingModel = built.model;
  let acme: AcmeCheck | undefined;
  if (built.context.config.acme !== undefined) {
    acme = await acmeCheck(built.context.config, built.context.translate, built.snapshot, model, built.kube);
    model = { ...model, diagnostics: acme.diagnostics };
  }
  const errors = model.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = model.diagnostics.length - errors;
  if (flags.output === 'json') {
    out.write(`${JSON.stringify({ errors, warnings, diagnostics: model.diagnostics, ...defined({ certificates: acme?.certificates, storage: acme?.storage }) }, null, 2)}\n`);
  } else {
    out.write(`${describeDiagnostics(model.diagnostics).join('\n')}\n`);
    if (acme !== undefined) out.write(`${describeCertificateStatuses(acme.certificates, acme.storage).join('\n')}\n`);
    out.write(`${errors} error(s), ${warnings} warning(s); ${model.virtualHosts.length} virtual host(s), ${Object.keys(model.backends).length} backend(s)\n`);
  }
  return errors > 0 ? 1 : 0;
}
