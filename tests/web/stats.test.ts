import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventWriter, type TrackEvent } from '../../src/tracking/event-writer.js';
import { recordFeedback } from '../../src/tracking/feedback.js';
import { registerIssueLinks } from '../../src/tracking/issue-links.js';
import { timelineBuckets } from '../../src/http/admin/pages/stats.js';
import { barChart, lineChart, niceMax } from '../../src/http/admin/pages/stats-charts.js';
import { type SeededIssue, seedSentIssue } from '../tracking/seed.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

describe('charts and buckets (pure)', () => {
  it('draws an SVG image with a title, a description and escaped labels', () => {
    const svg = barChart({
      id: 'c1',
      title: 'Clicks <by> section',
      description: 'numbers in the table',
      labels: ['新规概览', 'A & B'],
      series: [{ name: 'Clicks', values: [3, 7], color: '#1d4ed8' }],
    });
    expect(svg).toMatch(/^<svg [^>]*role="img" aria-labelledby="c1-title c1-desc"/);
    expect(svg).toContain('<title id="c1-title">Clicks &lt;by&gt; section</title>');
    expect(svg).toContain('A &amp; B');
    expect(svg).not.toContain('<by>');
    expect(svg.match(/<rect x=/g)).toHaveLength(2);
    const line = lineChart({
      id: 'c2',
      title: 't',
      description: 'd',
      labels: ['a', 'b', 'c'],
      series: [{ name: 'Opens', values: [1, 5, 2], color: '#b45309' }],
    });
    expect(line.match(/<circle /g)).toHaveLength(3);
    expect([niceMax(0), niceMax(7), niceMax(23), niceMax(0.4)]).toEqual([1, 10, 25, 0.5]);
  });

  it('labels hours in the publication’s time zone and sums days over long spans', () => {
    const hourly = timelineBuckets(
      [
        { hour: '2025-07-15T01:00:00Z', opens: 2, opensDirect: 1, clicks: 1 },
        { hour: '2025-07-15T02:00:00Z', opens: 1, opensDirect: 1, clicks: 0 },
      ],
      'Asia/Shanghai',
    );
    expect(hourly.map((b) => b.label)).toEqual(['07-15 09:00', '07-15 10:00']);
    const daily = timelineBuckets(
      [
        { hour: '2025-07-15T01:00:00Z', opens: 2, opensDirect: 1, clicks: 1 },
        { hour: '2025-07-15T05:00:00Z', opens: 3, opensDirect: 0, clicks: 2 },
        { hour: '2025-07-20T01:00:00Z', opens: 1, opensDirect: 1, clicks: 0 },
      ],
      'Asia/Shanghai',
    );
    expect(daily).toEqual([
      { label: '2025-07-15', opens: 5, opensDirect: 1, clicks: 3 },
      { label: '2025-07-20', opens: 1, opensDirect: 1, clicks: 0 },
    ]);
  });
});

