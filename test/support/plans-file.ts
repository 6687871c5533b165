import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The real plans/plans.yaml, edited for one case of the catalog's validation tests: each edit must apply (so no case
 * tests the real file by accident), each variant is written to a file of its own, removed after the test file.
 */
export const REAL_PLANS_FILE = 'plans/plans.yaml';
export const realPlans = readFileSync(REAL_PLANS_FILE, 'utf8');

const directory = mkdtempSync(join(tmpdir(), 'plans-variant-'));
let written = 0;
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** The real file (or `text`) with one edit; fails loudly if the edit no longer applies. */
export function edited(search: string | RegExp, replacement: string, text = realPlans): string {
  const result = text.replace(search, replacement);
  if (result === text) throw new Error(`the edit ${String(search)} did not apply to plans.yaml`);
  return result;
}

/** The 1-based line of the first line containing `needle` (at or after the line containing `after`, when given). */
export function lineOf(text: string, needle: string, after?: string): number {
  const lines = text.split('\n');
  const start = after ? lines.findIndex((line) => line.includes(after)) : 0;
  const index = lines.findIndex((line, position) => position >= start && line.includes(needle));
  if (index < 0) throw new Error(`no line contains ${needle}`);
  return index + 1;
}

/** Writes a variant of the file; answers its path. */
export function writeVariant(text: string): string {
  written += 1;
  const path = join(directory, `plans-${written}.yaml`);
  writeFileSync(path, text);
  return path;
}
