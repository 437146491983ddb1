import { createInterface } from 'node:readline';
import { UsageError } from './errors.js';

/**
 * The first line of stdin: how secrets reach a command (a password on the command line would be
 * visible to every user of the machine in the process list and kept in shell history).
 */
export async function readFirstLine(option: string, input: NodeJS.ReadableStream): Promise<string> {
  const rl = createInterface({ input, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  throw new UsageError(`${option} was given but stdin was empty`);
}
