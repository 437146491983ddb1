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

/** Why an address is refused, without an exception (the importer checks a million rows). */
export interface EmailRefusal {
  code: EmailErrorCode;
  message: string;
}

const refuse = (message: string, code: EmailErrorCode): EmailRefusal => ({ code, message });

/**
 * Validates an address and returns its normalised form (trimmed, lower-case, IDN domain in
 * punycode). Refuses anything that could change a mail header: CR, LF, other control
 * characters, angle brackets, commas, spaces, quotes.
 */
export function normalizeEmail(raw: unknown): string {
  const checked = checkEmail(raw);
  if (typeof checked === 'string') return checked;
  throw new InvalidEmailError(checked.message, checked.code);
}

/**
 * normalizeEmail's rules, answering the refusal instead of throwing it: an exception per bad row
 * (its stack trace, source-mapped under tsx) was most of the cost of importing a broken file.
 */
export function checkEmail(raw: unknown): string | EmailRefusal {
  if (typeof raw !== 'string') return refuse('Email address is missing', 'email-missing');
  if (/[\r\n]/.test(raw)) return refuse('Email address contains a line break', 'email-line-break');
  if (hasControl(raw)) return refuse('Email address contains a control character', 'email-control');
  const trimmed = raw.trim();
  if (!trimmed) return refuse('Email address is empty', 'email-empty');
  if (trimmed.length > 254) return refuse('Email address is longer than 254 characters', 'email-too-long');
  if (/[\s<>(),;:"[\]\\]/.test(trimmed))
    return refuse('Email address contains a space or one of < > ( ) , ; : " [ ] \\', 'email-bad-char');
  const at = trimmed.lastIndexOf('@');
  if (at < 0) return refuse('Email address has no @', 'email-no-at');
  if (trimmed.indexOf('@') !== at) return refuse('Email address has more than one @', 'email-many-at');
  const local = trimmed.slice(0, at);
  const domainRaw = trimmed.slice(at + 1);
  if (!local) return refuse('Email address has nothing before the @', 'email-no-local');
  if (local.length > 64)
    return refuse('Email address local part is longer than 64 characters', 'email-local-too-long');
  // A spreadsheet would run such an address as a formula (CSV injection); no mailbox needs one.
  if (/^[=+-]/.test(local)) return refuse('Email address starts with = + or -', 'email-formula-start');
  if (!LOCAL_PART.test(local))
    return refuse('Email address local part has a character not allowed', 'email-local-char');
  if (!domainRaw) return refuse('Email address has no domain after the @', 'email-no-domain');
  const domain = domainToASCII(domainRaw.toLowerCase());
  if (!domain) return refuse('Email address domain is not a valid domain name', 'email-bad-domain');
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels.at(-1) ?? ''))
    return refuse('Email address domain is not a valid domain name', 'email-bad-domain');
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
