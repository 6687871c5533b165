/**
 * The import graphs in docs/architecture.md, drawn by dependency-cruiser from the code itself (the same tool and
 * rules `npm run lint` enforces), so the picture cannot drift from the code: `npm run docs:graph` writes them
 * between their markers, `npm run docs:graph -- --check` (in `npm run lint`) fails when they are stale.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const DOCUMENT = join(ROOT, 'docs', 'architecture.md');

interface Graph {
  /** The marker's name in the document: `<!-- graph:NAME -->` … `<!-- /graph:NAME -->`. */
  name: string;
  /** Which modules the graph shows. */
  includeOnly: string;
  /** Modules matching this are drawn as one node (a folder). */
  collapse: string;
}

const GRAPHS: readonly Graph[] = [
  { name: 'layers', includeOnly: '^src/', collapse: '^src/[^/]+' },
  { name: 'services', includeOnly: '^src/services/', collapse: '^src/services/[^/]+' },
  { name: 'webhooks', includeOnly: '^src/webhooks/', collapse: '^src/webhooks/[^/]+' },
];

function mermaidOf(graph: Graph): string {
  const output = execFileSync(
    join(ROOT, 'node_modules', '.bin', 'depcruise'),
    [
      'src',
      '--config',
      '.dependency-cruiser.cjs',
      '--include-only',
      graph.includeOnly,
      '--collapse',
      graph.collapse,
      '--output-type',
      'mermaid',
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  return output.trim();
}

function withGraph(document: string, graph: Graph, mermaid: string): string {
  const start = `<!-- graph:${graph.name} -->`;
  const end = `<!-- /graph:${graph.name} -->`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`docs/architecture.md has no ${start} … ${end} markers`);
  return `${document.slice(0, from + start.length)}\n\`\`\`mermaid\n${mermaid}\n\`\`\`\n${document.slice(to)}`;
}

function main(): void {
  const check = process.argv.includes('--check');
  const current = readFileSync(DOCUMENT, 'utf8');
  const drawn = GRAPHS.reduce((document, graph) => withGraph(document, graph, mermaidOf(graph)), current);
  if (!check) {
    writeFileSync(DOCUMENT, drawn);
    return;
  }
  if (drawn !== current) {
    console.error('docs/architecture.md: the import graphs are stale; run `npm run docs:graph` and commit.');
    process.exit(1);
  }
}

main();
