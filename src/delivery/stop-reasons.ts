import type { Locale } from '../db/schema.js';
import type { RelayRestState } from './relay-rest.js';

/**
 * Why a send stopped or a relay rests, in words, from the stable code kept in issues.pause_reason
 * (or a relay rest) and the relay's own reply. One table for the CLI and logs (en) and the send
 * page (both locales). Pure.
 */
const REASONS: Record<Locale, Record<string, string>> = {
  'zh-CN': {
    operator: '操作员暂停了发送。',
    cancelling: '正在取消发送。',
    smtp_auth: '邮件服务器拒绝了登录（用户名或密码错误），请检查 SMTP 设置后继续发送。',
    smtp_tls: '无法与邮件服务器建立加密连接（TLS/证书问题），请检查 SMTP 设置后继续发送。',
    failure_rate: '最近发送的邮件中失败比例过高，已自动暂停；请查看失败原因后继续发送。',
    relay_connection: '与邮件服务器的连接反复中断；服务器恢复应答后将自动继续发送。',
    throttled: '邮件服务器要求放慢发送速度，暂停片刻后自动继续。',
    unreachable: '无法连接邮件服务器，稍后自动重试。',
    content: '本期内容无法生成邮件：{detail}',
    unknownReason: '原因：{code}',
    reply: '服务器回复：“{reply}”',
    rest: '发信服务器 {relay} 暂停使用（还有 {s} 秒，之后先试发一封）：',
  },
  en: {
    operator: 'An operator paused the send.',
    cancelling: 'The send is being cancelled.',
    smtp_auth:
      'The mail server refused the login (wrong user name or password); check the SMTP settings, then resume.',
    smtp_tls:
      'No encrypted connection to the mail server could be made (TLS or certificate problem); check the SMTP settings, then resume.',
    failure_rate:
      'Too many of the latest messages failed, so the send paused; look at why they failed, then resume.',
    relay_connection:
      'Connections to the mail server kept breaking; the send resumes by itself once the server answers again.',
    throttled: 'The mail server asked us to slow down; sending rests briefly and then resumes by itself.',
    unreachable: 'The mail server cannot be reached; sending tries again by itself.',
    content: 'The issue cannot be made into email: {detail}',
    unknownReason: 'Reason: {code}',
    reply: 'The server replied: “{reply}”',
    rest: 'Relay {relay} rests ({s} s more, then one message probes it): ',
  },
};

function fill(text: string, values: Record<string, string>): string {
  return text.replace(/\{(\w+)\}/g, (whole, k: string) => values[k] ?? whole);
}

/** The reason in words, followed by the relay's reply when there is one. */
export function describeReason(locale: Locale, code: string, reply?: string | null): string {
  const t = REASONS[locale];
  const colon = code.indexOf(':');
  const head = colon > 0 ? code.slice(0, colon) : code;
  const detail = colon > 0 ? code.slice(colon + 1).trim() : '';
  const text = t[head] ? fill(t[head], { detail }) : fill(t.unknownReason as string, { code });
  return reply ? `${text} ${fill(t.reply as string, { reply: reply.trim() })}` : text;
}

/** A relay's rest in words: which relay, how long still, why, and its reply. */
export function describeRest(locale: Locale, rest: RelayRestState, now = Date.now()): string {
  const s = String(Math.max(0, Math.ceil((rest.until - now) / 1000)));
  return (
    fill(REASONS[locale].rest as string, { relay: rest.relay, s }) +
    describeReason(locale, rest.reason, rest.reply)
  );
}
