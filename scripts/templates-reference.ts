/*
 * docs/templates.md, generated for users who override the templates ([proxy] templates): the
 * template files of each dialect, the view fields each receives (read from the view interfaces of
 * src/render/{haproxy,nginx}/view.ts, and haproxy/policy.ts, with the TypeScript parser) and the quoting helpers (the helper tables of
 * src/render/{haproxy,nginx}/quote.ts, with each function's doc comment). Written by scripts/templates-doc.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { haproxyHelpers } from '../src/render/haproxy/quote.ts';
import { nginxHelpers } from '../src/render/nginx/quote.ts';

type Dialect = 'haproxy' | 'nginx';

const ROOT = new URL('../', import.meta.url);

/** Where a template is used and the view type it receives as `this`. */
interface TemplateUse {
  readonly receives: string;
  readonly from: string;
}

/** Every template of a dialect: main file first, then the partials (`templates/DIALECT/NAME.hbs`). */
const TEMPLATES: Readonly<Record<Dialect, Readonly<Record<string, TemplateUse>>>> = {
  haproxy: {
    'haproxy.cfg.hbs': { receives: 'HaproxyView', from: 'the main file' },
    'haproxy/errors.hbs': { receives: 'HaproxyView', from: '`haproxy.cfg.hbs` (`defaults` section)' },
    'haproxy/frontend.hbs': { receives: 'FrontendView', from: '`haproxy.cfg.hbs`, `{{#each frontends}}`' },
    'haproxy/edge.hbs': { receives: 'FrontendView', from: '`frontend.hbs`: timeouts, refusals, normalisation, trusted ranges' },
    'haproxy/auth.hbs': { receives: 'FrontendView', from: '`frontend.hbs`, when `auth` is set' },
    'haproxy/forwarded.hbs': { receives: 'FrontendView', from: '`frontend.hbs`: X-Forwarded-* and Forwarded headers' },
    'haproxy/routing.hbs': { receives: 'FrontendView', from: '`frontend.hbs`, when `routes` is true: the map lookups' },
    'haproxy/policies.hbs': {
      receives: 'FrontendView',
      from: '`frontend.hbs`, when `routes` and `@root.routeValues` are true: the route policies (`@root.policies`) of the route the map lookups chose, and ssl-redirect',
    },
    'haproxy/userlist.hbs': { receives: 'FrontendView', from: '`haproxy.cfg.hbs`, `{{#each frontends}}` with `auth` set, and `{{#each policies}}` with `auth` set (a [`PolicyView`](#policyview))' },
    'haproxy/limits.hbs': { receives: 'PolicyView', from: '`haproxy.cfg.hbs`, `{{#each policies}}`: the stick tables of `rate` and `connections`' },
    'haproxy/backend.hbs': { receives: 'BackendView', from: '`haproxy.cfg.hbs`, `{{#each backends}}` (the server timeouts of policies from `@root.serverTimeouts`)' },
    'haproxy/special.hbs': { receives: 'HaproxyView', from: '`haproxy.cfg.hbs`: the 404 and 503 backends' },
    'haproxy/mirror.hbs': { receives: 'HaproxyView', from: '`haproxy.cfg.hbs`, when `mirror` is true: the internal frontend on `files.mirrorSocket` the Lua filter `pass_mirror` sends the copies of mirrored requests to' },
  },
  nginx: {
    'nginx.conf.hbs': { receives: 'NginxView', from: 'the main file' },
    'nginx/trust.hbs': { receives: 'TrustView', from: '`nginx.conf.hbs`, `{{#each trust}}`' },
    'nginx/upstream.hbs': { receives: 'UpstreamView', from: '`nginx.conf.hbs`, `{{#each upstreams}}`' },
    'nginx/server.hbs': { receives: 'ServerBlockView', from: '`nginx.conf.hbs`, `{{#each servers}}`' },
    'nginx/edge.hbs': { receives: 'ServerBlockView', from: '`server.hbs`: timeouts, refusals, normalisation' },
    'nginx/headers.hbs': { receives: 'ServerBlockView', from: '`server.hbs`, and `request-headers.hbs` for a route that sets request headers (`replaces`: the lower-case names it sets, whose line is left out; null from `server.hbs`): headers sent upstream' },
    'nginx/errors.hbs': { receives: 'ServerBlockView', from: '`server.hbs`: error pages' },
    'nginx/acme.hbs': { receives: 'ServerBlockView', from: '`server.hbs`: the ACME HTTP-01 location (uses `@root.acme`)' },
    'nginx/location.hbs': { receives: 'LocationView', from: '`server.hbs`, `{{#each locations}}` (`server`: the ServerBlockView, for `request-headers.hbs`)' },
    'nginx/auth.hbs': { receives: 'AuthCheckView', from: '`server.hbs`, `{{#each authChecks}}` (`server`: the ServerBlockView): the internal location that asks an external auth URL' },
    'nginx/signin.hbs': { receives: 'SigninView', from: '`server.hbs`, `{{#each signins}}`: the named location that sends a 401 of external auth to its sign-in URL' },
    'nginx/request-headers.hbs': {
      receives: 'LocationPolicyView',
      from: '`location.hbs` (`policy`) and `mirror.hbs` (a `MirrorView`, which has the same `requestHeaders` and `replaces`), with `server`: the route\'s request headers, and `headers.hbs` again with them',
    },
    'nginx/mirror.hbs': { receives: 'MirrorView', from: '`server.hbs`, `{{#each mirrors}}` (`server`: the ServerBlockView): the internal location a `mirror` of a route copies requests to' },
    'nginx/grpc-headers.hbs': { receives: 'ServerBlockView', from: '`location.hbs` for a gRPC route (`replaces`: the lower-case names the route sets): headers sent upstream with `grpc_set_header`' },
  },
};

