import pLimit from 'p-limit';
import stringWidth from 'string-width';
import { LOCALES, type Locale, type Publication } from '../db/schema.js';
import { getPublication } from '../publication/publication.js';
import { senderState } from '../publication/sender.js';
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
  /**
   * What the check found, as a stable code (`<id>.<finding>`) and its figures: the pages word it
   * in the editor's language from these (one wording for the editor and the send page).
   */
  code: string;
  params: Record<string, string | number>;
  /** The same in English, for the CLI, the JSON API and logs. */
  message: string;
  details?: unknown[];
}

/** One check result (pure): its code's params are what the English message says too. */
function entry(
  id: string,
  status: CheckStatus,
  finding: string,
  message: string,
  params: Record<string, string | number> = {},
  details?: unknown[],
): CheckEntry {
  return { id, status, code: `${id}.${finding}`, params, message, ...(details ? { details } : {}) };
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
      ? entry('empty-issue', 'fail', 'none', 'the issue has no items')
      : entry('empty-issue', 'pass', 'count', `${items.length} items`, { n: items.length }),
  );
  checks.push(
    empty.length
      ? entry(
          'empty-sections',
          'warn',
          'some',
          `${empty.length} empty section(s)`,
          { n: empty.length },
          empty,
        )
      : entry('empty-sections', 'pass', 'none', 'every section has items'),
  );

  const noSummary = items.filter((i) => !i.summary.trim()).map((i) => ({ id: i.id, title: i.title }));
  checks.push(
    noSummary.length
      ? entry(
          'items-without-summary',
          'warn',
          'some',
          `${noSummary.length} item(s) without summary`,
          { n: noSummary.length },
          noSummary,
        )
      : entry('items-without-summary', 'pass', 'none', 'every item has a summary'),
  );
  const noSource = items.filter((i) => i.sources.length === 0).map((i) => ({ id: i.id, title: i.title }));
  checks.push(
    noSource.length
      ? entry(
          'items-without-source',
          'warn',
          'some',
          `${noSource.length} item(s) without source`,
          { n: noSource.length },
          noSource,
        )
      : entry('items-without-source', 'pass', 'none', 'every item has a source'),
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
      ? entry(
          'duplicate-items',
          'warn',
          'some',
          `${duplicates.length} duplicate title(s) or source(s)`,
          { n: duplicates.length },
          duplicates,
        )
      : entry('duplicate-items', 'pass', 'none', 'no duplicates'),
  );

  const subjectWidth = stringWidth(issue.subject);
  checks.push(
    !issue.subject.trim()
      ? entry('subject-length', 'fail', 'empty', 'the issue has no subject')
      : entry(
          'subject-length',
          subjectWidth > SUBJECT_MAX_WIDTH ? 'warn' : 'pass',
          'width',
          `subject display width ${subjectWidth} (limit ${SUBJECT_MAX_WIDTH}; a CJK character counts as two)`,
          { width: subjectWidth, limit: SUBJECT_MAX_WIDTH },
        ),
  );
  const preheaderWidth = stringWidth(issue.preheader);
  checks.push(
    issue.preheader.trim()
      ? entry(
          'preheader-length',
          preheaderWidth > PREHEADER_MAX_WIDTH ? 'warn' : 'pass',
          'width',
          `preheader display width ${preheaderWidth} (limit ${PREHEADER_MAX_WIDTH})`,
          { width: preheaderWidth, limit: PREHEADER_MAX_WIDTH },
        )
      : entry(
          'preheader-length',
          'warn',
          'empty',
          'no preheader: clients will show the first text of the email instead',
        ),
  );
  return checks;
}

async function renderChecks(issue: RenderableIssue, render: RenderFn | undefined): Promise<CheckEntry[]> {
  if (!render) {
    const skipped = 'skipped: no renderer given';
    return [
      entry('variant-html-size', 'skipped', 'no-renderer', skipped),
      entry('template-errors', 'skipped', 'no-renderer', skipped),
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
    over.length
      ? entry(
          'variant-html-size',
          'warn',
          'over',
          `${over.length} of ${sizes.length} variant(s) exceed Gmail's ${GMAIL_CLIP_BYTES} byte clipping limit`,
          { over: over.length, total: sizes.length, limit: GMAIL_CLIP_BYTES },
          sizes,
        )
      : entry(
          'variant-html-size',
          sizes.length ? 'pass' : 'skipped',
          'largest',
          `largest variant ${largest} bytes of ${GMAIL_CLIP_BYTES}`,
          { bytes: largest, limit: GMAIL_CLIP_BYTES },
          sizes,
        ),
    errors.length
      ? entry(
          'template-errors',
          'fail',
          'failed',
          `${errors.length} variant(s) failed to render`,
          { n: errors.length },
          errors,
        )
      : entry('template-errors', 'pass', 'rendered', `${variants.length} variant(s) rendered`, {
          n: variants.length,
        }),
  ];
}

async function linkChecks(issue: RenderableIssue, probe: LinkProbe | undefined): Promise<CheckEntry> {
  if (!probe)
    return entry('source-links', 'skipped', 'not-requested', 'skipped: link checking not requested');
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
  const unchecked = urls.length - checked.length;
  return entry(
    'source-links',
    failures.length ? 'warn' : 'pass',
    'failed',
    `${failures.length} of ${checked.length} link(s) failed to load${unchecked ? ` (${unchecked} not checked)` : ''}`,
    { failed: failures.length, checked: checked.length, unchecked },
    failures,
  );
}

/**
 * Who the issue is from (pure): a local sender (newsletter@localhost) reaches nobody and one not
 * verified may be a typo or someone else's address, so both block; a missing postal address only
 * warns (CAN-SPAM and most providers' terms ask for one in every message).
 */
export function senderChecks(
  pub: Pick<Publication, 'from_email' | 'sender_verified_email' | 'postal_address'> | undefined,
): CheckEntry[] {
  const email = pub?.from_email ?? '';
  const state = senderState(pub);
  return [
    state === 'local'
      ? entry(
          'sender',
          'fail',
          'local',
          `the sender ${email || '(none)'} is a local address that reaches nobody`,
          {
            email,
          },
        )
      : state === 'unverified'
        ? entry(
            'sender',
            'fail',
            'unverified',
            `the sender ${email} is not verified: open the link mailed to it (settings)`,
            { email },
          )
        : entry('sender', 'pass', 'verified', `the sender ${email} is verified`, { email }),
    pub?.postal_address?.trim()
      ? entry('postal-address', 'pass', 'present', 'the footer carries the postal address')
      : entry(
          'postal-address',
          'warn',
          'missing',
          'no postal address: the footer of every message should carry one (settings)',
        ),
  ];
}

/** The pre-send checklist (also run before approval). Failures block approval; warnings do not. */
export async function checkIssue(
  deps: Pick<EditorialDeps, 'db'> & { render?: RenderFn; probeLink?: LinkProbe },
  issueId: number,
): Promise<Checklist> {
  const issue = await loadRenderableIssue(deps.db, issueId);
  const publication = await getPublication(deps.db);
  const checks = [
    ...senderChecks(publication),
    ...contentChecks(issue),
    ...(await renderChecks(issue, deps.render)),
    await linkChecks(issue, deps.probeLink),
  ];
  return { issueId, revision: issue.revision, ok: checks.every((c) => c.status !== 'fail'), checks };
}
