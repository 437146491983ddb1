import { hash, verify } from '@node-rs/argon2';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';

/**
 * argon2id with OWASP's second recommended setting (19 MiB, 2 passes, 1 lane): slow enough to
 * make a stolen table expensive, fast enough (~30 ms here) that sign-in stays quick.
 */
/** Algorithm.Argon2id: a const enum, which isolated modules cannot import. */
const ARGON2ID = 2;
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 12;

export type WeakPasswordReason = 'short' | 'long' | 'guessable';

export class WeakPasswordError extends Error {
  constructor(
    message: string,
    readonly reason: WeakPasswordReason,
  ) {
    super(message);
    this.name = 'WeakPasswordError';
  }
}

/**
 * zxcvbn's estimate with its common-password and English word lists, bundled (no network). Score 3
 * ("safely unguessable: moderate protection from offline slow-hash attacks") is the floor.
 */
const estimator = new ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...en.dictionary },
  graphs: common.adjacencyGraphs,
});
const MIN_SCORE = 3;

/** Length over composition rules (NIST SP 800-63B), and not a common or guessable password. */
export function checkPasswordPolicy(password: string, userInputs: string[] = []): void {
  if ([...password.trim()].length < MIN_PASSWORD_LENGTH)
    throw new WeakPasswordError(
      `the password must be at least ${MIN_PASSWORD_LENGTH} characters long`,
      'short',
    );
  if (password.length > 1024)
    throw new WeakPasswordError('the password must be at most 1024 characters long', 'long');
  // zxcvbn's cost grows with length; its first 100 characters tell enough.
  if (estimator.check(password.slice(0, 100), userInputs).score < MIN_SCORE)
    throw new WeakPasswordError(
      'the password is too easy to guess (a common password, a word, a pattern or a repetition); use a longer phrase',
      'guessable',
    );
}

export function hashPassword(password: string): Promise<string> {
  return hash(password.normalize('NFKC'), OPTIONS);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password.normalize('NFKC'));
  } catch {
    return false;
  }
}

/** A hash to verify against when the address is unknown, so both answers take the same time. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword('decoy password that matches nothing');
  return decoy;
}
