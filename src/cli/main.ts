import { formatDiagnostic } from '../shared/diagnostics.ts';
import { PassDiagnosticsError, PassError } from '../shared/errors.ts';
import { closest, parseFlags } from './flags.ts';
import { runCommand } from './run.ts';
import { checkCommand, migrateCommand } from './check.ts';
import { explainCommand } from './explain.ts';
import { passerelleVersion } from './wire.ts';

const OPTIONS_HELP = `Options:
  --configfile=FILE   the TOML configuration (alias --config)
  --directory DIR     read Kubernetes objects from YAML files in DIR (the file source)
  --kubernetes        read objects from the Kubernetes API (in-cluster or [kubernetes] kubeconfig)
  --web               serve /healthz, /readyz, the JSON API, /metrics and the dashboard on [web] address (:8080)
  --logLevel=LEVEL    debug | info | warn | error
  --log.format=FMT    text | json (logs go to stderr)
  --proxy MODE        native | haproxy | nginx
  --output text|json  json: stdout holds exactly one JSON document
  -h, --help          this help (passerelle COMMAND --help: the command's)
  -v, --version       the version
`;

/** The global usage (`passerelle`, `passerelle --help`, `passerelle help`). */
export const USAGE = `Usage: passerelle <command> [options]

Commands:
  run                 run the controller (the default when only options are given)
  run --dry-run       build once, print the route table (--output json for machines), exit
  render [--diff]     same as run --dry-run; --diff: what would change against the work directory (haproxy, nginx)
  check               validate the config and every object; exit 1 on any error
  migrate             the migration report: what became of each ingress-nginx / Traefik 1 annotation
  explain URL         which entry point, host, route, middlewares and endpoints serve URL, and why
  version             the version
  help [COMMAND]      this help, or a command's

${OPTIONS_HELP}`;

/** Usage of each command (`passerelle COMMAND --help`). */
export const COMMAND_USAGE: Readonly<Record<Command, string>> = {
  run: `Usage: passerelle run [--configfile=FILE] [options]
       passerelle run --dry-run [--output json] [options]

Runs the controller: reads the objects, applies them to the proxy, follows their changes until
SIGTERM or SIGINT. A first configuration that cannot be applied (address in use, proxy binary
missing, invalid template) ends it with exit code 2. --dry-run builds once and prints the route
table (native) or the rendered haproxy/nginx files (--proxy haproxy|nginx), then exits.

${OPTIONS_HELP}`,
  render: `Usage: passerelle render [--diff] [options]

Same as run --dry-run. --diff prints what would change against the work directory ([proxy] workDir).

${OPTIONS_HELP}`,
  check: `Usage: passerelle check [--output json] [options]

Validates the configuration and every object and prints each diagnostic (and, with [acme], each
certificate's state). Exit code 1 when any diagnostic is an error.

${OPTIONS_HELP}`,
  migrate: `Usage: passerelle migrate [--output json] [options]

Lists, per Ingress served, every annotation of the ingress-nginx and Traefik 1 dialects: applied,
applied with a different meaning (said how), unsupported, refused (free text such as
configuration-snippet), invalid, or in conflict between the dialects; and the policies the proxy
mode in use does not render. Run it against a cluster with classAliases = ["nginx"] before moving
Ingresses off ingress-nginx (docs/migrate-from-ingress-nginx.md). Exit code 1 when an annotation
is refused, invalid or in conflict, or has an error where it is (a missing auth Secret, a policy the
mode cannot enforce).

${OPTIONS_HELP}`,
  explain: `Usage: passerelle explain URL [--entrypoint NAME] [--method M] [--header "K: V"]... [options]

Explains which entry point, host, route, middlewares and endpoints serve URL, and why the others
do not. The entry point is the one listening on the URL's port (and scheme); --entrypoint NAME
names it instead. Exit code 1 when no entry point takes the request.

  --entrypoint NAME   the entry point the request arrives on
  -X, --method M      the request method (default GET)
  -H, --header "K: V" a request header (repeatable); Host overrides the URL's host

${OPTIONS_HELP}`,
  version: `Usage: passerelle version

Prints the version (also: passerelle --version, passerelle -v).
`,
  help: `Usage: passerelle help [COMMAND]

Prints the usage, or a command's.
`,
};

/** The commands, in the order the usage lists them. */
type Command = 'run' | 'render' | 'check' | 'migrate' | 'explain' | 'version' | 'help';
const COMMANDS: readonly Command[] = ['run', 'render', 'check', 'migrate', 'explain', 'version', 'help'];

function isCommand(word: string): word is Command {
  return (COMMANDS as readonly string[]).includes(word);
}

/** The command named `word`, or a PASS_CLI_UNKNOWN_COMMAND error with a hint. */
function commandOf(word: string): Command {
  if (isCommand(word)) return word;
  const hint = closest(word, COMMANDS);
  throw new PassError(
    'PASS_CLI_UNKNOWN_COMMAND',
    `unknown command ${JSON.stringify(word)}${hint === undefined ? '' : `; did you mean ${hint}?`} (commands: ${COMMANDS.join(', ')}; passerelle --help)`,
  );
}

/** Runs the CLI with these arguments; resolves to the process exit code. */
export async function main(argv: readonly string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  // Nothing at all: the usage, not a controller started on the defaults.
  if (argv.length === 0) {
    out.write(USAGE);
    return 0;
  }
  const flags = parseFlags([...argv]);
  // Only options (the seed's `traefik --web --kubernetes`): run.
  const command = flags.command === undefined ? (flags.help ? 'help' : flags.version ? 'version' : 'run') : commandOf(flags.command);
  if (flags.version || command === 'version') {
    if (flags.help && command === 'version') {
      out.write(COMMAND_USAGE.version);
      return 0;
    }
    out.write(`passerelle ${passerelleVersion()}\n`);
    return 0;
  }
  if (command === 'help') {
    const topic = flags.positionals[0];
    out.write(topic === undefined ? USAGE : COMMAND_USAGE[commandOf(topic)]);
    return 0;
  }
  if (flags.help) {
    out.write(COMMAND_USAGE[command]);
    return 0;
  }
  switch (command) {
    case 'run':
      return runCommand(flags, out);
    case 'render':
      return runCommand({ ...flags, dryRun: true }, out);
    case 'check':
      return checkCommand(flags, out);
    case 'migrate':
      return migrateCommand(flags, out);
    case 'explain':
      return explainCommand(flags, out);
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
