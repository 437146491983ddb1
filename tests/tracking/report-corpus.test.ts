import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReport } from '../../src/tracking/report-parse.js';
import { projectRoot } from '../support/model-issue.js';

/**
 * Our own corpus (tests/fixtures/bounces/<family>/*.eml, written from the RFCs and each MTA's
 * published layout) with what each message is: its kind, and each failed recipient's address and
 * reason. The figures by family print at the end.
 */
interface Expected {
  kind: string;
  recipients: { address: string; reason: string }[];
  feedbackType?: string;
}

const dir = path.join(projectRoot, 'tests/fixtures/bounces');
const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Record<
  string,
  Expected
>;
const figures = new Map<string, { files: number; recognised: number; recipient: number; reason: number }>();

describe('bounce corpus', () => {
  it('has an expectation for every fixture and a fixture for every expectation', () => {
    const files = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) => readdirSync(path.join(dir, d.name)).map((f) => `${d.name}/${f}`));
    expect(files.sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s', async (file, want) => {
    const report = await parseReport(readFileSync(path.join(dir, file)));
    const family = file.split('/')[0] as string;
    const f = figures.get(family) ?? { files: 0, recognised: 0, recipient: 0, reason: 0 };
    figures.set(family, f);
    f.files++;
    const got =
      report.kind === 'complaint'
        ? [{ address: report.originalRcptTo ?? '', reason: 'complaint' }]
        : report.recipients
            .filter((r) => r.action === 'failed')
            .map((r) => ({ address: r.address ?? '', reason: r.reason }));
    if (report.kind === want.kind) f.recognised++;
    const sameAddresses = got.map((g) => g.address).join() === want.recipients.map((r) => r.address).join();
    if (report.kind === want.kind && sameAddresses) f.recipient++;
    if (report.kind === want.kind && JSON.stringify(got) === JSON.stringify(want.recipients)) f.reason++;

    expect({ kind: report.kind, recipients: got }).toEqual({ kind: want.kind, recipients: want.recipients });
    if (want.feedbackType) expect(report.feedbackType).toBe(want.feedbackType);
    for (const r of report.recipients)
      expect(r.hard).toBe(
        r.action === 'failed' &&
          ['user_unknown', 'host_unknown', 'has_moved', 'not_accepted'].includes(r.reason),
      );
  });
});

afterAll(() => {
  const rows = [...figures].sort(([a], [b]) => a.localeCompare(b));
  const total = rows.reduce(
    (t, [, f]) => ({
      files: t.files + f.files,
      recognised: t.recognised + f.recognised,
      recipient: t.recipient + f.recipient,
      reason: t.reason + f.reason,
    }),
    { files: 0, recognised: 0, recipient: 0, reason: 0 },
  );
  const line = (name: string, f: typeof total) =>
    `${name.padEnd(16)} ${String(f.files).padStart(3)} files  recognised ${f.recognised}/${f.files}  right recipient ${f.recipient}/${f.files}  right reason ${f.reason}/${f.files}`;
  console.log(
    ['bounce corpus by family:', ...rows.map(([n, f]) => line(n, f)), line('total', total)].join('\n'),
  );
});
