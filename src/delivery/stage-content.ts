import { suppress } from '../../subscribers/suppression.js';
import { recipientLinks } from '../security/recipient-links.js';
import { ContentError, type DeliveryContent } from './deps.js';

/**
 * The real editorial, rendering and subscriber stages, as delivery uses them. Loading and
 * compiling an issue are imported on first use: a send worker compiles only when its resume scan
 * finishes an interrupted preparation, and the renderer (MJML and its dependencies) would
 * otherwise add about 25 MB to every worker process.
 */
export const stageContent: DeliveryContent = {
  loadIssue: async (db, issueId) => (await import('../issues/load.js')).loadRenderableIssue(db, issueId),
  compileVariant: async (db, issue, opts) => {
    const [{ getOrCompileVariant }, { applyLinkTracking }, { TemplateError }, { NoSectionsToRenderError }] =
      await Promise.all([
        import('../rendering/variant-cache.js'),
        import('../tracking/compile.js'),
        import('../rendering/errors.js'),
        import('../rendering/compile-variant.js'),
      ]);
    try {
      return await getOrCompileVariant(db, issue, {
        ...opts,
        // Click tracking rewrites each variant's links once, at compile time, never per recipient.
        ...(issue.trackingEnabled
          ? {
              transformHtml: async (html: string) =>
                (await applyLinkTracking(db, { issueId: issue.id, publicUrl: opts.publicUrl, html })).html,
            }
          : {}),
      });
    } catch (err) {
      // A template or content problem fails the send; anything else (the database) may pass.
      if (err instanceof TemplateError || err instanceof NoSectionsToRenderError) {
        throw new ContentError(`variant ${opts.sectionKeys.join('+') || '(none)'}: ${err.message}`, {
          cause: err,
        });
      }
      throw err;
    }
  },
  recipientLinks: (secrets, publicUrl, ids) => recipientLinks(secrets, publicUrl, ids),
  suppress: (db, entry) => suppress(db, entry),
};