/** What each helper accepts (what it emits comes from the function's doc comment). */
const ACCEPTS: Readonly<Record<Dialect, Readonly<Record<string, string>>>> = {
  haproxy: {
    q: "printable ASCII (spaces allowed), at most 1024 characters, no `'` or `\\`",
    text: 'printable ASCII (spaces allowed), at most 4096 characters',
    fmt: 'printable ASCII (spaces allowed), at most 4096 characters',
    header: '1 to 100 characters of `[A-Za-z0-9_.-]`',
    name: '1 to 100 characters of `[A-Za-z0-9_.:-]`',
    int: 'an integer from 0 to 2147483647',
    size: 'an integer from 0 to 2^53 - 1',
    file: 'an absolute path of `[A-Za-z0-9_./@+=,:~-]`, at most 1024 characters',
    unix: 'an absolute path, as `file`',
    addr: 'a host (empty, IPv4, IPv6 without brackets, or a lower-case host name) and a port from 0 to 65535',
    cidr: 'an IPv4/IPv6 address or CIDR range',
    mapWord: "1 to 1100 visible ASCII characters, none of `#`, `\\`, `'`, `\"`",
    hostKey: 'a lower-case host name or `*.domain`',
    sni: 'a lower-case host name or `*.domain`',
    crypt: 'a bcrypt hash (`$2y$`, `$2a$`, `$2b$`)',
    digest: 'a base64 SHA-1 digest (27 characters and `=`)',
    user: '1 to 128 characters of `[A-Za-z0-9_.@+=,:~-]`',
    re: "printable ASCII (spaces allowed), at most 1100 characters, no `'`",
    regexPath: 'a regex path (the grammar of `regexPathProblem`), as `re`, without `\'`',
    cookie: '1 to 128 characters of `[A-Za-z0-9._~-]`',
    sniExpr: '`var(txn.host)`, or `str(HOST)` with a lower-case host name',
    redirectPrefix: 'a redirect policy (scheme `http`/`https`, a lower-case host name, a port from 1 to 65535, each optional), whether the frontend has TLS, and its public port',
  },
  nginx: {
    q: 'printable ASCII (spaces allowed), at most 1024 characters, no `"`, `\\` or `$`',
    name: '1 to 120 characters of `[A-Za-z0-9_.-]`',
    int: 'an integer from 0 to 2147483647',
    file: 'an absolute path of `[A-Za-z0-9_./@+=,:~-]`, at most 1024 characters',
    addr: 'a host (empty, IPv4, IPv6 without brackets, or a lower-case host name) and a port from 1 to 65535',
    loc: 'an Ingress path: `/` then unreserved characters, sub-delimiters, `:`, `@`, `/` and `%XX`; at most 1024 characters',
    locRegex: 'a regex path (the grammar of `regexPathProblem`: no `"`, `{`, `}` or `;`, a backslash only before `d`, `w`, `D`, `W` or punctuation)',
    rewriteRegex: 'a regex path, as `locRegex`',
    rewriteTarget: 'a route path with `$1` to `$9` and without `%`-escapes, at most 1024 characters',
    stripRegex: 'an integer from 1 to 1024',
    proxyPass: 'an upstream name (as `name`), a location path (as `loc`) and, optionally, the scheme `http` (default) or `https`',
    cidr: 'an IPv4/IPv6 address or CIDR range',
    text: 'printable ASCII (spaces allowed), at most 4096 characters',
    serverName: 'a lower-case host name, `*.domain` (one label) or `**.domain` (a suffix host: one or more labels)',
    mapRegex: 'a `map` key regex: `~` then printable ASCII (spaces allowed), at most 2100 characters',
    sniKey: 'a lower-case host name or `*.domain` (a map key on the TLS server name)',
    splice: 'alternately texts (as `text`) and variable names (`[A-Za-z0-9_]`)',
    authUrl: 'an http(s) URL: a host name, IPv4 or bracketed IPv6, an optional port, then a path and query of unreserved characters, sub-delimiters, `:`, `@`, `/`, `?` and `%XX`; no `$`, quote, backslash or space; at most 2100 characters',
    wwwUrl: 'a redirect policy (scheme `http`/`https`, a lower-case host name, a port from 1 to 65535, each optional), whether the entry point has TLS, and its public port',
    unixListen: 'an absolute path of `[A-Za-z0-9_./@+=,:~-]`, at most 1024 characters (a unix socket to listen on)',
  },
};

