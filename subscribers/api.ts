export {
  applyBulkAction,
  BulkActionError,
  type BulkChange,
  type BulkResult,
  type BulkSelection,
  listBulkActions,
  MAX_TICKED,
  recordBulkExport,
} from './bulk.js';
export { alreadySubscribedMail, confirmationMail } from './confirmation-mail.js';
export { exportSubscribersCsv, neutraliseCell } from './csv-export.js';
export {
  CsvImportError,
  type ImportOptions,
  type ImportSummary,
  importSubscribersCsv,
} from './csv-import.js';
export { emailDomain, emailHash, InvalidEmailError, normalizeEmail } from './email.js';
export { type SubscriberDelivery, type SubscriberEvent, subscriberHistory } from './history.js';
export {
  failImport,
  getImport,
  type ImportRecord,
  type ImportRefusal,
  importRefusals,
  listImports,
  MAX_RUNS,
  REFUSALS_KEPT,
  runImport,
  storeImport,
  unfinishedImports,
} from './import-jobs.js';
export { IMPORT_JOB_OPTIONS, type ImportRequests, importJobId, queueImportRequests } from './import-queue.js';
export { markBounced, markComplained } from './lifecycle.js';
export type { SendMail } from './mail.js';
export { confirmSubscription, requestSubscription } from './opt-in.js';
export { eraseSubscriber, exportSubscriberData } from './privacy.js';
export { UnknownSectionError } from './sections.js';
export {
  addSubscriber,
  countSubscribers,
  filterOf,
  getSubscriber,
  getSubscriberByEmail,
  listSubscribers,
  matchingSubscriberIds,
  SUBSCRIBER_SORTS,
  SubscriberError,
  type SubscriberFilter,
  type SubscriberRecord,
  type SubscriberSort,
  subscriberCursor,
  updateSubscriber,
} from './store.js';
export {
  isSuppressed,
  listSuppressions,
  notSuppressed,
  notSuppressedAs,
  notSuppressedSql,
  suppress,
  suppressionAudit,
  suppressionsFor,
  unsuppress,
} from './suppression.js';
export { unsubscribeAll, unsubscribeFromSection } from './unsubscribe.js';
