import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SendProgress } from '../../src/delivery/progress.js';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/smtp/catcher.js';
import { addSubscriber } from '../../subscribers/api.js';
import { startWorkers, type WorkerSet } from '../../workers/index.js';
import { submitButton } from '../support/model-send.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { waitFor } from '../support/wait.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

/**
 * The whole path from the send page: approve, "send now", the issues worker starts the send, the
 * send worker delivers to a local SMTP peer, and the progress JSON the page polls reaches "sent".
 */
const modelDocument = sharedFixture(MODEL_DOCUMENT);
describe.skipIf(!modelDocument.present)('sending from the send page to a local SMTP peer', () => {
  let relay: SmtpCatcher;
  let h: WebHarness;
  let workers: WorkerSet;
  let editor: Browser;
  let issueId: number;
  const readers = ['a', 'b', 'c', 'd', 'e'].map((n) => `reader-${n}@example.org`);

  beforeAll(async () => {
    relay = await startSmtpCatcher();
    h = await startWebHarness({ SMTP_URL: relay.url });
    issueId = await h.importModel();
    for (const [i, email] of readers.entries())
      await addSubscriber(h.ctx.db, {
        email,
        consentSource: 'editor',
        status: 'active',
        // Two readers chose only case studies: a second variant.
        ...(i < 2 ? { sectionKeys: ['case-studies'] } : {}),
      });
    workers = await startWorkers(h.ctx, { roles: ['issues', 'send'] });
    editor = await h.signIn('editor');
  });
  afterAll(async () => {
    await workers?.close();
    await h?.close();
    await relay?.close();
  });

  const submit = (url: string) => submitButton(h, editor, url);

  it('approves, sends now and watches the progress until every reader’s message is accepted', async () => {
    expect((await submit(`/admin/issues/${issueId}/send/approve`)).statusCode).toBe(303);
    expect((await submit(`/admin/issues/${issueId}/send/now`)).statusCode).toBe(303);

    const seen: string[] = [];
    let progress: SendProgress | undefined;
    await waitFor(
      'the send to finish',
      async () => {
        progress = (await editor.get(`/admin/issues/${issueId}/send/progress`)).json() as SendProgress;
        if (seen.at(-1) !== progress.state) seen.push(progress.state);
        return !progress.live;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(progress).toMatchObject({
      state: 'sent',
      total: 5,
      accepted: 5,
      failed: 0,
      unknown: 0,
      pending: 0,
      remaining: 0,
      percent: 100,
      live: false,
    });
    // "Send now" is sending from the first poll on: no scheduled minute to wait for.
    expect(seen[0]).toBe('sending');
    expect(relay.messages.map((m) => m.to.join(',')).sort()).toEqual(readers);

    const page = await editor.get(`/admin/issues/${issueId}/send`);
    expect(page.body).toContain('已发送');
    expect(page.body).toMatch(/data-progress="accepted">5</);
    expect(page.body).not.toContain('<noscript><meta http-equiv="refresh"');
    // When it started and when it finished, on the page and in the history.
    expect(page.body).toMatch(/开始发送：\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    expect(page.body).toMatch(/发送完成：\d{4}-\d{2}-\d{2} \d{2}:\d{2}（用时 \d+ 秒）/);
    expect(page.body).toMatch(/<td>系统<\/td><td>发送完成<\/td>/);
    expect(page.body).toMatch(/<td>立即发送<\/td>/);
    const stats = await editor.get(`/admin/issues/${issueId}/stats`);
    expect(stats.body).toMatch(/data-key="accepted">5</);
    // Two variants: every section (3 readers) and case studies only (2).
    const prepared = [
      ...stats.body.matchAll(/<tr data-variant="[^"]+">[\s\S]*?data-col="prepared">(\d+)</g),
    ].map((m) => Number(m[1]));
    expect(prepared.sort()).toEqual([2, 3]);
  });
});
