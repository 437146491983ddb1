/** How the subscriber domain hands a message to SMTP; the caller wires a nodemailer transport. */
export type SendMail = (msg: {
  to: string;
  subject: string;
  html: string;
  text: string;
  headers?: Record<string, string>;
}) => Promise<{ messageId?: string }>;
