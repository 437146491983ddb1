import pLimit from 'p-limit';
import stringWidth from 'string-width';
import { LOCALES, type Locale } from '../db/schema.js';
import type { RenderableIssue } from '../rendering/types.js';
import { loadRenderableIssue } from './load.js';
import type { EditorialDeps } from './store.js';

export type RenderFn = (
  issue: RenderableIssue,
  sectionKeys: string[],
  locale: Locale,
) => Promise<{
  subject: string;
  html: string;
  text: string;
  /** The HTML part's bytes as sent (tracking, filled tokens, transfer encoding); see app/wire-size.ts. */
  wireHtmlBytes?: () => Promise<number>;
}>;

/** Resolves to the HTTP status of a link (or throws); the lead wires the stage's safe fetcher. */
export type LinkProbe = (url: string) => Promise<{ status: number }>;

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skipped';

export interface CheckEntry {
  id: string;
  status: CheckStatus;
  message: string;
  details?: unknown[];
}

export interface Checklist {
  issueId: number;
  revision: number;
  /** False when any check failed; warnings do not block. */
  ok: boolean;
  checks: CheckEntry[];
}

/** Gmail clips an HTML body larger than about 102 KB. */
export const GMAIL_CLIP_BYTES = 102 * 1024;
/** Display widths (a CJK character counts as two) beyond which clients cut the text. */
export const SUBJECT_MAX_WIDTH = 80;
export const PREHEADER_MAX_WIDTH = 140;
const MAX_VARIANTS = 63;
const MAX_LINKS = 200;

/** Every non-empty set of the given keys, in a stable order (the variants an issue may need). */
export function sectionSubsets(keys: string[]): string[][] {
  const out: string[][] = [];
  for (let mask = 1; mask < 1 << keys.length; mask++) out.push(keys.filter((_k, i) => mask & (1 << i)));
  return out.sort((a, b) => b.length - a.length);
}

function normalizeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** The content checks that need no I/O (pure): empty sections, missing parts, duplicates, lengths. */
export function contentChecks(issue: RenderableIssue): CheckEntry[] {
  const checks: CheckEntry[] = [];
  const items = issue.sections.flatMap((s) => s.items.map((i) => ({ ...i, section: s.key })));

  const empty = issue.sections.filter((s) => s.items.length === 0).map((s) => s.key);
  checks.push(
    items.length === 0
      ? { id: 'empty-issue', status: 'fail', message: 'the issue has no items' }
      : { id: 'empty-issue', status: 'pass', message: `${items.length} items` },
  );
  checks.push(
    empty.length
      ? { id: 'empty-sections', status: 'warn', message: `${empty.length} empty section(s)`, details: empty }
      : { id: 'empty-sections', status: 'pass', message: 'every section has items' },
  );

  const noSummary = items.filter((i) => !i.summary.trim()).map((i) => ({ id: i.id, title: i.title }));
  checks.push(
    noSummary.length
      ? {
          id: 'items-without-summary',
          status: 'warn',
          message: `${noSummary.length} item(s) without summary`,
          details: noSummary,
        }
      : { id: 'items-without-summary', status: 'pass', message: 'every item has a summary' },
  );
  const noSource = items.filter((i) => i.sources.length === 0).map((i) => ({ id: i.id, title: i.title }));
  checks.push(
    noSource.length
      ? {
          id: 'items-without-source',
          status: 'warn',
          message: `${noSource.length} item(s) without source`,
          details: noSource,
        }
      : { id: 'items-without-source', status: 'pass', message: 'every item has a source' },
  );

  const byKey = new Map<string, number[]>();
  for (const item of items) {
    const keys = new Set([
      `title:${item.title.replace(/\s+/g, '').toLowerCase()}`,
      ...item.sources.map((s) => `url:${normalizeUrl(s.url)}`),
    ]);
    for (const k of keys) byKey.set(k, [...(byKey.get(k) ?? []), item.id]);
  }
  const duplicates = [...byKey.entries()]
    .filter(([, ids]) => ids.length > 1)
    .map(([key, ids]) => ({ key, items: ids }));
  checks.push(
    duplicates.length
      ? {
          id: 'duplicate-items',
          status: 'warn',
          message: `${duplicates.length} duplicate title(s) or source(s)`,
          details: duplicates,
        }
      : { id: 'duplicate-items', status: 'pass', message: 'no duplicates' },
  );

  const subjectWidth = stringWidth(issue.subject);
  checks.push({
    id: 'subject-length',
    status: !issue.subject.trim() ? 'fail' : subjectWidth > SUBJECT_MAX_WIDTH ? 'warn' : 'pass',
    message: `subject display width ${subjectWidth} (limit ${SUBJECT_MAX_WIDTH}; a CJK character counts as two)`,
  });
  const preheaderWidth = stringWidth(issue.preheader);
  checks.push({
    id: 'preheader-length',
    status: !issue.preheader.trim() || preheaderWidth > PREHEADER_MAX_WIDTH ? 'warn' : 'pass',
    message: issue.preheader.trim()
      ? `preheader display width ${preheaderWidth} (limit ${PREHEADER_MAX_WIDTH})`
      : 'no preheader: clients will show the first text of the email instead',
  });
  return checks;
}