const HELPER_TABLES: Readonly<Record<Dialect, Readonly<Record<string, unknown>>>> = { haproxy: haproxyHelpers, nginx: nginxHelpers };

const VIEW_ROOT: Readonly<Record<Dialect, string>> = { haproxy: 'HaproxyView', nginx: 'NginxView' };

/** Files whose declarations the view interfaces may refer to. */
const SOURCES = ['src/render/haproxy/view.ts', 'src/render/haproxy/policy.ts', 'src/render/haproxy/upstream.ts', 'src/render/nginx/view.ts', 'src/render/nginx/upstream.ts', 'src/render/types.ts', 'src/model/types.ts'];

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(new URL(file, ROOT), 'utf8'), ts.ScriptTarget.ES2022, true);
}

/** The doc comments right before a node, as one line. */
function docOf(node: ts.Node, sf: ts.SourceFile): string {
  const ranges = ts.getLeadingCommentRanges(sf.text, node.getFullStart()) ?? [];
  return ranges
    .map((r) => sf.text.slice(r.pos, r.end))
    .filter((c) => c.startsWith('/**'))
    .map((c) =>
      c
        .slice(3, -2)
        .split('\n')
        .map((l) => l.replace(/^\s*\*\s?/, '').trim())
        .filter((l) => l !== '')
        .join(' '),
    )
    .join(' ')
    .replace(/\{@link ([^}]+)\}/g, '`$1`');
}

/** A type as written, on one line, without `readonly`. */
function typeText(node: ts.Node | undefined, sf: ts.SourceFile): string {
  if (!node) return 'unknown';
  return node.getText(sf).replace(/\s+/g, ' ').replace(/\breadonly /g, '').replace(/; }/g, ' }');
}

/** Escapes a text for a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

interface Declaration {
  readonly node: ts.InterfaceDeclaration | ts.TypeAliasDeclaration;
  readonly sf: ts.SourceFile;
  readonly file: string;
}

function declarations(files: readonly string[], dialect: Dialect): Map<string, Declaration> {
  const map = new Map<string, Declaration>();
  for (const file of files) {
    // Each dialect's own files; the shared files for both.
    if (/^src\/render\/(haproxy|nginx)\//.test(file) && !file.startsWith(`src/render/${dialect}/`)) continue;
    const sf = parse(file);
    for (const st of sf.statements) {
      if ((ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st)) && !map.has(st.name.text)) map.set(st.name.text, { node: st, sf, file });
    }
  }
  return map;
}

/** The names of the type references inside a node. */
function referencedTypes(node: ts.Node): string[] {
  const names: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isTypeReferenceNode(n) && ts.isIdentifier(n.typeName)) names.push(n.typeName.text);
    ts.forEachChild(n, visit);
  };
  visit(node);
  return names;
}

