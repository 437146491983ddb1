import type { Command } from 'commander';

/** Who the audit log names for a change made from the command line. */
export const defaultActor = (): string => process.env.GAZETTE_ACTOR ?? process.env.USER ?? 'cli';

/** Adds `--actor <name>` (default: $GAZETTE_ACTOR, else $USER) to a command that changes an issue. */
export const actorOption = (cmd: Command): Command =>
  cmd.option('--actor <name>', 'who is making the change (audit log)', defaultActor());
