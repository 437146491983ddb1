import type { Locale } from '../db/schema.js';
import type { RenderFn } from './check.js';
import { loadRenderableIssue } from './load.js';
import { type EditorialDeps, EditorialInputError, writeAudit } from './store.js';

export type SendMailFn = (msg: { to: string; subject: string; html: string; text: string }) => Promise<void>;

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/**
 * Sends the issue (all sections, or the given ones) to a few given addresses, marked as a test.
 * Goes around the ledger on purpose: no delivery rows, no subscribers, no tracking.
 */
export async function testSend(
  deps: EditorialDeps & { render: RenderFn; sendMail: SendMailFn },
  issueId: number,
  addresses: string[],
  opts: { sectionKeys?: string[]; locale?: Locale; actor?: string } = {},
): Promise<{ sent: number; subject: string }> {
  const to = [...new Set(addresses.map((a) => a.trim()).filter(Boolean))];
  if (!to.length)
    throw new EditorialInputError('Give at least one address for the test send', 'test-no-address');
  const bad = to.filter((a) => !ADDRESS.test(a));
  if (bad.length)
    throw new EditorialInputError(`Not an email address: ${bad.join(', ')}`, 'test-bad-address', {
      list: bad.join(', '),
    });
  if (to.length > 20)
    throw new EditorialInputError('A test send goes to at most 20 addresses', 'test-too-many', { max: 20 });

  const issue = await loadRenderableIssue(deps.db, issueId);
  const keys = opts.sectionKeys?.length ? opts.sectionKeys : issue.sections.map((s) => s.key);
  const unknown = keys.filter((k) => !issue.sections.some((s) => s.key === k));
  if (unknown.length)
    throw new EditorialInputError(`Issue ${issueId} has no section ${unknown.join(', ')}`, 'no-section', {
      key: unknown.join(', '),
    });
  const rendered = await deps.render(issue, keys, opts.locale ?? issue.locale);
  const subject = `[TEST] ${rendered.subject}`;
  for (const address of to) {
    await deps.sendMail({ to: address, subject, html: rendered.html, text: rendered.text });
  }
  // The count only: test recipients are editors, but addresses stay out of logs all the same.
  await writeAudit(deps.db, {
    issueId,
    actor: opts.actor ?? 'system',
    action: 'test-send',
    detail: { recipients: to.length, sections: keys, revision: issue.revision },
    at: deps.now(),
  });
  deps.log.info({ event: 'issue.test_sent', issueId, recipients: to.length }, 'test send done');
  return { sent: to.length, subject };
}
