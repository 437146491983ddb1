import type { FastifyPluginAsync } from 'fastify';
import { DateTime } from 'luxon';
import type { Db, IssueState, Locale } from '../../../db/schema.js';
import { reasonLabel } from '../../../delivery/reasons.js';
import { getPublication } from '../../../publication/publication.js';
import { listSections } from '../../../publication/sections.js';
import { bounceStatistics } from '../../../tracking/bounce-stats.js';
import { type IssueStatistics, issueStatistics } from '../../../tracking/stats.js';
import type { WebDeps } from '../deps.js';
import { issueStateLabel } from '../issue-states.js';
import { requestLocale, sendAdminPage } from '../respond.js';
import { defineStrings } from '../strings.js';
import { issueTabs, parseIssueId, sectionName, TAB_STRINGS } from './send-shared.js';
import { barChart, CHART_COLORS, lineChart } from './stats-charts.js';

export const STATS_STRINGS = defineStrings({
  'zh-CN': {
    ...TAB_STRINGS['zh-CN'],
    statsTitle: '统计',
    statsIssueTitle: '本期统计',
    statsIntro:
      '“已接收”指邮件服务器已收下，不代表已送达收件箱；打开数按收件人去重，部分邮箱（如 Apple 邮件隐私保护）会自动打开，因此另列“直接打开”。',
    statsNone: '还没有已发送的期刊。',
    statsIssue: '期刊',
    statsPeriod: '期号',
    statsState: '状态',
    statsSentAt: '发出时间',
    statsRecipients: '收件人',
    statsAccepted: '已接收',
    statsDeferred: '延后重试',
    statsFailed: '失败',
    statsUnknown: '状态不明',
    statsPending: '等待发送',
    statsSkipped: '已跳过',
    statsBounced: '退信（硬）',
    statsSoftBounced: '退信（软）',
    statsComplained: '投诉',
    statsOpened: '打开',
    statsOpenedDirect: '直接打开',
    statsOpenRate: '打开率',
    statsClicked: '点击人数',
    statsClicks: '点击次数',
    statsClickRate: '点击率',
    statsUnsubscribed: '退订',
    statsTotals: '总计',
    statsSections: '按栏目',
    statsSection: '栏目',
    statsLinks: '链接数',
    statsVariants: '按版本（栏目组合）',
    statsVariant: '版本',
    statsLanguage: '语言',
    'lang-zh-CN': '中文',
    'lang-en': 'English',
    statsItem: '条目',
    statsOtherLink: '（不是条目的来源）',
    statsTopLinks: '点击最多的链接',
    statsLink: '链接',
    statsNoClicks: '暂无点击。',
    statsTimeline: '打开与点击随时间变化',
    statsTime: '时间（{tz}）',
    statsNoEvents: '暂无打开或点击。',
    statsCompare: '与往期比较',
    statsCompareNone: '没有更早的期刊可比较。',
    statsThisIssue: '（本期）',
    statsOverTime: '历期对比',
    chartRatesTitle: '各期打开率与点击率',
    chartRatesDesc: '按期号排列的打开率和点击率（占已接收邮件的百分比）；数字见下表。',
    chartCountsTitle: '各期已接收、失败和退信',
    chartCountsDesc: '按期号排列的已接收、失败和硬退信数量；数字见下表。',
    chartSectionsTitle: '各栏目的点击次数',
    chartSectionsDesc: '本期每个栏目的链接被点击的次数；数字见下表。',
    chartTimelineTitle: '打开与点击随时间变化',
    chartTimelineDesc: '本期每个时间段的打开次数和点击次数；数字见下表。',
    chartCompareTitle: '本期与往期的打开率和点击率',
    chartCompareDesc: '本期和之前几期的打开率与点击率；数字见下表。',
    allSections: '全部栏目',
    unknownVariant: '（未知）',
    statsFailures: '失败与退信原因',
    statsFailuresIntro:
      '“拒收”是发送时对方服务器的答复，“退信”是事后收到的退信报告。只有“邮箱不存在”等硬原因会立即停发；限流、拦截和垃圾邮件判定不会停发读者。',
    statsReason: '原因',
    statsRefused: '发送时拒收',
    statsBouncedAll: '退信',
    statsHard: '其中硬退信',
    statsByDomain: '按收件域名',
    statsDomain: '域名',
    statsNoFailures: '本期没有失败或退信。',
    statsRetried: '先被拒收、重试后送达',
    statsRetriedIntro: '收件服务器暂时拒收（限流、延迟）后，重试时接受的邮件，按域名和最后一次拒收原因。',
    statsRetriedRows: '送达封数',
    statsRefusals: '拒收次数',
    statsReconciliation: '对账',
    statsNeverAttempted: '从未尝试',
    statsSuppressedSince: '此后被停发的读者',
  },
  en: {
    ...TAB_STRINGS.en,
    statsTitle: 'Statistics',
    statsIssueTitle: 'Issue statistics',
    statsIntro:
      '“Accepted” means the relay took the message, not that it reached the inbox. Opens count each recipient once; some mail apps (Apple Mail Privacy Protection) open every message, so opens seen directly are listed too.',
    statsNone: 'No issue has been sent yet.',
    statsIssue: 'Issue',
    statsPeriod: 'Period',
    statsState: 'State',
    statsSentAt: 'Sent',
    statsRecipients: 'Recipients',
    statsAccepted: 'Accepted',
    statsDeferred: 'Deferred',
    statsFailed: 'Failed',
    statsUnknown: 'Unknown',
    statsPending: 'Waiting',
    statsSkipped: 'Skipped',
    statsBounced: 'Bounced (hard)',
    statsSoftBounced: 'Bounced (soft)',
    statsComplained: 'Complaints',
    statsOpened: 'Opened',
    statsOpenedDirect: 'Opened directly',
    statsOpenRate: 'Open rate',
    statsClicked: 'Clicked',
    statsClicks: 'Clicks',
    statsClickRate: 'Click rate',
    statsUnsubscribed: 'Unsubscribed',
    statsTotals: 'Totals',
    statsSections: 'By section',
    statsSection: 'Section',
    statsLinks: 'Links',
    statsVariants: 'By variant (choice of sections)',
    statsVariant: 'Variant',
    statsLanguage: 'Language',
    'lang-zh-CN': 'Chinese',
    'lang-en': 'English',
    statsItem: 'Item',
    statsOtherLink: '(not an item’s source)',
    statsTopLinks: 'Top links',
    statsLink: 'Link',
    statsNoClicks: 'No clicks yet.',
    statsTimeline: 'Opens and clicks over time',
    statsTime: 'Time ({tz})',
    statsNoEvents: 'No opens or clicks yet.',
    statsCompare: 'Compared with earlier issues',
    statsCompareNone: 'No earlier issue to compare with.',
    statsThisIssue: '(this issue)',
    statsOverTime: 'Issues compared',
    chartRatesTitle: 'Open and click rates by issue',
    chartRatesDesc:
      'Open and click rates (share of accepted messages) by period; the numbers are in the table below.',
    chartCountsTitle: 'Accepted, failed and bounced by issue',
    chartCountsDesc:
      'Accepted, failed and hard-bounced messages by period; the numbers are in the table below.',
    chartSectionsTitle: 'Clicks by section',
    chartSectionsDesc: 'Clicks on each section’s links in this issue; the numbers are in the table below.',
    chartTimelineTitle: 'Opens and clicks over time',
    chartTimelineDesc:
      'Opens and clicks of this issue per period of time; the numbers are in the table below.',
    chartCompareTitle: 'Open and click rates, this issue and earlier ones',
    chartCompareDesc:
      'Open and click rates of this issue and the ones before it; the numbers are in the table below.',
    allSections: 'All sections',
    unknownVariant: '(unknown)',
    statsFailures: 'Failures and bounces by reason',
    statsFailuresIntro:
      '“Refused” is the receiving server’s reply at send time; “bounced” is a report received later. Only hard reasons such as “mailbox does not exist” stop mail at once; throttles, blocks and spam verdicts never stop a reader.',
    statsReason: 'Reason',
    statsRefused: 'Refused at send time',
    statsBouncedAll: 'Bounced',
    statsHard: 'of which hard',
    statsByDomain: 'By recipient domain',
    statsDomain: 'Domain',
    statsNoFailures: 'No failures or bounces for this issue.',
    statsRetried: 'Refused, retried and accepted',
    statsRetriedIntro:
      'Messages a receiving server refused for now (throttled, deferred) and accepted on a retry, by domain and last refusal reason.',
    statsRetriedRows: 'Accepted',
    statsRefusals: 'Refusals',
    statsReconciliation: 'Reconciliation',
    statsNeverAttempted: 'Never attempted',
    statsSuppressedSince: 'Readers suppressed since',
  },
});

