import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve } from 'node:path';

/** One file of the billing page, by its path under `/billing/` (e.g. `main.js`, `vendor/graphql-ws/client.js`). */
export interface PageFile {
  path: string;
  contentType: string;
  body: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** The folder holding package.json: the repository in development, the deployed app in production. */
export function projectRoot(from = __dirname): string {
  let folder = from;
  while (!existsSync(join(folder, 'package.json'))) {
    const parent = dirname(folder);
    if (parent === folder) throw new Error(`no package.json above ${from}`);
    folder = parent;
  }
  return folder;
}

function file(path: string, body: string): PageFile {
  return { path, body, contentType: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream' };
}

/**
 * Modules of `src/` the page shares with the service: the specifier `web/src` imports each with, and where the
 * page serves it. Each is one file importing nothing, so the browser runs it as it is.
 */
const SHARED_MODULES = [
  { source: join('src', 'money', 'index.ts'), specifier: '../../src/money/index.js', path: 'money/index.js' },
];

/**
 * The page compiled from `web/`: each `web/src/*.ts` becomes an ES module (`main.js`, …) with swc, the shared
 * modules of `src/` are compiled beside them, and the browser build of graphql-ws is copied to
 * `vendor/graphql-ws/` (the page's import map points there). Modules are not bundled: the browser loads the few
 * files itself. Needs `@swc/core` (a development dependency), so only development, the tests and
 * `npm run web:build` call it.
 */
export function compileBillingPage(root = projectRoot()): PageFile[] {
  const web = join(root, 'web');
  const files = [
    file('index.html', readFileSync(join(web, 'index.html'), 'utf8')),
    file('billing.css', readFileSync(join(web, 'billing.css'), 'utf8')),
  ];
  for (const name of readdirSync(join(web, 'src'))
    .filter((entry) => entry.endsWith('.ts'))
    .sort())
    files.push(
      file(
        name.replace(/\.ts$/, '.js'),
        pointAtSharedModules(`web/src/${name}`, compileModule(join(web, 'src', name))),
      ),
    );
  for (const shared of SHARED_MODULES)
    files.push(
      file(shared.path, pointAtSharedModules(shared.source, compileModule(join(root, shared.source)))),
    );
  // graphql-ws's browser entry and the chunks it imports (their names carry a content hash).
  const vendor = join(root, 'node_modules', 'graphql-ws', 'dist');
  const client = readFileSync(join(vendor, 'client.js'), 'utf8');
  files.push(file('vendor/graphql-ws/client.js', client));
  for (const [, chunk] of client.matchAll(/from '\.\/([\w-]+\.js)'/g))
    files.push(file(`vendor/graphql-ws/${chunk}`, readFileSync(join(vendor, chunk), 'utf8')));
  return dedupe(files);
}

function compileModule(path: string): string {
  // Loaded here, not at the top: production installs may not have development dependencies.
  const swc = require('@swc/core') as typeof import('@swc/core');
  return swc.transformFileSync(path, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
    sourceMaps: false,
    swcrc: false,
    configFile: false,
  }).code;
}

/**
 * `'../../src/money/index.js'` becomes `'./money/index.js'`; any other import out of the page's folder is a
 * mistake, caught here rather than as a 404 in the browser.
 */
function pointAtSharedModules(source: string, code: string): string {
  let pointed = code;
  for (const shared of SHARED_MODULES)
    pointed = pointed.split(`'${shared.specifier}'`).join(`'./${shared.path}'`);
  const stray = /from '(\.\.\/[^']*)'/.exec(pointed);
  if (stray)
    throw new Error(
      `${source} imports ${stray[1]}, which the billing page does not serve: see SHARED_MODULES`,
    );
  return pointed;
}

/** Changes whenever a source file of the page is edited, added or removed. */
export function sourceVersion(root = projectRoot()): string {
  const web = join(root, 'web');
  const sources = [join(web, 'index.html'), join(web, 'billing.css')];
  for (const name of readdirSync(join(web, 'src'))) sources.push(join(web, 'src', name));
  for (const shared of SHARED_MODULES) sources.push(join(root, shared.source));
  return sources.map((path) => `${path}:${statSync(path).mtimeMs}`).join('|');
}

/** The page as `npm run web:build` wrote it (production). */
export function readBuiltBillingPage(folder: string): PageFile[] {
  const files: PageFile[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push(file(relative(folder, full).split('\\').join('/'), readFileSync(full, 'utf8')));
    }
  };
  walk(resolve(folder));
  return files;
}

function dedupe(files: PageFile[]): PageFile[] {
  return [...new Map(files.map((entry) => [entry.path, entry])).values()];
}
