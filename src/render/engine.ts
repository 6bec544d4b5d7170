import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { PassError } from '../shared/errors.ts';

/** A main template and its partials, by name (file name without `.hbs`). */
export interface TemplateSet {
  readonly main: string;
  readonly partials: Readonly<Record<string, string>>;
  /** Where each template was read from, for error messages. */
  readonly origin: Readonly<Record<string, string>>;
  /** Files copied as they are next to the configuration (`haproxy/NAME.lua`), by file name. */
  readonly assets: Readonly<Record<string, string>>;
}

/** The templates shipped with Passerelle. */
export const BUILTIN_TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));

const MAIN_FILE = { haproxy: 'haproxy.cfg.hbs', nginx: 'nginx.conf.hbs' } as const;

/** The file names of a dialect's main template and partial folder. */
export function templateFiles(dialect: 'haproxy' | 'nginx'): { main: string; partialsDir: string } {
  return { main: MAIN_FILE[dialect], partialsDir: dialect };
}

function readPartials(dir: string, into: Record<string, string>, origin: Record<string, string>, assets: Record<string, string>): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith('.lua')) assets[f] = readFileSync(path.join(dir, f), 'utf8');
    if (!f.endsWith('.hbs')) continue;
    const file = path.join(dir, f);
    into[f.slice(0, -4)] = readFileSync(file, 'utf8');
    origin[f.slice(0, -4)] = file;
  }
}

/**
 * Reads a dialect's templates: the built-in ones, each overridden by a file of the same name in
 * `overrideDir` (`haproxy.cfg.hbs`, `haproxy/NAME.hbs`; `nginx.conf.hbs`, `nginx/NAME.hbs`). Lua files of the partial
 * folder (`haproxy/passerelle.lua`) are assets, written as they are.
 */
export function loadTemplates(dialect: 'haproxy' | 'nginx', overrideDir?: string, builtinDir: string = BUILTIN_TEMPLATES): TemplateSet {
  const { main, partialsDir } = templateFiles(dialect);
  const partials: Record<string, string> = {};
  const origin: Record<string, string> = {};
  const assets: Record<string, string> = {};
  readPartials(path.join(builtinDir, partialsDir), partials, origin, assets);
  let mainFile = path.join(builtinDir, main);
  if (overrideDir !== undefined) {
    if (!existsSync(overrideDir)) throw new PassError('PASS_TEMPLATES_MISSING', `template directory ${overrideDir} does not exist`, { field: 'proxy.templates' });
    readPartials(path.join(overrideDir, partialsDir), partials, origin, assets);
    if (existsSync(path.join(overrideDir, main))) mainFile = path.join(overrideDir, main);
  }
  origin['main'] = mainFile;
  return { main: readFileSync(mainFile, 'utf8'), partials, origin, assets };
}

/** Helpers a dialect registers: each quotes one kind of value or throws. */
export type HelperTable = Readonly<Record<string, (...args: never[]) => string>>;

/**
 * Compiles a template set in a Handlebars instance of its own: HTML escaping off (`noEscape`),
 * strict (a missing field throws), and only this dialect's quoting helpers.
 */
export function compileTemplates(set: TemplateSet, helpers: HelperTable): (view: object) => string {
  const hb = Handlebars.create();
  for (const [name, fn] of Object.entries(helpers)) hb.registerHelper(name, fn as unknown as Handlebars.HelperDelegate);
  // Glues strings (e.g. a directory and a file name); the result still goes through a quoting helper.
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('join', (...args: unknown[]) => args.slice(0, -1).map(String).join(''));
  // Handlebars compiles lazily: parse every template now, so a syntax error names its file up front.
  const parse = (name: string, text: string): void => {
    try {
      hb.parse(text);
    } catch (err) {
      throw new PassError('PASS_TEMPLATE_ERROR', `template ${set.origin[name] ?? name}: ${(err as Error).message}`, { cause: err });
    }
  };
  parse('main', set.main);
  for (const [name, text] of Object.entries(set.partials)) {
    parse(name, text);
    hb.registerPartial(name, hb.compile(text, { noEscape: true, strict: true }));
  }
  const main = hb.compile(set.main, { noEscape: true, strict: true });
  return (view: object): string => {
    try {
      return main(view);
    } catch (err) {
      if (err instanceof PassError) throw err;
      throw new PassError('PASS_TEMPLATE_ERROR', `template ${set.origin['main'] ?? 'main'}: ${(err as Error).message}`, { cause: err });
    }
  };
}