/** The view types a dialect's templates receive: its root view and every type it refers to, in order. */
export function viewTypes(dialect: Dialect): { name: string; doc: string; file: string; fields: { name: string; type: string; doc: string }[]; alias: string | null }[] {
  const decls = declarations(SOURCES, dialect);
  const order: string[] = [];
  const queue = [VIEW_ROOT[dialect]];
  while (queue.length > 0) {
    const name = queue.shift() ?? '';
    const decl = decls.get(name);
    if (!decl || order.includes(name)) continue;
    order.push(name);
    queue.push(...referencedTypes(decl.node));
  }
  return order.map((name) => {
    const decl = decls.get(name);
    if (!decl) throw new Error(`no declaration of ${name}`);
    const { node, sf, file } = decl;
    if (ts.isTypeAliasDeclaration(node)) return { name, doc: docOf(node, sf), file, fields: [], alias: typeText(node.type, sf) };
    const fields = node.members.filter(ts.isPropertySignature).flatMap((m) => {
      const field = m.name.getText(sf);
      const type = m.type;
      // An inline object type: one row per field (`files.routes`), with their own doc comments.
      if (type && ts.isTypeLiteralNode(type)) {
        const inner = type.members.filter(ts.isPropertySignature).map((c) => ({ name: `${field}.${c.name.getText(sf)}`, type: typeText(c.type, sf), doc: docOf(c, sf) }));
        return [{ name: field, type: 'object', doc: docOf(m, sf) }, ...inner];
      }
      return [{ name: field, type: typeText(type, sf), doc: docOf(m, sf) }];
    });
    return { name, doc: docOf(node, sf), file, fields, alias: null };
  });
}

/** The helpers of a dialect's helper table: call form and what each emits, from quote.ts. */
export function helperDocs(dialect: Dialect): { name: string; call: string; accepts: string; emits: string }[] {
  const sf = parse(`src/render/${dialect}/quote.ts`);
  const functions = new Map<string, ts.FunctionDeclaration>();
  let table: ts.ObjectLiteralExpression | undefined;
  for (const st of sf.statements) {
    if (ts.isFunctionDeclaration(st) && st.name) functions.set(st.name.text, st);
    if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) {
        if (d.name.getText(sf) !== `${dialect}Helpers` || !d.initializer) continue;
        const init = ts.isAsExpression(d.initializer) ? d.initializer.expression : d.initializer;
        if (ts.isObjectLiteralExpression(init)) table = init;
      }
    }
  }
  if (!table) throw new Error(`no ${dialect}Helpers table in quote.ts`);
  const names = Object.keys(HELPER_TABLES[dialect]);
  const accepts = ACCEPTS[dialect];
  for (const name of Object.keys(accepts)) if (!names.includes(name)) throw new Error(`ACCEPTS names ${dialect} helper ${name}, which does not exist`);
  return table.properties.map((p) => {
    const name = p.name?.getText(sf) ?? '';
    let target: string;
    let params: readonly ts.ParameterDeclaration[];
    if (ts.isShorthandPropertyAssignment(p)) {
      target = name;
      params = functions.get(target)?.parameters ?? [];
    } else if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.initializer)) {
      target = p.initializer.text;
      params = functions.get(target)?.parameters ?? [];
    } else if (ts.isPropertyAssignment(p) && ts.isArrowFunction(p.initializer) && ts.isCallExpression(p.initializer.body) && ts.isIdentifier(p.initializer.body.expression)) {
      // `int: (v: unknown) => int(v)`: the arguments a template passes, named as the function names them.
      target = p.initializer.body.expression.text;
      params = (functions.get(target)?.parameters ?? []).slice(0, p.initializer.parameters.length);
    } else {
      throw new Error(`${dialect} helper ${name}: cannot read its definition`);
    }
    const fn = functions.get(target);
    if (!fn) throw new Error(`${dialect} helper ${name}: no function ${target} in quote.ts`);
    const accept = accepts[name];
    if (accept === undefined) throw new Error(`${dialect} helper ${name}: say what it accepts in ACCEPTS (scripts/templates-reference.ts)`);
    const call = `{{${[name, ...params.map((q) => q.name.getText(sf))].join(' ')}}}`;
    return { name, call, accepts: accept, emits: docOf(fn, sf) };
  });
}

/** The template files of a dialect on disk, relative to templates/ (main file, then partials). */
export function templateFilesOnDisk(dialect: Dialect): string[] {
  const dir = fileURLToPath(new URL(`templates/${dialect}/`, ROOT));
  const main = dialect === 'haproxy' ? 'haproxy.cfg.hbs' : 'nginx.conf.hbs';
  return [main, ...readdirSync(dir).filter((f) => f.endsWith('.hbs')).sort().map((f) => `${dialect}/${f}`)];
}

