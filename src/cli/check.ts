import type { CliFlags } from '../config/flags.ts';
import { describeDiagnostics } from '../model/describe.ts';
import { buildOnce } from './build.ts';

/** `passerelle check`: every diagnostic; exit code 1 when any is an error. */
export async function checkCommand(flags: CliFlags, out: NodeJS.WritableStream): Promise<number> {
  const { model } = await buildOnce(flags);
  const errors = model.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = model.diagnostics.length - errors;
  if (flags.output === 'json') {
    out.write(`${JSON.stringify({ errors, warnings, diagnostics: model.diagnostics }, null, 2)}\n`);
  } else {
    out.write(`${describeDiagnostics(model.diagnostics).join('\n')}\n`);
    out.write(`${errors} error(s), ${warnings} warning(s); ${model.virtualHosts.length} virtual host(s), ${Object.keys(model.backends).length} backend(s)\n`);
  }
  return errors > 0 ? 1 : 0;
}
