/** The tracking stage's public surface (see each module for details). */
export { deliveryIdFromVerp, handleInboundReport, startBounceReceiver } from './bounce-receiver.js';
export { applyLinkTracking, issueSourceSections } from './compile.js';
export { EventWriter, type TrackEvent } from './event-writer.js';
export { type MailFeedback, recordFeedback } from './feedback.js';
export { loadIssueLinks, registerIssueLinks } from './issue-links.js';
export {
  clickUrl,
  openPixelHtml,
  openPixelUrl,
  rewriteLinksForTracking,
  trackableUrls,
  trackingEnabledFor,
} from './links.js';
export { detectMailProxy } from './proxy.js';
export { parseReport } from './report-parse.js';

export { formatIssueStatistics, type IssueStatistics, issueStatistics } from './stats.js';
