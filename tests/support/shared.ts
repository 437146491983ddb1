import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { getCurrentSuite } from 'vitest/suite';
import { projectRoot } from './model-issue.js';

/**
 * Files the repo does not hold but tests read from `../shared` beside the project: the user's model
 * newsletter (never copied into the repo) and third-party conformance cases (their licences).
 *
 *   const model = sharedFixture(MODEL_DOCUMENT);               // at the top of a test file
 *   describe.skipIf(!model.present)('…', () => { … model.read() … });
 *
 * Absent on a newcomer's clone: the file shows ONE skipped line naming what is missing and where it
 * is expected (no hooks run for the skipped suites). Absent with `CI` set: the file fails, since CI
 * always has ../shared and a silent skip there would hide lost coverage.
 */
export const SHARED_DIR = path.resolve(projectRoot, '../shared');
export const MODEL_DOCUMENT = 'reference/sample-issue-2025-07.md';
export const FEEDPARSER_SANITIZE = 'conformance/feedparser-sanitize';

export interface SharedFixture {
  /** Absolute path (a file or a folder). */
  path: string;
  present: boolean;
  /** Reads the file, or `name` inside the folder, as UTF-8. */
  read(name?: string): string;
}

const inCi = () => {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
};

export function sharedFixture(relative: string): SharedFixture {
  const abs = path.join(SHARED_DIR, relative);
  const present = existsSync(abs);
  const shown = `../shared/${relative}`;
  if (!present) {
    const where = `absent: expected at ${abs}`;
    if (inCi())
      throw new Error(`${shown} is ${where} (CI is set, and CI must have ../shared beside the project)`);
    // A statically skipped entry carrying a note: vitest prints it as one line, and runs no hooks.
    const task = getCurrentSuite().task(shown, { skip: true });
    // `note` is what ctx.skip(note) sets at run time; the reporters print it beside the name.
    task.result = { state: 'skip', note: `${where}; tests that read it are skipped` } as typeof task.result;
  }
  return {
    path: abs,
    present,
    read: (name) => readFileSync(name ? path.join(abs, name) : abs, 'utf8'),
  };
}
