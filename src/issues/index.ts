export { type IssueEditorRoutesOptions, issueEditorRoutes } from '../http/api/issues.js';
export { type ArchiveRoutesOptions, archivePageHtml, archiveRoutes } from '../http/public/archive.js';
export { type AssembleResult, assembleDraft } from './assemble.js';
export {
  type CheckEntry,
  type Checklist,
  checkIssue,
  contentChecks,
  GMAIL_CLIP_BYTES,
  type LinkProbe,
  type RenderFn,
  sectionSubsets,
} from './check.js';
export { type DuplicateResult, duplicateIssue, latestIssueId } from './duplicate.js';
export {
  addIssueItem,
  EditConflictError,
  type EditExpectation,
  moveIssueItem,
  type NewIssueItem,
  removeIssueItem,
  reorderIssueSections,
  updateIssueFields,
  updateIssueItem,
} from './edit.js';
export { exportIssue, type ImportResult, importIssueMarkdown, MarkdownImportError } from './import.js';
export {
  approveIssue,
  ChecklistFailedError,
  scheduleJobId,
  transitionIssue,
} from './lifecycle.js';
export { defaultSubject, loadIssueDocument, loadIssueSections, loadRenderableIssue } from './load.js';
export { exportIssueMarkdown, type IssueDocument } from './markdown-export.js';
export {
  type ParsedIssue,
  type ParsedItem,
  type ParsedSection,
  type ParseOptions,
  parseIssueMarkdown,
  parseSources,
} from './markdown-parse.js';
export { nextPeriod, parsePeriod, periodWindow, previousPeriod } from './period.js';
export {
  type DueDecision,
  decideDueIssue,
  parseScheduleTime,
  rescheduleIssue,
  resumeScheduledIssues,
  type ScheduledSendJob,
  scheduleIssue,
  unscheduleIssue,
} from './schedule.js';
export {
  canTransition,
  IllegalIssueTransitionError,
  ISSUE_ACTIONS,
  type IssueAction,
  nextIssueState,
} from './state-machine.js';
export { type EditorialDeps, getIssue, IssueNotFoundError, listAudit } from './store.js';
export { type SendMailFn, testSend } from './test-send.js';
