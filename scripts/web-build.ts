/**
 * `npm run web:build [-- out-dir]`: writes the billing page (web/) as static files to dist/web, ready for any
 * static host or CDN (or for the service itself with BILLING_PAGE=on in production). The same compilation the
 * service runs on each request in development.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { compileBillingPage, projectRoot } from '../src/http/billing-page-files';

function main(): void {
  const root = projectRoot(__dirname);
  const out = resolve(root, process.argv[2] ?? join('dist', 'web'));
  // Written beside, then swapped in: a server reading dist/web never sees half a page.
  const staging = `${out}.partial-${process.pid}`;
  const files = compileBillingPage(root);
  for (const file of files) {
    const target = join(staging, file.path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.body);
  }
  rmSync(out, { recursive: true, force: true });
  renameSync(staging, out);
  const bytes = files.reduce((sum, file) => sum + Buffer.byteLength(file.body), 0);
  console.log(`billing page: ${files.length} files, ${(bytes / 1024).toFixed(1)} KB in ${out}`);
}

main();
