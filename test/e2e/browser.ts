// Debian's Chromium driven by playwright-core (no browser download): headless, sandbox off (CI runs as root),
// a fresh profile per run.
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = process.env.GLANCE_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is needed for the end-to-end tests: apt-get install -y chromium (looked for ${CHROMIUM})`,
    );
  }
  const profile = await mkdtemp(path.join(os.tmpdir(), 'glance-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
