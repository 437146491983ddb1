import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { ProblemError } from '../src/problem.js';
import { hasControl } from './text.js';

export type EmailErrorCode =
  | 'email-missing'
  | 'email-line-break'
  | 'email-control'
  | 'email-empty'
  | 'email-too-long'
  | 'email-bad-char'
  | 'email-no-at'
  | 'email-many-at'
  | 'email-no-local'
  | 'email-local-too-long'
  | 'email-local-char'
  | 'email-formula-start'
  | 'email-no-domain'
  | 'email-bad-domain';

export class InvalidEmailError extends ProblemError<EmailErrorCode> {
  override name = 'InvalidEmailError';
  declare readonly code: EmailErrorCode;
}

// Printable ASCII allowed in an unquoted local part (RFC 5322 atext and dots); quoted local parts
// are refused on purpose: nobody subscribes with one and they widen the injection surface.
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Validates an address and returns its normalised form (trimmed, lower-case, IDN domain in
 * punycode). Refuses anything that could change a mail header: CR, LF, other control
 * characters, angle brackets, commas, spaces, quotes.
 */
export function normalizeEmail(raw: unknown): string {
  if (typeof raw !== 'string') throw new InvalidEmailError('Email address is missing', 'email-missing');
  if (/[\r\n]/.test(raw))
    throw new InvalidEmailError('Email address contains a line break', 'email-line-break');
  if (hasControl(raw))
    throw new InvalidEmailError('Email address contains a control character', 'email-control');
  const trimmed = raw.trim();
  if (!trimmed) throw new InvalidEmailError('Email address is empty', 'email-empty');
  if (trimmed.length > 254)
    throw new InvalidEmailError('Email address is longer than 254 characters', 'email-too-long');
  if (/[\s<>(),;:"[\]\\]/.test(trimmed)) {
    throw new InvalidEmailError(
      'Email address contains a space or one of < > ( ) , ; : " [ ] \\',
      'email-bad-char',
    );
  }
  const at = trimmed.lastIndexOf('@');
  if (at < 0) throw new InvalidEmailError('Email address has no @', 'email-no-at');
  if (trimmed.indexOf('@') !== at)
    throw new InvalidEmailError('Email address has more than one @', 'email-many-at');
  const local = trimmed.slice(0, at);
  const domainRaw = trimmed.slice(at + 1);
  if (!local) throw new InvalidEmailError('Email address has nothing before the @', 'email-no-local');
  if (local.length > 64)
    throw new InvalidEmailError(
      'Email address local part is longer than 64 characters',
      'email-local-too-long',
    );
  // A spreadsheet would run such an address as a formula (CSV injection); no mailbox needs one.
  if (/^[=+-]/.test(local))
    throw new InvalidEmailError('Email address starts with = + or -', 'email-formula-start');
  if (!LOCAL_PART.test(local))
    throw new InvalidEmailError('Email address local part has a character not allowed', 'email-local-char');
  if (!domainRaw) throw new InvalidEmailError('Email address has no domain after the @', 'email-no-domain');
  const domain = domainToASCII(domainRaw.toLowerCase());
  if (!domain)
    throw new InvalidEmailError('Email address domain is not a valid domain name', 'email-bad-domain');
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels.at(-1) ?? '')) {
    throw new InvalidEmailError('Email address domain is not a valid domain name', 'email-bad-domain');
  }
  return `${local.toLowerCase()}@${domain}`;
}

/** The domain of a normalised address. */
export function emailDomain(normalized: string): string {
  return normalized.slice(normalized.lastIndexOf('@') + 1);
}

/** What an erased subscriber leaves behind: SHA-256 of the normalised address, hex. */
export function emailHash(normalized: string): string {
  return createHash('sha256').update(normalized).digest('hex');
}