type T = (typeof STATS_STRINGS)['zh-CN'];

/** Issues whose audience was frozen: they have deliveries and statistics. */
const SENT_STATES: IssueState[] = ['sending', 'paused', 'sent', 'cancelled', 'failed'];
const OVERVIEW_ISSUES = 24;
const COMPARE_ISSUES = 5;
const TOTALS_TTL_MS = 60_000;

export const percent = (rate: number | null): string => (rate === null ? '–' : `${(rate * 100).toFixed(1)}%`);

export interface TimelineBucket {
  label: string;
  opens: number;
  opensDirect: number;
  clicks: number;
}

/**
 * Hourly UTC buckets to labelled buckets in the publication's time zone (pure). Up to three days
 * of activity stay hourly; longer spans are summed per day, so a month of opens stays readable.
 */
export function timelineBuckets(timeline: IssueStatistics['timeline'], tz: string): TimelineBucket[] {
  if (!timeline.length) return [];
  const times = timeline.map((r) => DateTime.fromISO(r.hour, { zone: 'utc' }).setZone(tz));
  const first = times[0] as DateTime;
  const last = times[times.length - 1] as DateTime;
  const daily = last.diff(first, 'hours').hours > 72;
  const out = new Map<string, TimelineBucket>();
  timeline.forEach((r, i) => {
    const t = times[i] as DateTime;
    const label = daily ? t.toFormat('yyyy-MM-dd') : t.toFormat('MM-dd HH:00');
    const b = out.get(label) ?? { label, opens: 0, opensDirect: 0, clicks: 0 };
    b.opens += r.opens;
    b.opensDirect += r.opensDirect;
    b.clicks += r.clicks;
    out.set(label, b);
  });
  return [...out.values()];
}

