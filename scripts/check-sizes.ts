/**
 * Fails when a function in `src/` runs over 80 lines or a class over 300 (issue 13: code that fits on a
 * screen). Lines are counted from the declaration's first line to its last, blank lines and comments included,
 * as a reader scrolls them. `npm run lint` runs it; `--report` lists the largest ones without failing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const MAX_FUNCTION_LINES = 80;
const MAX_CLASS_LINES = 300;
const ROOT = join(__dirname, '..');

interface Measured {
  kind: 'function' | 'class';
  where: string;
  name: string;
  lines: number;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function nameOf(node: ts.Node, file: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(file);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(file);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(file);
  if (parent && ts.isPropertyDeclaration(parent)) return parent.name.getText(file);
  return '(anonymous)';
}

/** A class, or a function with a body (an overload's or an interface's signature has none). */
function kindOf(node: ts.Node): Measured['kind'] | null {
  if (ts.isClassLike(node)) return 'class';
  if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body !== undefined) return 'function';
  return null;
}

function measure(path: string): Measured[] {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Measured[] = [];
  const visit = (node: ts.Node): void => {
    const kind = kindOf(node);
    if (kind) {
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({
        kind,
        where: `${relative(ROOT, path)}:${first + 1}`,
        name: nameOf(node, file),
        lines: last - first + 1,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

const report = process.argv.includes('--report');
const measured = sourceFiles(join(ROOT, 'src')).flatMap(measure);
const tooLong = measured.filter(
  (item) => item.lines > (item.kind === 'class' ? MAX_CLASS_LINES : MAX_FUNCTION_LINES),
);
if (report) {
  for (const kind of ['class', 'function'] as const) {
    const largest = measured.filter((item) => item.kind === kind).sort((a, b) => b.lines - a.lines);
    console.log(`largest ${kind}es:`.replace('functiones', 'functions'));
    for (const item of largest.slice(0, 15)) console.log(`  ${item.lines}\t${item.name}\t${item.where}`);
  }
}
for (const item of tooLong) {
  const limit = item.kind === 'class' ? MAX_CLASS_LINES : MAX_FUNCTION_LINES;
  console.error(`${item.where}: ${item.kind} ${item.name} has ${item.lines} lines (at most ${limit})`);
}
if (tooLong.length > 0 && !report) process.exit(1);
