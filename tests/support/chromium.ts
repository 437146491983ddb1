import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { projectRoot } from './model-issue.js';

/** Debian's Chromium (`apt-get install -y chromium`; .ci/run installs it); never a downloaded one. */
export const CHROMIUM = '/usr/bin/chromium';

/** Screenshots the browser tests keep for people to look at (ignored by git). */
export function artifactsDir(area: string): string {
  const dir = path.join(projectRoot, 'test-artifacts', area);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Headless Chromium for tests. Without the background-networking flags Chromium keeps trying to
 * reach Google's hosts, which this closed network refuses.
 */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