function dialectSection(dialect: Dialect, title: string): string[] {
  const uses = TEMPLATES[dialect];
  const onDisk = templateFilesOnDisk(dialect);
  for (const f of onDisk) if (!(f in uses)) throw new Error(`templates/${f} is not described in TEMPLATES (scripts/templates-reference.ts)`);
  for (const f of Object.keys(uses)) if (!onDisk.includes(f)) throw new Error(`TEMPLATES names templates/${f}, which does not exist`);
  const types = viewTypes(dialect);
  const lines = [
    `## ${title}`,
    '',
    '### Files',
    '',
    '| File | Receives (`this`) | Used by |',
    '| --- | --- | --- |',
    ...Object.entries(uses).map(([f, u]) => `| \`${f}\` | [\`${u.receives}\`](#${u.receives.toLowerCase()}) | ${u.from} |`),
  ];
  if (dialect === 'haproxy') {
    lines.push('', '`haproxy/passerelle.lua` is not a template: it is copied as it is next to the configuration (`lua-load {{file files.lua}}`); a file of the same name in your folder replaces it.');
  }
  lines.push('', '### View fields', '', `Read from \`${types[0]?.file ?? ''}\`. Durations are in milliseconds; \`null\` fields are tested with \`{{#if}}\`.`, '');
  for (const t of types) {
    lines.push(`#### ${t.name}`, '');
    if (t.doc !== '') lines.push(t.doc, '');
    if (t.alias !== null) {
      lines.push('```ts', `type ${t.name} = ${t.alias.replace(/^\| /, '')};`, '```', '');
      continue;
    }
    lines.push('| Field | Type | Meaning |', '| --- | --- | --- |');
    for (const f of t.fields) lines.push(`| \`${f.name}\` | \`${cell(f.type)}\` | ${cell(f.doc)} |`);
    lines.push('');
  }
  lines.push(
    '### Helpers',
    '',
    `From \`${dialect}Helpers\` in \`src/render/${dialect}/quote.ts\`. A value a helper does not accept stops the rendering with \`PASS_RENDER_UNSAFE_VALUE\`.`,
    '',
    '| Helper | Accepts | Emits |',
    '| --- | --- | --- |',
    ...helperDocs(dialect).map((h) => `| \`${cell(h.call)}\` | ${cell(h.accepts)} | ${cell(h.emits)} |`),
    '',
  );
  return lines;
}

/** docs/templates.md as generated from the templates folder, the view interfaces and the helper tables. */
export function templatesReference(): string {
  return [
    '# Templates',
    '',
    'Generated from `templates/`, `src/render/*/view.ts` and `src/render/*/quote.ts` by `node scripts/templates-doc.ts`; a unit test fails when it is out of date.',
    '',
    'In `haproxy` and `nginx` modes Passerelle renders the proxy configuration from [Handlebars](https://handlebarsjs.com/) templates.',
    'To change it, set a folder in the configuration ([configuration.md](configuration.md)):',
    '',
    '```toml',
    '[proxy]',
    'templates = "/etc/passerelle/templates"',
    '```',
    '',
    'A file of that folder replaces the built-in file of the same name: `haproxy.cfg.hbs` or `nginx.conf.hbs` (the main file),',
    '`haproxy/NAME.hbs` or `nginx/NAME.hbs` (a partial, included with `{{> NAME}}`; a new name adds a partial). Files you do not',
    'provide stay the built-in ones, so copy only what you change from [`templates/`](../templates/). The folder is watched, and the',
    'proxy validates the rendered file before it replaces the running one (`passerelle render --diff` shows the result first).',
    '',
    '## Rules',
    '',
    '- **Every value goes through a helper.** A view field is never written bare: `{{name name}}`, `{{file files.routes}}`,',
    '  `{{addr bindHost bindPort}}`, `{{q realm}}`. A helper either writes the value in a form the proxy reads literally or stops the',
    '  rendering with `PASS_RENDER_UNSAFE_VALUE`; it never "cleans" a value into another one. Fields only used in conditions',
    '  (`{{#if tls}}`, `{{#each servers}}`) need none.',
    '- Templates are compiled in strict mode (a field that does not exist is an error, `PASS_TEMPLATE_ERROR`, naming the file) and',
    '  without HTML escaping. Each dialect has its own Handlebars instance with only its own helpers.',
    '- Besides the built-in blocks (`#if`, `#unless`, `#each`, `#with`, `@root`, `@index`, `this`), both dialects have two helpers that',
    '  write nothing themselves: `(eq a b)`, true when `a === b`, for conditions; and `(join a b ...)`, the texts glued together,',
    '  whose result must still pass a quoting helper: `{{file (join @root.files.errors "/502.http")}}`.',
    '- Inside `{{#each}}` the fields are those of the element; the root view stays reachable as `@root` (`@root.files.crtList`).',
    '',
    ...dialectSection('haproxy', 'HAProxy'),
    ...dialectSection('nginx', 'nginx'),
  ].join('\n');
}
