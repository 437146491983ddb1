import type { Queue } from 'bullmq';
import type { SendMail } from '../../../subscribers/mail.js';
import type { AppContext } from '../../context.js';
import type { LinkProbe, RenderFn } from '../../issues/check.js';
import type { AdminRenderer } from './render.js';

/** What every page of the editors' app is given; pages import no singletons. */
export interface WebDeps {
  ctx: AppContext;
  /** Sends one message (sign-in notices, "send a test to me"). */
  sendMail: SendMail;
  /** The issue renderer used by the checklist and preview (variant-cached). */
  render: RenderFn;
  probeLink: LinkProbe;
  pages: AdminRenderer;
  /** A BullMQ queue by name (QUEUES in src/queue/names.ts), opened once and closed with the server. */
  queue(name: string): Queue;
}
