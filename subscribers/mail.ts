/**
 * How the subscriber domain hands a message to SMTP. The caller wires src/http/mail-transport.ts,
 * which builds, signs and envelopes it like every other message (no headers of our own here).
 */
export type SendMail = (msg: {
  to: string;
  subject: string;
  html: string;
  text: string;
}) => Promise<{ messageId?: string }>;
