import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Debian's SpamAssassin (`apt-get install -y spamassassin`; .ci/run installs it). */
export const SPAMASSASSIN = '/usr/bin/spamassassin';

/** Whether SpamAssassin is installed; absent: one line says so, and with `CI` set it is an error. */
export function spamAssassinPresent(): boolean {
  if (existsSync(SPAMASSASSIN)) return true;
  if (process.env.CI) throw new Error(`${SPAMASSASSIN} missing: apt-get install -y spamassassin`);
  console.log(`skipped: ${SPAMASSASSIN} is absent (apt-get install -y spamassassin)`);
  return false;
}

export interface SpamVerdict {
  score: number;
  /** The rules that hit, e.g. HTML_MESSAGE. */
  tests: string[];
}

/** Messages as one mboxrd file ("From " lines in bodies quoted), LF line ends. */
function mbox(messages: Buffer[]): string {
  return messages
    .map((m) => {
      const body = m
        .toString('latin1')
        .replace(/\r\n/g, '\n')
        .replace(/^(>*From )/gm, '>$1');
      return `From gazette@localhost Thu Jan  1 00:00:00 1970\n${body.endsWith('\n') ? body : `${body}\n`}\n`;
    })
    .join('');
}

/** One spamassassin process over an mbox of messages. */
async function scoreMbox(messages: Buffer[], home: string): Promise<SpamVerdict[]> {
  // Bayes off: it is untrained here, and its autolearning writes a database per run.
  const args = ['-L', '--mbox', '--cf=use_bayes 0', '--cf=bayes_auto_learn 0'];
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(SPAMASSASSIN, args, { env: { ...process.env, HOME: home } });
    const chunks: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(chunks).toString('latin1'))
        : reject(new Error(`spamassassin ${code}: ${err}`)),
    );
    child.stdin.end(mbox(messages), 'latin1');
  });
  const verdicts = [
    ...out.matchAll(/^X-Spam-Status: \w+, score=(-?[\d.]+) required=[\d.]+ tests=([\s\S]*?)autolearn=/gm),
  ].map((m) => ({ score: Number(m[1]), tests: (m[2] ?? '').split(/[\s,]+/).filter(Boolean) }));
  if (verdicts.length !== messages.length)
    throw new Error(`spamassassin scored ${verdicts.length} of ${messages.length} messages`);
  return verdicts;
}

/**
 * Scores messages with local rules only (`spamassassin -L`: no DNS, no network tests), a few
 * processes each taking a share of the messages as one mbox. Verdicts come back in the order given.
 */
export async function spamScores(messages: Buffer[], processes = 2): Promise<SpamVerdict[]> {
  const home = mkdtempSync(path.join(tmpdir(), 'gazette-sa-'));
  const size = Math.ceil(messages.length / processes);
  const shares: Buffer[][] = [];
  for (let i = 0; i < messages.length; i += size) shares.push(messages.slice(i, i + size));
  return (await Promise.all(shares.map((share) => scoreMbox(share, home)))).flat();
}