interface IssueRow {
  id: number;
  period: string;
  title: string;
  state: IssueState;
  sent_at: Date | null;
}

async function sentIssues(db: Db, opts: { before?: IssueRow; limit: number }): Promise<IssueRow[]> {
  let q = db
    .selectFrom('issues')
    .select(['id', 'period', 'title', 'state', 'sent_at'])
    .where('state', 'in', SENT_STATES)
    .orderBy('period', 'desc')
    .orderBy('id', 'desc')
    .limit(opts.limit);
  const before = opts.before;
  if (before)
    q = q.where((eb) =>
      eb.or([
        eb('period', '<', before.period),
        eb.and([eb('period', '=', before.period), eb('id', '<', before.id)]),
      ]),
    );
  return q.execute();
}

function summaryRow(issue: IssueRow, s: IssueStatistics, locale: Locale) {
  const x = s.totals;
  return {
    id: issue.id,
    period: issue.period,
    title: issue.title,
    state: issueStateLabel(locale, issue.state),
    sentAt: issue.sent_at,
    prepared: x.prepared,
    accepted: x.accepted,
    failed: x.failed,
    bounced: x.bounced,
    softBounced: x.softBounced,
    opened: x.opened,
    openRate: percent(x.rates.open),
    clicked: x.clickedUnique,
    clicks: x.clicksTotal,
    clickRate: percent(x.rates.click),
    unsubscribed: x.unsubscribed,
    rates: x.rates,
  };
}

type SummaryRow = ReturnType<typeof summaryRow>;

function rateCharts(id: string, rows: SummaryRow[], t: T, title: string, desc: string) {
  return lineChart({
    id,
    title,
    description: desc,
    labels: rows.map((r) => r.period),
    series: [
      {
        name: t.statsOpenRate,
        values: rows.map((r) => (r.rates.open ?? 0) * 100),
        color: CHART_COLORS[0] as string,
      },
      {
        name: t.statsClickRate,
        values: rows.map((r) => (r.rates.click ?? 0) * 100),
        color: CHART_COLORS[1] as string,
      },
    ],
    format: (n) => (n === 0 ? '0%' : `${n.toFixed(n < 1 ? 2 : n < 10 ? 1 : 0)}%`),
  });
}

/**
 * GET /admin/stats (every sent issue compared, over time) and GET /admin/issues/:id/stats (one
 * issue per section, per variant, top links, opens and clicks over time, against earlier issues).
 * Numbers come from the tracking stage's issueStatistics; charts are server-drawn SVG, each with
 * its numbers in a table.
 */
