import type { Db } from '../db/schema.js';
import { type IssueLink, loadIssueLinks } from './issue-links.js';

/**
 * issue_links rows never change once mail points at them, so the redirect keeps them in memory:
 * the first click of an issue loads all its links in one query, later clicks touch no database.
 * An unknown id reloads the issue at most once per `reloadAfterMs` (links added by a recompile),
 * so guessing ids cannot turn into a query per request.
 */
export class LinkCache {
  private issues = new Map<number, { links: Map<number, IssueLink>; loadedAt: number }>();
  private loading = new Map<number, Promise<Map<number, IssueLink>>>();

  constructor(
    private readonly db: Db,
    private readonly opts: { reloadAfterMs?: number; maxIssues?: number; now?: () => number } = {},
  ) {}

  async get(issueId: number, linkId: number): Promise<IssueLink | undefined> {
    const now = (this.opts.now ?? Date.now)();
    const cached = this.issues.get(issueId);
    if (cached) {
      const hit = cached.links.get(linkId);
      if (hit || now - cached.loadedAt < (this.opts.reloadAfterMs ?? 30_000)) return hit;
    }
    return (await this.load(issueId)).get(linkId);
  }

  private load(issueId: number): Promise<Map<number, IssueLink>> {
    let pending = this.loading.get(issueId);
    if (!pending) {
      pending = loadIssueLinks(this.db, issueId)
        .then((rows) => {
          const links = new Map(rows.map((l) => [l.id, l]));
          if (this.issues.size >= (this.opts.maxIssues ?? 200))
            this.issues.delete(this.issues.keys().next().value as number);
          this.issues.set(issueId, { links, loadedAt: (this.opts.now ?? Date.now)() });
          return links;
        })
        .finally(() => this.loading.delete(issueId));
      this.loading.set(issueId, pending);
    }
    return pending;
  }
}
