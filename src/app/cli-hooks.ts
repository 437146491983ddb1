import type { IssueCommandHooks } from '../cli/commands/issues.js';
import type { CliRuntime } from '../cli/runtime.js';
import { storedRelaySpecs } from '../delivery/relay-store.js';
import { loadSender } from '../delivery/sender.js';
import { createSendMail } from '../http/mail-transport.js';
import { createLinkProbe } from '../issues/link-probe.js';
import { previewRenderer } from './preview.js';

/**
 * Binds the editorial commands to the other stages: the renderer, the mail transport and the
 * safe fetcher. Each reads the environment when first called, so `--help` needs no configuration.
 */
export function issueCommandHooks(runtime: CliRuntime): IssueCommandHooks {
  return {
    render: (issue, sectionKeys, locale) =>
      previewRenderer(runtime.env().PUBLIC_URL)(issue, sectionKeys, locale),
    sendMail: async (msg) => {
      const ctx = await runtime.context();
      const mail = await createSendMail(
        ctx.env,
        () => storedRelaySpecs(ctx.db, ctx.secrets),
        () => loadSender(ctx.db, ctx.env),
      );
      try {
        await mail.sendMail(msg);
      } finally {
        await mail.close();
      }
    },
    probeLink: (url) => createLinkProbe(runtime.env())(url),
  };
}
