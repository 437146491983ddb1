/**
 * What other stages, the CLI, the workers and the demo call. Functions take the usual deps
 * (db, log, env, secrets, now); `content` (editorial, rendering, subscribers) defaults to the
 * real stages, and tests pass stand-ins.
 */
import * as control from './control.js';
import type { DeliveryContent, DeliveryDeps } from './deps.js';
import { type IssueStats, issueStats } from './ledger.js';
import { prepareIssue as prepare } from './prepare.js';
import type { SendQueue } from './queue.js';
import { resumeScan as scan } from './resume.js';
import type { SendWorker, SendWorkerOptions } from './send-worker.js';
import * as worker from './send-worker.js';
import { stageContent } from './stage-content.js';

export type BaseDeps = Omit<DeliveryDeps, 'content'> & { content?: DeliveryContent };

function full<T extends BaseDeps>(deps: T): T & DeliveryDeps {
  return { ...deps, content: deps.content ?? stageContent };
}

export const startIssueSend = (
  deps: BaseDeps & { queue: SendQueue; batchSize?: number },
  issueId: number,
  actor?: string,
) => control.startIssueSend(full(deps), issueId, actor);
export const prepareIssue = (deps: BaseDeps, issueId: number, opts: Parameters<typeof prepare>[2] = {}) =>
  prepare(full(deps), issueId, opts);
export const resumeIssue = (deps: BaseDeps & { queue: SendQueue }, issueId: number, actor?: string) =>
  control.resumeIssue(full(deps), issueId, actor);
export const resendUnknown = (deps: BaseDeps & { queue: SendQueue }, issueId: number, actor?: string) =>
  control.resendUnknown(full(deps), issueId, actor);
export const resumeScan = (deps: BaseDeps, opts: Parameters<typeof scan>[1]) => scan(full(deps), opts);
export const { pauseIssue, cancelIssue, IssueFailedError } = control;
export { classifySmtpReply, type SmtpDecision } from './classify.js';
export { type IssueStats, issueStats };
export const createSendWorker = (deps: BaseDeps & SendWorkerOptions) => worker.createSendWorker(full(deps));
export type { DeliveryContent, DeliveryDeps, QueueConnection, SendJobData } from './deps.js';
export { openSendQueue, type SendQueue } from './queue.js';
export type { SendWorker, SendWorkerOptions };
