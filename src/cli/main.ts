import { formatDiagnostic } from '../shared/diagnostics.ts';
import { PassDiagnosticsError, PassError } from '../shared/errors.ts';
import { parseFlags } from './flags.ts';
import { runCommand } from './run.ts';
import { checkCommand } from './check.ts';
import { explainCommand } from './explain.ts';

const usage = `Usage: passerelle <command> [options]

Commands:
  run                 run the controller (default)
  run --dry-run       build once, print the route table (--output json for machines), exit
  render [--diff]     same as run --dry-run; --diff: what would change against the work directory (haproxy, nginx)
  check               validate the config and every object; exit 1 on any error
  explain URL         which entry point, host, route, middlewares and endpoints serve URL, and why
                      [--method M] [--header K:V]...

Options:
  --configfile=FILE   the TOML configuration (alias --config)
  --directory DIR     read Kubernetes objects from YAML files in DIR (the file source)
  --kubernetes        read objects from the Kubernetes API (in-cluster or [kubernetes] kubeconfig)
  --web               serve /healthz, /readyz, the JSON API, /metrics and the dashboard on [web] address (:8080)
  --logLevel=LEVEL    debug | info | warn | error
  --proxy MODE        native | haproxy | nginx
  --output text|json
`;

/** Runs the CLI with these arguments; resolves to the process exit code. */
export async function main(argv: readonly string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const flags = parseFlags([...argv]);
  const command = flags.command ?? 'run';
  switch (command) {
    case 'run':
      return runCommand(flags, out);
    case 'render':
      return runCommand({ ...flags, dryRun: true }, out);
    case 'check':
      return checkCommand(flags, out);
    case 'explain':
      return explainCommand(flags, out);
    case 'help':
      out.write(usage);
      return 0;
    default:
      throw new PassError('PASS_CLI_UNKNOWN_COMMAND', `unknown command ${JSON.stringify(command)}\n\n${usage}`);
  }
}

function reportFatal(err: unknown): void {
  if (err instanceof PassDiagnosticsError) {
    process.stderr.write(`passerelle: ${err.code}\n${err.diagnostics.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}\n`);
  } else if (err instanceof PassError) {
    process.stderr.write(`passerelle: ${formatDiagnostic(err.toDiagnostic())}\n`);
  } else {
    process.stderr.write(`passerelle: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
}

/** The process entry: runs {@link main}, prints a fatal error plainly, sets the exit code. */
export async function cli(argv: readonly string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    reportFatal(err);
    process.exitCode = 2;
  }
}

if (import.meta.main) await cli(process.argv.slice(2));
