import { type ParsedMail, simpleParser } from 'mailparser';
import type { Locale } from '../../src/db/schema.js';
import type { SendProgress } from '../../src/delivery/progress.js';
import { addSubscriber } from '../../subscribers/api.js';
import { startWorkers } from '../../workers/index.js';
import { FORM, form } from '../http/support.js';
import type { Browser, WebHarness } from '../web/support.js';
import { waitFor } from './wait.js';

/** The model issue's sections as the importer keys them. */
export const MODEL_SECTION_KEYS = [
  'domestic-regulation',
  'foreign-regulation',
  'case-studies',
  'industry-news',
];

export interface Reader {
  email: string;
  locale: Locale;
  sectionKeys: string[];
}

/** One reader per variant of the model issue: every non-empty set of its sections, in each locale. */
export function oneReaderPerVariant(): Reader[] {
  const out: Reader[] = [];
  for (const locale of ['zh-CN', 'en'] as const)
    for (let mask = 1; mask < 1 << MODEL_SECTION_KEYS.length; mask++)
      out.push({
        email: `reader-${locale.toLowerCase()}-${mask}@example.org`,
        locale,
        sectionKeys: MODEL_SECTION_KEYS.filter((_, i) => mask & (1 << i)),
      });
  return out;
}

/** Presses a page's button: an urlencoded form POST carrying only the CSRF token. */
export function submitButton(h: WebHarness, editor: Browser, url: string) {
  return h.web.inject({
    method: 'POST',
    url,
    headers: { cookie: editor.cookie, ...FORM },
    payload: form({ _csrf: editor.csrf }),
  });
}

export interface Delivered {
  reader: Reader;
  raw: Buffer;
  parsed: ParsedMail;
}

/**
 * Imports the model document, approves it and sends it now from the send page, the way an
 * editor does; the workers deliver to the harness's SMTP peer (`SMTP_URL`). Resolves with each
 * reader's delivered message, parsed by mailparser.
 */
export async function sendModelIssue(
  h: WebHarness,
  readers: Reader[],
  relay: { messages: { to: string[]; raw: Buffer }[] },
): Promise<{ issueId: number; delivered: Delivered[] }> {
  const issueId = await h.importModel();
  for (const r of readers)
    await addSubscriber(h.ctx.db, {
      email: r.email,
      locale: r.locale,
      sectionKeys: r.sectionKeys,
      consentSource: 'editor',
      status: 'active',
    });
  const editor = await h.signIn('editor');
  const submit = (url: string) => submitButton(h, editor, url);
  const workers = await startWorkers(h.ctx, { roles: ['issues', 'send'] });
  try {
    for (const step of ['approve', 'now']) {
      const res = await submit(`/admin/issues/${issueId}/send/${step}`);
      if (res.statusCode !== 303)
        throw new Error(`send/${step}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    }
    let progress: SendProgress | undefined;
    await waitFor(
      'the send to finish',
      async () => {
        progress = (await editor.get(`/admin/issues/${issueId}/send/progress`)).json() as SendProgress;
        return !progress.live;
      },
      { timeoutMs: 300_000, intervalMs: 250 },
    ).catch(() => undefined); // reported below with the last progress seen
    if (progress?.state !== 'sent' || progress.accepted !== readers.length)
      throw new Error(`the send did not finish: ${JSON.stringify(progress)}`);
  } finally {
    await workers.close();
  }
  const delivered: Delivered[] = [];
  for (const r of readers) {
    const msg = relay.messages.find((m) => m.to.includes(r.email));
    if (!msg) throw new Error(`nothing delivered to ${r.email}`);
    delivered.push({ reader: r, raw: msg.raw, parsed: await simpleParser(msg.raw) });
  }
  return { issueId, delivered };
}
