/// <reference lib="dom" />
// axe-core run inside a page that playwright-core drives: the script is evaluated through the DevTools protocol,
// which the page's CSP (script-src 'self') does not govern, and its results come back as plain data.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { repoRoot } from '../fixtures/repo.ts';

const AXE_SOURCE = readFileSync(path.join(repoRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  /** CSS selectors of the first few elements at fault. */
  targets: string[];
}

/** Rules that fail the suite at any impact: the ones issue 10 fixed, so that they stay fixed. */
export const ALWAYS_FAIL = new Set([
  'heading-order',
  'landmark-one-main',
  'page-has-heading-one',
  'scrollable-region-focusable',
  'color-contrast',
]);

/** Every WCAG 2.x A/AA and best-practice violation axe finds in the page as it is now. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is the script evaluated above, untyped in the page
    const axe = (window as any).axe;
    const r = await axe.run(document, {
      resultTypes: ['violations'],
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    });
    // biome-ignore lint/suspicious/noExplicitAny: axe's result shape
    return r.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      // biome-ignore lint/suspicious/noExplicitAny: axe's node shape
      targets: v.nodes.slice(0, 4).map((n: any) => n.target.join(' ')),
    }));
  });
}

/** The violations that fail a test: serious or critical ones, and any of ALWAYS_FAIL. */
export const failing = (all: AxeViolation[]) =>
  all.filter((v) => v.impact === 'serious' || v.impact === 'critical' || ALWAYS_FAIL.has(v.id));

export const describeViolations = (all: AxeViolation[]) =>
  all.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`);

/**
 * Checks the page in both colour schemes; returns every violation found (for the figures) and leaves the page in
 * the light scheme.
 */
export async function axeBothSchemes(page: Page): Promise<Record<'light' | 'dark', AxeViolation[]>> {
  const out = { light: [] as AxeViolation[], dark: [] as AxeViolation[] };
  for (const scheme of ['dark', 'light'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    out[scheme] = await axeViolations(page);
  }
  return out;
}
