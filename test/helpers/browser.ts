import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from './service.js';

/** Where browser tests leave their screenshots (ignored by git). */
export const TEST_RESULTS = join(REPO_ROOT, 'test-results');

/** Debian's chromium, the one browser the tests drive (never a downloaded one). */
export function chromiumPath(): string | undefined {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Under CI a missing browser fails the suite (`.ci/run` installs it); elsewhere it skips. */
export function browserAvailable(): boolean {
  const found = chromiumPath() !== undefined;
  if (!found && process.env['CI'] === 'true')
    throw new Error('CI needs Debian chromium (apt-get install -y chromium)');
  return found;
}

export function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('no chromium on the PATH');
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** What a page printed as errors: console errors and uncaught exceptions, as they come. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page: ${error.message}`));
  return errors;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(TEST_RESULTS, { recursive: true });
  await page.screenshot({ path: join(TEST_RESULTS, `${name}.png`), fullPage: true });
}
