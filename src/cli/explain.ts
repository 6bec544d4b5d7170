import { PassError } from '../shared/errors.ts';
import type { CliFlags } from './flags.ts';
import { defined } from '../shared/optional.ts';
import { explainRequest } from '../model/explain.ts';
import { buildOnce } from './build.ts';

/** `passerelle explain URL`: which entry point, host, route, middlewares and endpoints, and why. */
export async function explainCommand(flags: CliFlags, out: NodeJS.WritableStream): Promise<number> {
  const url = flags.positionals[0];
  if (url === undefined || !URL.canParse(url)) {
    throw new PassError('PASS_CLI_BAD_URL', `explain needs an absolute URL such as http://example.com/path, got ${JSON.stringify(url ?? '')}`);
  }
  const { model } = await buildOnce(flags);
  const explanation = explainRequest(model, { url, headers: flags.headers, ...defined({ method: flags.method, entryPoint: flags.entryPoint }) });
  out.write(flags.output === 'json' ? `${JSON.stringify(explanation, null, 2)}\n` : `${explanation.lines.join('\n')}\n`);
  return explanation.entryPoint === undefined ? 1 : 0;
}
