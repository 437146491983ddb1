import { suppress } from '../../subscribers/suppression.js';
import { loadRenderableIssue } from '../issues/load.js';
import { getOrCompileVariant } from '../rendering/variant-cache.js';
import { recipientLinks } from '../security/recipient-links.js';
import { applyLinkTracking } from '../tracking/compile.js';
import type { DeliveryContent } from './deps.js';

/** The real editorial, rendering and subscriber stages, as delivery uses them. */
export const stageContent: DeliveryContent = {
  loadIssue: (db, issueId) => loadRenderableIssue(db, issueId),
  compileVariant: (db, issue, opts) =>
    getOrCompileVariant(db, issue, {
      ...opts,
      // Click tracking rewrites each variant's links once, at compile time, never per recipient.
      ...(issue.trackingEnabled
        ? {
            transformHtml: async (html: string) =>
              (await applyLinkTracking(db, { issueId: issue.id, publicUrl: opts.publicUrl, html })).html,
          }
        : {}),
    }),
  recipientLinks: (secrets, publicUrl, ids) => recipientLinks(secrets, publicUrl, ids),
  suppress: (db, entry) => suppress(db, entry),
};
