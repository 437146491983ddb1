import type { Env } from '../config/env.js';
import type { Db } from '../db/schema.js';
import type { DkimSigner } from './dkim.js';
import { issueHeaders } from './issue-headers.js';
import { buildMimeTemplate, type MimeTemplate } from './mime.js';
import { loadSender, type Sender } from './sender.js';

export interface IssueInfo {
  revision: number;
  sender: Sender;
}

/**
 * A send worker's cache of what every message of an issue shares: the issue's revision and
 * sender, read once per issue, and each variant's MIME template, built once per (issue revision,
 * variant, body encoding) (invariant 4). Forget an issue when it is finished.
 */
export class MessageCache {
  private readonly issues = new Map<number, IssueInfo>();
  private readonly templates = new Map<string, MimeTemplate>();

  constructor(
    private readonly db: Db,
    private readonly env: Env,
    private readonly dkim: DkimSigner | undefined,
  ) {}

  async issue(issueId: number): Promise<IssueInfo> {
    const cached = this.issues.get(issueId);
    if (cached) return cached;
    const issue = await this.db
      .selectFrom('issues')
      .select(['revision'])
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    const info: IssueInfo = { revision: issue.revision, sender: await loadSender(this.db, this.env) };
    this.issues.set(issueId, info);
    return info;
  }

  /** The variant's template for a relay with (or without) 8BITMIME. */
  async template(
    issueId: number,
    info: IssueInfo,
    variantKey: string,
    eightBit: boolean,
  ): Promise<MimeTemplate> {
    const key = `${issueId}/${info.revision}/${variantKey}/${eightBit ? 8 : 64}`;
    const cached = this.templates.get(key);
    if (cached) return cached;
    const v = await this.db
      .selectFrom('issue_variants')
      .select(['subject', 'html', 'text'])
      .where('issue_id', '=', issueId)
      .where('revision', '=', info.revision)
      .where('variant_key', '=', variantKey)
      .executeTakeFirst();
    if (!v)
      throw new Error(`issue ${issueId} revision ${info.revision}: variant ${variantKey} was never compiled`);
    const t = buildMimeTemplate(
      { variantKey, subject: v.subject, html: v.html, text: v.text },
      issueHeaders(issueId, info.sender, { eightBit, dkim: this.dkim }),
    );
    this.templates.set(key, t);
    return t;
  }

  forget(issueId: number): void {
    for (const k of this.templates.keys()) if (k.startsWith(`${issueId}/`)) this.templates.delete(k);
    this.issues.delete(issueId);
  }
}
