import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

describe('gazette relays (embedded database)', () => {
  it('stores a relay with its password from stdin, edits, disables and removes it, and says which relays delivery uses', () => {
    const env = {
      ...process.env,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'gazette-relays-')),
      DATABASE_URL: '',
      LOG_LEVEL: 'silent',
      NODE_ENV: 'test',
      SMTP_URL: 'smtp://127.0.0.1:2525',
    };
    const gazette = (args: string[], input?: string) => {
      const r = spawnSync(process.execPath, ['bin/gazette.js', ...args], {
        cwd: ROOT,
        env,
        encoding: 'utf8',
        timeout: 60_000,
        ...(input !== undefined ? { input } : {}),
      });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };

    const added = gazette(
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

    expect(gazette(['relays', 'edit', 'ses-eu', '--weight', '3', '--json']).code).toBe(0);
    const listed = JSON.parse(gazette(['relays', 'list', '--json']).out);
    expect(listed).toMatchObject({
      inUse: 'settings',
      names: ['ses-eu'],
      relays: [{ name: 'ses-eu', weight: 3, hasPassword: true }],
    });
    expect(JSON.stringify(listed)).not.toContain('secret-from-stdin');

    expect(gazette(['relays', 'disable', 'ses-eu']).code).toBe(0);
    const text = gazette(['relays', 'list']).out;
    expect(text).toMatch(/^off ses-eu/m);
    expect(text).toContain('Delivery uses SMTP_URL.');

    const bad = gazette(['relays', 'add', 'other', '--host', 'relay.example', '--port', '99999']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('port must be 1-65535 (got 99999)');
    const twice = gazette(['relays', 'add', 'ses-eu', '--host', 'relay.example']);
    expect(twice.err).toContain('an SMTP relay named "ses-eu" already exists');

    expect(gazette(['relays', 'remove', 'ses-eu']).out).toContain('Relay ses-eu removed.');
    expect(gazette(['relays', 'remove', 'ses-eu']).err).toContain('No relay named "ses-eu"');
  }, 180_000);
});