export function statsPages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;
  // Rows of the overview and the comparison are other issues' totals: a minute old is fresh enough,
  // and it spares a page of 24 issues two dozen statistics queries on every visit. An issue's own
  // page always reads fresh numbers.
  const totalsCache = new Map<number, { at: number; stats: Promise<IssueStatistics> }>();
  const totalsOf = (issueId: number): Promise<IssueStatistics> => {
    const now = Date.now();
    const hit = totalsCache.get(issueId);
    if (hit && now - hit.at < TOTALS_TTL_MS) return hit.stats;
    const stats = issueStatistics(ctx.db, issueId, { topLinks: 0 });
    stats.catch(() => totalsCache.delete(issueId));
    totalsCache.set(issueId, { at: now, stats });
    if (totalsCache.size > 200) totalsCache.delete(totalsCache.keys().next().value as number);
    return stats;
  };

  const timeZone = async () => (await getPublication(ctx.db))?.time_zone ?? ctx.env.DEFAULT_TIME_ZONE;

  return async (app) => {
    app.get('/admin/stats', async (req, reply) => {
      const locale = await requestLocale(deps, req);
      const t = STATS_STRINGS[locale];
      const issues = await sentIssues(ctx.db, { limit: OVERVIEW_ISSUES });
      const rows: SummaryRow[] = [];
      for (const issue of issues) rows.push(summaryRow(issue, await totalsOf(issue.id), locale));
      const chronological = [...rows].reverse();
      return sendAdminPage(deps, req, reply, {
        page: 'stats-overview',
        title: 'statsTitle',
        strings: STATS_STRINGS,
        data: {
          rows,
          ratesChart: rows.length
            ? rateCharts('chart-rates', chronological, t, t.chartRatesTitle, t.chartRatesDesc)
            : null,
          countsChart: rows.length
            ? barChart({
                id: 'chart-counts',
                title: t.chartCountsTitle,
                description: t.chartCountsDesc,
                labels: chronological.map((r) => r.period),
                series: [
                  {
                    name: t.statsAccepted,
                    values: chronological.map((r) => r.accepted),
                    color: CHART_COLORS[0] as string,
                  },
                  {
                    name: t.statsFailed,
                    values: chronological.map((r) => r.failed),
                    color: CHART_COLORS[1] as string,
                  },
                  {
                    name: t.statsBounced,
                    values: chronological.map((r) => r.bounced),
                    color: CHART_COLORS[3] as string,
                  },
                ],
              })
            : null,
        },
      });
    });

    app.get('/admin/issues/:id/stats', async (req, reply) => {
      const id = parseIssueId((req.params as { id?: string }).id);
      const issue =
        id === null
          ? undefined
          : await ctx.db
              .selectFrom('issues')
              .select(['id', 'period', 'title', 'state', 'sent_at'])
              .where('id', '=', id)
              .executeTakeFirst();
      if (!issue) return reply.callNotFound();
      const locale: Locale = await requestLocale(deps, req);
      const t = STATS_STRINGS[locale];
      const tz = await timeZone();
      const stats = await issueStatistics(ctx.db, issue.id, { topLinks: 10 });
      const bounces = await bounceStatistics(ctx.db, issue.id);
      const sections = await listSections(ctx.db);
      const nameOf = (key: string) => sectionName(sections.find((s) => s.key === key)?.names, locale, key);
      const nameById = (sectionId: number | null) => {
        const s = sections.find((x) => x.id === sectionId);
        return s ? sectionName(s.names, locale, s.key) : '';
      };

      const earlier = await sentIssues(ctx.db, { before: issue, limit: COMPARE_ISSUES });
      const compare: (SummaryRow & { current: boolean })[] = [
        { ...summaryRow(issue, stats, locale), current: true },
      ];
      for (const e of earlier)
        compare.push({
          ...summaryRow(e, await totalsOf(e.id), locale),
          current: false,
        });
      const compareChrono = [...compare].reverse();

      const timeline = timelineBuckets(stats.timeline, tz);
      const sectionRows = stats.sections.map((s) => ({
        ...s,
        name: sectionName(s.names as Record<string, string>, locale, s.key),
      }));
      const x = stats.totals;
      return sendAdminPage(deps, req, reply, {
        page: 'stats-issue',
        title: 'statsIssueTitle',
        strings: STATS_STRINGS,
        data: {
          issue: { ...issue, stateText: issueStateLabel(locale, issue.state) },
          tabs: issueTabs(issue.id, 'stats', t),
          tz,
          totals: [
            { label: t.statsRecipients, value: x.prepared, key: 'prepared' },
            { label: t.statsAccepted, value: x.accepted, key: 'accepted' },
            { label: t.statsDeferred, value: x.deferred, key: 'deferred' },
            { label: t.statsFailed, value: x.failed, key: 'failed' },
            { label: t.statsUnknown, value: x.unknown, key: 'unknown' },
            { label: t.statsPending, value: x.pending, key: 'pending' },
            { label: t.statsSkipped, value: x.skipped, key: 'skipped' },
            { label: t.statsBounced, value: x.bounced, key: 'bounced' },
            { label: t.statsSoftBounced, value: x.softBounced, key: 'softBounced' },
            { label: t.statsComplained, value: x.complained, key: 'complained' },
            { label: t.statsOpened, value: x.opened, key: 'opened', rate: percent(x.rates.open) },
            { label: t.statsOpenedDirect, value: x.openedDirect, key: 'openedDirect' },
            { label: t.statsClicked, value: x.clickedUnique, key: 'clicked', rate: percent(x.rates.click) },
            { label: t.statsClicks, value: x.clicksTotal, key: 'clicks' },
            { label: t.statsUnsubscribed, value: x.unsubscribed, key: 'unsubscribed' },
          ],
          sections: sectionRows,
          failures: bounces.byReason.map((r) => ({ ...r, label: reasonLabel(r.reason, locale) })),
          failureDomains: bounces.byDomain,
          retried: bounces.refusedThenAccepted.map((r) => ({ ...r, label: reasonLabel(r.reason, locale) })),
          reconciliation: [
            { label: t.statsRecipients, value: bounces.reconciliation.prepared, key: 'prepared' },
            { label: t.statsAccepted, value: bounces.reconciliation.accepted, key: 'accepted' },
            ...Object.entries(bounces.reconciliation.failedByReason).map(([reason, value]) => ({
              label: `${t.statsFailed}: ${reasonLabel(reason, locale)}`,
              value,
              key: `failed-${reason}`,
            })),
            { label: t.statsUnknown, value: bounces.reconciliation.unknown, key: 'unknown' },
            { label: t.statsPending, value: bounces.reconciliation.pending, key: 'pending' },
            {
              label: t.statsNeverAttempted,
              value: bounces.reconciliation.neverAttempted,
              key: 'neverAttempted',
            },
            {
              label: t.statsSuppressedSince,
              value: bounces.reconciliation.suppressedSince,
              key: 'suppressedSince',
            },
          ],
          sectionsChart: sectionRows.length
            ? barChart({
                id: 'chart-sections',
                title: t.chartSectionsTitle,
                description: t.chartSectionsDesc,
                labels: sectionRows.map((s) => s.name),
                series: [
                  {
                    name: t.statsClicks,
                    values: sectionRows.map((s) => s.clicksTotal),
                    color: CHART_COLORS[0] as string,
                  },
                  {
                    name: t.statsClicked,
                    values: sectionRows.map((s) => s.clickedUnique),
                    color: CHART_COLORS[2] as string,
                  },
                ],
              })
            : null,
          variants: stats.variants.map((v) => ({
            ...v,
            language: v.locale ? ((t as Record<string, string>)[`lang-${v.locale}`] ?? v.locale) : '–',
            name:
              v.sectionKeys === null
                ? t.unknownVariant
                : v.sectionKeys.length === sections.length
                  ? t.allSections
                  : v.sectionKeys.map(nameOf).join(' + '),
          })),
          topLinks: stats.topLinks.map((l) => ({
            ...l,
            section: nameById(l.sectionId),
            label: l.itemTitle ?? t.statsOtherLink,
          })),
          timeline,
          timelineChart: timeline.length
            ? lineChart({
                id: 'chart-timeline',
                title: t.chartTimelineTitle,
                description: t.chartTimelineDesc,
                labels: timeline.map((b) => b.label),
                series: [
                  {
                    name: t.statsOpened,
                    values: timeline.map((b) => b.opens),
                    color: CHART_COLORS[0] as string,
                  },
                  {
                    name: t.statsClicks,
                    values: timeline.map((b) => b.clicks),
                    color: CHART_COLORS[1] as string,
                  },
                ],
              })
            : null,
          compare,
          hasEarlier: earlier.length > 0,
          compareChart:
            earlier.length > 0
              ? rateCharts('chart-compare', compareChrono, t, t.chartCompareTitle, t.chartCompareDesc)
              : null,
        },
      });
    });
  };
}
