import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { previewRenderer } from '../../src/app/preview.js';
import { htmlPartBytes } from '../../src/app/wire-size.js';
import { checkIssue } from '../../src/issues/check.js';
import { loadRenderableIssue } from '../../src/issues/load.js';
import { parseIssueMarkdown } from '../../src/issues/markdown-parse.js';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/smtp/catcher.js';
import { MODEL_ISSUE_PATH } from '../support/model-issue.js';
import { type Delivered, MODEL_SECTION_KEYS, sendModelIssue } from '../support/model-send.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { startWebHarness, type WebHarness } from '../web/support.js';

const modelDocument = sharedFixture(MODEL_DOCUMENT);

/**
 * The reader's path: the model issue sent with click tracking on (the default) through a real
 * SMTP peer, each delivered message parsed, and every tracked link followed through the real
 * redirect route. Each must land on the exact URL the document cites.
 */
describe.skipIf(!modelDocument.present)('following every tracked link of the delivered model issue', () => {
  let relay: SmtpCatcher;
  let h: WebHarness;
  let delivered: Delivered[];
  let issueId: number;
  const sourceUrls = () =>
    new Set(
      parseIssueMarkdown(readFileSync(MODEL_ISSUE_PATH, 'utf8')).sections.flatMap((s) =>
        s.items.flatMap((i) => i.sources.map((src) => src.url)),
      ),
    );

  beforeAll(async () => {
    relay = await startSmtpCatcher();
    h = await startWebHarness({ SMTP_URL: relay.url });
    const readers = (['zh-CN', 'en'] as const).map((locale) => ({
      email: `reader-${locale.toLowerCase()}@example.org`,
      locale,
      sectionKeys: MODEL_SECTION_KEYS,
    }));
    ({ delivered, issueId } = await sendModelIssue(h, readers, relay));
  }, 300_000);
  afterAll(async () => {
    await h?.close();
    await relay?.close();
  });

  it('redirects each tracked link, in html and text, to its source URL byte for byte', async () => {
    const expected = sourceUrls();
    // The URLs that broke (`=` written as `&#61;`) are among them.
    expect([...expected].filter((u) => u.includes('=')).length).toBeGreaterThanOrEqual(9);
    for (const { reader, parsed } of delivered) {
      const html = typeof parsed.html === 'string' ? parsed.html : '';
      const tracked = [
        ...new Set(
          [...html.matchAll(/href="(https:\/\/news\.example\.org\/t\/c\/[^"]+)"/g)].map((m) => m[1]),
        ),
      ] as string[];
      const landed = new Set<string>();
      for (const link of tracked) {
        const res = await h.web.inject({ method: 'GET', url: new URL(link).pathname });
        expect(res.statusCode, link).toBe(302);
        landed.add(String(res.headers.location));
      }
      expect(landed, reader.locale).toEqual(expected);
      // The plain-text part keeps the full source URLs (no redirect there).
      for (const url of expected) expect(parsed.text, url).toContain(url);
    }
  });

  it('measures, before sending, the HTML bytes that went on the wire for the largest variant', async () => {
    const actual = Math.max(...delivered.map((d) => htmlPartBytes(d.raw.toString('latin1'))));
    const list = await checkIssue({ db: h.ctx.db, render: previewRenderer(h.env.PUBLIC_URL) }, issueId);
    const size = list.checks.find((c) => c.id === 'variant-html-size');
    const measured = Number(/largest variant (\d+) bytes/.exec(size?.message ?? '')?.[1]);
    // The sample ids and tokens are at least as long as real ones: never less than was sent.
    expect(measured).toBeGreaterThanOrEqual(actual);
    expect(measured - actual).toBeLessThan(1200); // longer sample ids, within ~1%
    const bare = await previewRenderer(h.env.PUBLIC_URL)(
      await loadRenderableIssue(h.ctx.db, issueId),
      MODEL_SECTION_KEYS,
      'zh-CN',
    );
    expect(actual - Buffer.byteLength(bare.html)).toBeGreaterThan(1000); // what the old check missed
  });
});
