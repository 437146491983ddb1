import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { readMessage } from '../../src/tracking/report-mime.js';
import { parseReport } from '../../src/tracking/report-parse.js';

/** Chinese servers write their notices in GB2312/GBK/GB18030; they must read as the server wrote them. */
const notice = '很抱歉您的邮件没有发送成功。收件人邮箱不存在';
const word = (charset: string, text: string) =>
  `=?${charset}?B?${iconv.encode(text, charset).toString('base64')}?=`;

function message(charset: string, encoding: 'base64' | 'quoted-printable' | '8bit'): Buffer {
  const body = iconv.encode(`${notice}\r\n收件人：counsel@lawfirm.example.cn\r\n`, charset);
  const encoded =
    encoding === 'base64'
      ? Buffer.from(body.toString('base64'))
      : encoding === 'quoted-printable'
        ? Buffer.from(
            [...body]
              .map((b) =>
                b > 126 ? `=${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b),
              )
              .join(''),
          )
        : body;
  return Buffer.concat([
    Buffer.from(
      [
        `From: ${word(charset, '系统管理员')} <postmaster@lawfirm.example.cn>`,
        `Subject: ${word(charset, '系统退信')}`,
        `Content-Type: text/plain; charset=${charset}`,
        `Content-Transfer-Encoding: ${encoding}`,
        '',
        '',
      ].join('\r\n'),
    ),
    encoded,
  ]);
}

describe('reading report messages', () => {
  it.each([
    ['GB2312', 'base64'],
    ['GBK', 'quoted-printable'],
    ['GB18030', '8bit'],
  ] as const)('decodes %s bodies (%s) and encoded-word headers', async (charset, encoding) => {
    const m = await readMessage(message(charset, encoding));
    expect(m.headers.get('subject')).toBe('系统退信');
    expect(m.headers.get('from')).toBe('系统管理员 <postmaster@lawfirm.example.cn>');
    expect(m.text).toContain(notice);
    expect(m.text).toContain('收件人：counsel@lawfirm.example.cn');
  });

  it('reads a GB2312 text bounce as a bounce for the named recipient', async () => {
    const report = await parseReport(message('GB2312', 'base64'));
    expect(report.kind).toBe('bounce');
    expect(report.recipients.map((r) => r.address)).toEqual(['counsel@lawfirm.example.cn']);
  });

  it('keeps returned messages as parts, read again, not as text of the report', async () => {
    const raw = [
      'From: MAILER-DAEMON@mx.example.net',
      'Subject: Undelivered Mail Returned to Sender',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'Delivery failed.',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.net',
      '',
      'Final-Recipient: rfc822; counsel@lawfirm.example.cn',
      'Action: failed',
      'Status: 5.1.1',
      '--b',
      'Content-Type: message/rfc822',
      '',
      'Message-ID: <issue-7.42@gazette.example>',
      `Subject: ${word('GBK', '法律人工智能周报')}`,
      '',
      'The issue text.',
      '--b--',
      '',
    ].join('\r\n');
    const m = await readMessage(raw);
    expect(m.text.trim()).toBe('Delivery failed.');
    expect(m.parts.map((p) => p.type)).toEqual(['message/delivery-status', 'message/rfc822']);
    expect(m.parts[0]?.text).toContain('Status: 5.1.1');
    expect(m.parts[1]?.message?.headers.get('subject')).toBe('法律人工智能周报');
    expect((await parseReport(raw)).originalMessageId).toBe('issue-7.42@gazette.example');
  });
});
