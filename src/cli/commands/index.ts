import type { Command } from 'commander';
import { issueCommandHooks } from '../../app/cli-hooks.js';
import type { CliRuntime } from '../runtime.js';
import { registerDbCommands } from './db.js';
import { registerIssueCommands } from './issues.js';
import { registerOpsCommands } from './ops.js';
import { registerRelayCommands } from './relays.js';
import { registerRenderCommands } from './render.js';
import { registerSendCommands } from './send.js';
import { registerSourceCommands } from './sources.js';
import { registerSubscriberCommands } from './subscribers.js';
import { registerTrackingCommands } from './tracking.js';
import { registerUserCommands } from './users.js';

/**
 * Each stage registers its own commands from its own file, so stages do not edit each other's
 * code. Add a register call here when a stage adds a file.
 */
export function registerCommands(program: Command, runtime: CliRuntime): void {
  registerDbCommands(program, runtime);
  registerRenderCommands(program, runtime);
  registerIssueCommands(program, runtime, issueCommandHooks(runtime));
  registerOpsCommands(program, runtime);
  registerSubscriberCommands(program, runtime);
  registerSendCommands(program, runtime);
  registerTrackingCommands(program, runtime);
  registerSourceCommands(program, runtime);
  registerUserCommands(program, runtime);
  registerRelayCommands(program, runtime);
}