async function renderChecks(issue: RenderableIssue, render: RenderFn | undefined): Promise<CheckEntry[]> {
  if (!render) {
    const skipped = 'skipped: no renderer given';
    return [
      { id: 'variant-html-size', status: 'skipped', message: skipped },
      { id: 'template-errors', status: 'skipped', message: skipped },
    ];
  }
  const keys = issue.sections.filter((s) => s.items.length > 0).map((s) => s.key);
  const variants = sectionSubsets(keys).slice(0, MAX_VARIANTS);
  const sizes: { sections: string[]; locale: Locale; htmlBytes: number; onTheWire?: boolean }[] = [];
  const errors: { sections: string[]; error: string }[] = [];
  for (const sectionKeys of variants) {
    try {
      const out = await render(issue, sectionKeys, issue.locale);
      sizes.push({
        sections: sectionKeys,
        locale: issue.locale,
        htmlBytes: Buffer.byteLength(out.html, 'utf8'),
      });
    } catch (err) {
      errors.push({ sections: sectionKeys, error: err instanceof Error ? err.message : String(err) });
    }
  }
  // The largest variant (every section) in each locale, measured as it will be on the wire.
  const all = variants[0];
  if (all && errors.length === 0) {
    for (const locale of LOCALES) {
      const out = await render(issue, all, locale);
      if (!out.wireHtmlBytes) continue;
      const wire = { sections: all, locale, htmlBytes: await out.wireHtmlBytes(), onTheWire: true };
      const same = sizes.findIndex((s) => s.locale === locale && s.sections === all);
      if (same >= 0) sizes[same] = wire;
      else sizes.push(wire);
    }
  }
  const over = sizes.filter((s) => s.htmlBytes > GMAIL_CLIP_BYTES);
  const largest = sizes.reduce((m, s) => Math.max(m, s.htmlBytes), 0);
  return [
    {
      id: 'variant-html-size',
      status: over.length ? 'warn' : sizes.length ? 'pass' : 'skipped',
      message: over.length
        ? `${over.length} of ${sizes.length} variant(s) exceed Gmail's ${GMAIL_CLIP_BYTES} byte clipping limit`
        : `largest variant ${largest} bytes of ${GMAIL_CLIP_BYTES}`,
      details: sizes,
    },
    errors.length
      ? {
          id: 'template-errors',
          status: 'fail',
          message: `${errors.length} variant(s) failed to render`,
          details: errors,
        }
      : {
          id: 'template-errors',
          status: 'pass',
          message: `${variants.length - errors.length} variant(s) rendered`,
        },
  ];
}

async function linkChecks(issue: RenderableIssue, probe: LinkProbe | undefined): Promise<CheckEntry> {
  if (!probe)
    return { id: 'source-links', status: 'skipped', message: 'skipped: link checking not requested' };
  const urls = [
    ...new Set(issue.sections.flatMap((s) => s.items.flatMap((i) => i.sources.map((x) => x.url)))),
  ];
  const checked = urls.slice(0, MAX_LINKS);
  const limit = pLimit(4);
  const failures: { url: string; error: string }[] = [];
  await Promise.all(
    checked.map((url) =>
      limit(async () => {
        try {
          const { status } = await probe(url);
          if (status >= 400) failures.push({ url, error: `HTTP ${status}` });
        } catch (err) {
          failures.push({ url, error: err instanceof Error ? err.message : String(err) });
        }
      }),
    ),
  );
  return {
    id: 'source-links',
    status: failures.length ? 'warn' : 'pass',
    message: `${failures.length} of ${checked.length} link(s) failed to load${urls.length > checked.length ? ` (${urls.length - checked.length} not checked)` : ''}`,
    details: failures,
  };
}

/** The pre-send checklist (also run before approval). Failures block approval; warnings do not. */
export async function checkIssue(
  deps: Pick<EditorialDeps, 'db'> & { render?: RenderFn; probeLink?: LinkProbe },
  issueId: number,
): Promise<Checklist> {
  const issue = await loadRenderableIssue(deps.db, issueId);
  const checks = [
    ...contentChecks(issue),
    ...(await renderChecks(issue, deps.render)),
    await linkChecks(issue, deps.probeLink),
  ];
  return { issueId, revision: issue.revision, ok: checks.every((c) => c.status !== 'fail'), checks };
}