describe('the statistics pages', () => {
  let h: WebHarness;
  let viewer: Browser;
  let june: SeededIssue;
  let july: SeededIssue;
  const A = 'https://www.cac.gov.cn/a';
  const B = 'https://eur-lex.europa.eu/b';
  const C = 'https://court.gov.cn/c';

  beforeAll(async () => {
    h = await startWebHarness();
    const db = h.ctx.db;
    // An earlier issue: 2 recipients, 1 accepted, 1 failed, one open.
    june = await seedSentIssue(db, { recipients: 2, period: '2025-06', states: ['accepted', 'failed'] });
    // The issue under test; variants alternate: all, domestic+cases, all, ...
    july = await seedSentIssue(db, {
      recipients: 8,
      period: '2025-07',
      states: ['accepted', 'accepted', 'accepted', 'accepted', 'deferred', 'failed', 'unknown', 'queued'],
    });
    const links = await registerIssueLinks(db, july.issueId, [
      { url: A, sectionId: july.sectionIds.domestic as number },
      { url: B, sectionId: july.sectionIds.foreign as number },
      { url: C, sectionId: july.sectionIds.cases as number },
    ]);
    const dl = (s: SeededIssue, i: number) => s.deliveries[i] as SeededIssue['deliveries'][number];
    const base = (s: SeededIssue, i: number) => ({
      deliveryId: dl(s, i).id,
      issueId: s.issueId,
      subscriberId: dl(s, i).subscriberId,
    });
    const at = (h: number, m = 0) => new Date(Date.UTC(2025, 6, 15, h, m));
    const open = (s: SeededIssue, i: number, when: Date, proxied = false): TrackEvent => ({
      ...base(s, i),
      type: 'open',
      dedupeKey: proxied ? `open:${dl(s, i).id}:proxy` : `open:${dl(s, i).id}`,
      proxied,
      occurredAt: when,
    });
    const click = (i: number, url: string, when: Date): TrackEvent => {
      const linkId = links.get(url) as number;
      return {
        ...base(july, i),
        type: 'click',
        linkId,
        dedupeKey: `click:${dl(july, i).id}:${linkId}`,
        occurredAt: when,
      };
    };
    const writer = new EventWriter({ db, log: h.ctx.log, maxBatch: 4 });
    for (const e of [
      open(june, 0, new Date(Date.UTC(2025, 5, 15, 9))),
      open(july, 0, at(1, 5)),
      open(july, 0, at(1, 30)),
      open(july, 1, at(1, 40), true),
      open(july, 2, at(2, 1)),
      click(0, A, at(1, 6)),
      click(0, A, at(1, 7)),
      click(0, B, at(1, 8)),
      click(2, A, at(2, 3)),
      click(2, C, at(2, 4)),
      click(2, C, at(3, 0)),
    ])
      writer.add(e);
    await writer.close();
    await recordFeedback(db, h.ctx.log, {
      kind: 'bounce',
      severity: 'hard',
      channel: 'dsn',
      reportId: 'r1',
      deliveryId: dl(july, 3).id,
      occurredAt: at(1, 10),
    });
    await db
      .insertInto('events')
      .values({
        type: 'unsubscribe',
        subtype: 'all',
        issue_id: july.issueId,
        delivery_id: dl(july, 1).id,
        subscriber_id: dl(july, 1).subscriberId,
      })
      .execute();
    viewer = await h.signIn('viewer');
  });
  afterAll(async () => h?.close());

  const cell = (html: string, table: string, row: string, col: string) => {
    const t = html.match(new RegExp(`data-stats="${table}"[\\s\\S]*?</table>`))?.[0] ?? '';
    const r = t.match(new RegExp(`<tr ${row}>[\\s\\S]*?</tr>`))?.[0] ?? '';
    return r.match(new RegExp(`data-col="${col}">([^<]*)<`))?.[1];
  };

  it('shows one issue’s totals, sections, variants and top links as seeded', async () => {
    const res = await viewer.get(`/admin/issues/${july.issueId}/stats`);
    expect(res.statusCode).toBe(200);
    const html = res.body;
    const total = (key: string) => html.match(new RegExp(`data-key="${key}">(\\d+)<`))?.[1];
    expect({
      prepared: total('prepared'),
      accepted: total('accepted'),
      failed: total('failed'),
      bounced: total('bounced'),
      opened: total('opened'),
      openedDirect: total('openedDirect'),
      clicked: total('clicked'),
      clicks: total('clicks'),
      unsubscribed: total('unsubscribed'),
    }).toEqual({
      prepared: '8',
      accepted: '4',
      failed: '1',
      bounced: '1',
      opened: '3',
      openedDirect: '2',
      clicked: '2',
      clicks: '6',
      unsubscribed: '1',
    });
    // Rates beside the counts: 3 of 4 accepted opened, 2 of 4 clicked.
    expect(html).toMatch(/data-key="opened">3<\/td><td class="num">75\.0%</);
    expect(html).toMatch(/data-key="clicked">2<\/td><td class="num">50\.0%</);

    expect(cell(html, 'sections', 'data-section="domestic"', 'clicks')).toBe('3');
    expect(cell(html, 'sections', 'data-section="domestic"', 'clicked')).toBe('2');
    expect(cell(html, 'sections', 'data-section="cases"', 'clicks')).toBe('2');
    expect(cell(html, 'sections', 'data-section="foreign"', 'clicks')).toBe('1');
    // Recipients of a section: every variant that includes it (all: 4, domestic+cases: 4).
    expect(cell(html, 'sections', 'data-section="foreign"', 'recipients')).toBe('4');
    expect(cell(html, 'sections', 'data-section="domestic"', 'recipients')).toBe('8');

    expect(cell(html, 'variants', 'data-variant="all"', 'prepared')).toBe('4');
    expect(cell(html, 'variants', 'data-variant="all"', 'accepted')).toBe('2');
    expect(cell(html, 'variants', 'data-variant="all"', 'clicked')).toBe('2');
    expect(cell(html, 'variants', 'data-variant="domestic\\+cases"', 'bounced')).toBe('1');
    expect(cell(html, 'variants', 'data-variant="domestic\\+cases"', 'unsubscribed')).toBe('1');
    expect(cell(html, 'variants', 'data-variant="domestic\\+cases"', 'failed')).toBe('1');

    const links = html.match(/data-stats="links"[\s\S]*?<\/table>/)?.[0] ?? '';
    expect(links.indexOf(A)).toBeLessThan(links.indexOf(C));
    expect(links.indexOf(C)).toBeLessThan(links.indexOf(B));
  });

  it('tells a variant’s languages apart, names top links by their item and section, and lists sent issues with their reach', async () => {
    const db = h.ctx.db;
    // The same choice of sections in English for two readers: a row of its own, said to be English.
    await db
      .insertInto('issue_variants')
      .values({
        issue_id: july.issueId,
        revision: 1,
        variant_key: 'en-all',
        locale: 'en',
        section_keys: ['domestic', 'foreign', 'cases', 'industry'],
        subject: 'Digest',
        html: '<p>x</p>',
        text: 'x',
        html_bytes: 8,
        text_bytes: 1,
      } as never)
      .execute();
    const moved = [july.deliveries[4]?.id, july.deliveries[6]?.id] as number[];
    await db.updateTable('deliveries').set({ variant_key: 'en-all' }).where('id', 'in', moved).execute();
    // Two of the links are items' sources.
    await db
      .insertInto('issue_items')
      .values([
        {
          issue_id: july.issueId,
          section_id: july.sectionIds.domestic as number,
          position: 0,
          title: '网络数据安全新规',
          sources: JSON.stringify([{ url: A }]),
        },
        {
          issue_id: july.issueId,
          section_id: july.sectionIds.cases as number,
          position: 0,
          title: '首例 AI 生成图片著作权案',
          sources: JSON.stringify([{ url: C, label: '判决书' }]),
        },
      ] as never)
      .execute();
    try {
      const html = (await viewer.get(`/admin/issues/${july.issueId}/stats`)).body;
      expect(html).toContain('<th scope="col">语言</th>');
      expect(cell(html, 'variants', 'data-variant="all"', 'language')).toBe('中文');
      expect(cell(html, 'variants', 'data-variant="en-all"', 'language')).toBe('English');
      expect(cell(html, 'variants', 'data-variant="en-all"', 'prepared')).toBe('2');

      const links = html.match(/data-stats="links"[\s\S]*?<\/table>/)?.[0] ?? '';
      expect(links).toContain('<th scope="col">条目</th>');
      expect(links).toMatch(
        new RegExp(
          `<a href="${A}"[^>]*>网络数据安全新规</a><div class="muted url">${A}</div></th><td>domestic</td>`,
        ),
      );
      expect(links).toMatch(new RegExp(`<a href="${C}"[^>]*>首例 AI 生成图片著作权案</a>`));
      expect(links).toMatch(new RegExp(`<a href="${B}"[^>]*>（不是条目的来源）</a>`));

      // The issue list: when it went out, to how many, and the open rate (3 of 4 accepted opened).
      await db
        .updateTable('issues')
        .set({
          sending_started_at: new Date('2025-08-01T01:00:00Z'),
          sent_at: new Date('2025-08-01T01:02:00Z'),
        })
        .where('id', '=', july.issueId)
        .execute();
      const list = (await viewer.get('/admin/issues')).body;
      const row =
        list.match(new RegExp(`<tr>\\s*<td><a href="/admin/issues/${july.issueId}">[\\s\\S]*?</tr>`))?.[0] ??
        '';
      expect(row).toContain('<td data-col="when">2025-08-01 09:02 发出</td>');
      expect(row).toContain('<td class="num" data-col="recipients">8</td>');
      expect(row).toContain('<td class="num" data-col="openRate">75.0%</td>');
      const overview = (await viewer.get('/admin/stats')).body;
      expect(overview).toContain('<td data-col="sentAt">2025-08-01 09:02</td>');
    } finally {
      await db.updateTable('deliveries').set({ variant_key: 'all' }).where('id', 'in', moved).execute();
      await db.deleteFrom('issue_items').where('issue_id', '=', july.issueId).execute();
      await db
        .updateTable('issues')
        .set({ sending_started_at: null, sent_at: null })
        .where('id', '=', july.issueId)
        .execute();
    }
  });

  it('shows rows refused for now and accepted on a retry, by domain and reason', async () => {
    let html = (await viewer.get(`/admin/issues/${july.issueId}/stats`)).body;
    expect(html).not.toContain('data-stats="retried"');
    // The send worker's record of two throttles before acceptance (tests/delivery/send.test.ts sends them for real).
    const row = await h.ctx.db
      .selectFrom('deliveries')
      .select('id')
      .where('issue_id', '=', july.issueId)
      .where('state', '=', 'accepted')
      .orderBy('id')
      .executeTakeFirstOrThrow();
    await h.ctx.db
      .updateTable('deliveries')
      .set({ refusals: 2, last_refusal_reason: 'rate_limited' })
      .where('id', '=', row.id)
      .execute();
    html = (await viewer.get(`/admin/issues/${july.issueId}/stats`)).body;
    expect(html).toContain('先被拒收、重试后送达');
    expect(cell(html, 'retried', 'data-domain="example.com" data-reason="rate_limited"', 'rows')).toBe('1');
    expect(cell(html, 'retried', 'data-domain="example.com" data-reason="rate_limited"', 'refusals')).toBe(
      '2',
    );
    await h.ctx.db
      .updateTable('deliveries')
      .set({ refusals: 0, last_refusal_reason: null })
      .where('id', '=', row.id)
      .execute();
  });

  it('shows failures by reason and recipient domain and reconciles the issue’s deliveries', async () => {
    const html = (await viewer.get(`/admin/issues/${july.issueId}/stats`)).body;
    expect(html).toContain('失败与退信原因');
    expect(cell(html, 'failures', 'data-reason="user_unknown"', 'bounced')).toBe('1');
    expect(cell(html, 'failures', 'data-reason="user_unknown"', 'hard')).toBe('1');
    expect(cell(html, 'failures', 'data-reason="undetermined"', 'refused')).toBe('1');
    expect(cell(html, 'failure-domains', 'data-domain="example.com"', 'refused')).toBe('1');
    expect(cell(html, 'failure-domains', 'data-domain="example.com"', 'bounced')).toBe('1');
    const rec = html.match(/data-stats="reconciliation"[\s\S]*?<\/table>/)?.[0] ?? '';
    const value = (key: string) => rec.match(new RegExp(`data-key="${key}">([^<]*)<`))?.[1];
    expect([
      value('prepared'),
      value('accepted'),
      value('failed-undetermined'),
      value('unknown'),
      value('pending'),
    ]).toEqual(['8', '4', '1', '1', '2']);
    expect(value('suppressedSince')).toBe('1');
  });

  it('draws each chart beside a table of its numbers', async () => {
    const html = (await viewer.get(`/admin/issues/${july.issueId}/stats`)).body;
    for (const id of ['chart-sections', 'chart-timeline', 'chart-compare'])
      expect(html).toMatch(new RegExp(`<svg [^>]*role="img" aria-labelledby="${id}-title ${id}-desc"`));
    // Opens and clicks over time, in the publication's time zone (UTC+8): 09:00, 10:00, 11:00. The
    // repeated open at 01:30 UTC has the same dedupe key and is not stored again.
    const timeline = html.match(/data-stats="timeline"[\s\S]*?<\/table>/)?.[0] ?? '';
    expect(timeline).toMatch(
      /<th scope="row">07-15 09:00<\/th><td class="num">2<\/td><td class="num">1<\/td><td class="num">3<\/td>/,
    );
    expect(timeline).toMatch(
      /<th scope="row">07-15 10:00<\/th><td class="num">1<\/td><td class="num">1<\/td><td class="num">2<\/td>/,
    );
    expect(timeline).toMatch(
      /<th scope="row">07-15 11:00<\/th><td class="num">0<\/td><td class="num">0<\/td><td class="num">1<\/td>/,
    );
    // Compared with the earlier issue (June: 1 accepted, 1 failed, opened by its one reader).
    const compare = html.match(/data-stats="compare"[\s\S]*?<\/table>/)?.[0] ?? '';
    expect(compare).toMatch(new RegExp(`data-issue="${july.issueId}" class="current"`));
    expect(compare).toMatch(
      new RegExp(
        `data-issue="${june.issueId}"><th scope="row"><a[^>]*>2025-06</a></th><td class="num">1</td><td class="num">1</td><td class="num">0</td><td class="num">100.0%</td><td class="num">0.0%</td>`,
      ),
    );
  });

  it('compares every sent issue over time on /admin/stats', async () => {
    const res = await viewer.get('/admin/stats');
    expect(res.statusCode).toBe(200);
    const html = res.body;
    expect(html).toMatch(/aria-labelledby="chart-rates-title chart-rates-desc"/);
    expect(html).toMatch(/aria-labelledby="chart-counts-title chart-counts-desc"/);
    const row = (id: number, col: string) => cell(html, 'issues', `data-issue="${id}"`, col);
    expect(row(july.issueId, 'accepted')).toBe('4');
    expect(row(july.issueId, 'failed')).toBe('1');
    expect(row(july.issueId, 'bounced')).toBe('1');
    expect(row(july.issueId, 'opened')).toBe('3');
    expect(row(july.issueId, 'openRate')).toBe('75.0%');
    expect(row(july.issueId, 'clicked')).toBe('2');
    expect(row(july.issueId, 'unsubscribed')).toBe('1');
    expect(row(june.issueId, 'accepted')).toBe('1');
    expect(row(june.issueId, 'openRate')).toBe('100.0%');
    // Newest first.
    expect(html.indexOf(`data-issue="${july.issueId}"`)).toBeLessThan(
      html.indexOf(`data-issue="${june.issueId}"`),
    );
    expect(html).toContain('<h1>统计</h1>');
  });

  it('is drawn in English for an English user, and 404s for an unknown issue', async () => {
    await viewer.post('/admin/locale', { locale: 'en', next: '/admin' });
    try {
      const html = (await viewer.get(`/admin/issues/${july.issueId}/stats`)).body;
      expect(html).toContain('Top links');
      expect(html).toContain('Compared with earlier issues');
      expect((await viewer.get('/admin/stats')).body).toContain('Open and click rates by issue');
    } finally {
      await viewer.post('/admin/locale', { locale: 'zh-CN', next: '/admin' });
    }
    expect((await viewer.get('/admin/issues/999999/stats')).statusCode).toBe(404);
  });
});
