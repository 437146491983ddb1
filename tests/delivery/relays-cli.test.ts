import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.js';
import { gazette as cli, cliContext } from '../support/cli.js';

let context: AppContext;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ context, close } = await cliContext({ SMTP_URL: 'smtp://127.0.0.1:2525' }));
});
afterAll(() => close?.());

describe('gazette relays', () => {
  it('stores a relay with its password from stdin, edits, disables and removes it, and says which relays delivery uses', async () => {
    const gazette = async (args: string[], stdin?: string) => {
      const r = await cli(args, { context, ...(stdin !== undefined ? { stdin } : {}) });
      return { code: r.code, out: r.stdout, err: r.stderr };
    };

    const added = await gazette(
      [
        'relays',
        'add',
        'ses-eu',
        '--host',
        'email-smtp.eu-west-1.amazonaws.com',
        '--user',
        'AKIA1',
        '--password-stdin',
        '--per-second',
        '14',
        '--json',
      ],
      'secret-from-stdin\n',
    );
    expect(added.err).toBe('');
    expect(JSON.parse(added.out)).toMatchObject({
      name: 'ses-eu',
      port: 587,
      security: 'starttls',
      hasPassword: true,
      perSecond: 14,
    });
    expect(added.out).not.toContain('secret-from-stdin');

    expect((await gazette(['relays', 'edit', 'ses-eu', '--weight', '3', '--json'])).code).toBe(0);
    const listed = JSON.parse((await gazette(['relays', 'list', '--json'])).out);
    expect(listed).toMatchObject({
      inUse: 'settings',
      names: ['ses-eu'],
      relays: [{ name: 'ses-eu', weight: 3, hasPassword: true }],
    });
    expect(JSON.stringify(listed)).not.toContain('secret-from-stdin');

    expect((await gazette(['relays', 'disable', 'ses-eu'])).code).toBe(0);
    const text = (await gazette(['relays', 'list'])).out;
    expect(text).toMatch(/^off ses-eu/m);
    expect(text).toContain('Delivery uses SMTP_URL.');

    const bad = await gazette(['relays', 'add', 'other', '--host', 'relay.example', '--port', '99999']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('port must be 1-65535 (got 99999)');
    const twice = await gazette(['relays', 'add', 'ses-eu', '--host', 'relay.example']);
    expect(twice.err).toContain('an SMTP relay named "ses-eu" already exists');

    expect((await gazette(['relays', 'remove', 'ses-eu'])).out).toContain('Relay ses-eu removed.');
    expect((await gazette(['relays', 'remove', 'ses-eu'])).err).toContain('No relay named "ses-eu"');
  });
});
