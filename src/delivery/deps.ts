import type { Env } from '../config/env.js';
import type { SecretKeys } from '../config/secret.js';
import type { Db, Locale } from '../db/schema.js';
import type { Logger } from '../log.js';
import type { RenderableIssue } from '../rendering/types.js';

/** A compiled variant as the rendering stage returns it (only the fields delivery needs). */
export interface CompiledVariantLike {
  subject: string;
  html: string;
  text: string;
  htmlBytes?: number;
  textBytes?: number;
  warnings?: string[];
}

import type { RecipientLinks } from '../security/recipient-links.js';

export type { RecipientLinks };

/**
 * What delivery uses from other stages (editorial, rendering, subscribers). Passed in, so the
 * engine is tested against real databases and SMTP without depending on how those stages work;
 * src/delivery/stage-content.ts binds the real implementations.
 */
export interface DeliveryContent {
  loadIssue(db: Db, issueId: number): Promise<RenderableIssue>;
  compileVariant(
    db: Db,
    issue: RenderableIssue,
    opts: { sectionKeys: string[]; locale: Locale; publicUrl: string },
  ): Promise<CompiledVariantLike>;
  recipientLinks(
    secrets: SecretKeys,
    publicUrl: string,
    ids: { subscriberId: number; issueId: number; deliveryId: number },
  ): RecipientLinks;
  suppress(
    db: Db,
    entry: { kind: 'address'; value: string; reason: 'smtp_rejected' | 'hard_bounce' },
  ): Promise<unknown>;
}

/**
 * The issue's content cannot be rendered (a template error, nothing to render, no such issue):
 * retrying will not help, so the send fails instead of being retried. DeliveryContent
 * implementations throw it for those cases.
 */
export class ContentError extends Error {
  override name = 'ContentError';
}

export interface DeliveryDeps {
  db: Db;
  log: Logger;
  env: Env;
  secrets: SecretKeys;
  now: () => Date;
  content: DeliveryContent;
}

/** BullMQ connection for delivery queues: a Redis URL and the key prefix. */
export interface QueueConnection {
  url: string;
  prefix: string;
}

/** A send job: an issue and an inclusive range of delivery ids. Never content (invariant 2). */
export interface SendJobData {
  issueId: number;
  fromId: number;
  toId: number;
}
