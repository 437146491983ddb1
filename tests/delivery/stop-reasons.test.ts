import { describe, expect, it } from 'vitest';
import { fatalLine } from '../../src/cli/main.js';
import { describeReason, describeRest } from '../../src/delivery/stop-reasons.js';

describe('why a send stopped, in words', () => {
  it('says the reason and the relay’s own reply in both languages', () => {
    expect(describeReason('en', 'smtp_auth', '535 5.7.8 Authentication failed')).toBe(
      'The mail server refused the login (wrong user name or password); check the SMTP settings, then resume. The server replied: “535 5.7.8 Authentication failed”',
    );
    expect(describeReason('zh-CN', 'operator')).toBe('操作员暂停了发送。');
    expect(describeReason('en', 'content: template error in footer')).toBe(
      'The issue cannot be made into email: template error in footer',
    );
    // A code this table does not know yet is still shown, never hidden.
    expect(describeReason('zh-CN', 'smtp_new_thing')).toBe('原因：smtp_new_thing');
  });

  it('says how long a relay still rests and why', () => {
    const rest = {
      relay: 'qq',
      reason: 'throttled',
      reply: '421 4.7.0 slow down',
      since: 0,
      until: 5_000,
      level: 0,
    };
    expect(describeRest('en', rest, 1_000)).toBe(
      'Relay qq rests (4 s more, then one message probes it): The mail server asked us to slow down; sending rests briefly and then resumes by itself. The server replied: “421 4.7.0 slow down”',
    );
    expect(describeRest('zh-CN', rest, 1_000)).toContain('发信服务器 qq 暂停使用（还有 4 秒');
  });
});

describe('a fatal error', () => {
  it('is one line naming the error and where it was raised; the stack only at debug level', () => {
    const err = Object.assign(new Error('terminating connection due to administrator command\nmore'), {
      code: '57P01',
    });
    const line = fatalLine(err, 'info');
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(
      /^gazette: Error 57P01: terminating connection due to administrator command \(at .+\)/,
    );
    expect(fatalLine(err, 'debug').split('\n').length).toBeGreaterThan(2);
  });
});
