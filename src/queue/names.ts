/** BullMQ queue names. Payloads carry ids only, never content (DESIGN.md invariant 2). */
export const QUEUES = {
  /** Poll one source: { sourceId }. One job scheduler per source. */
  feeds: 'feeds',
  /** Issue lifecycle jobs: { issueId, action: 'start' | 'prepare' | 'finish' } (scheduled sends are delayed jobs). */
  issues: 'issues',
  /** Send a batch: { issueId, deliveryIds } or { issueId, fromId, toId }. */
  send: 'send',
  /** Archive upkeep: one job scheduler, empty payload (snapshots, search index, link check); { issueId } on approval. */
  archive: 'archive',
  /** Run one stored subscriber CSV import: { importId }. One at a time across all workers (global concurrency 1). */
  imports: 'imports',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
