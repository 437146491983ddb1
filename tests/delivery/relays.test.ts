import { randomBytes } from 'node:crypto';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitForIssue } from '../../src/cli/wait-for-issue.js';
import type { Env } from '../../src/config/env.js';
import { startIssueSend } from '../../src/delivery/control.js';
import type { DeliveryDeps } from '../../src/delivery/deps.js';
import { checkRelayInput, RelayInputError } from '../../src/delivery/relay-input.js';
import { openPassword, sealPassword } from '../../src/delivery/relay-secret.js';
import { relayUrl } from '../../src/delivery/relay-spec.js';
import {
  addRelay,
  currentRelaySpecs,
  setRelayEnabled,
  storedRelaySpecs,
  updateRelay,
} from '../../src/delivery/relay-store.js';
import { createSendWorker, type SendWorker } from '../../src/delivery/send-worker.js';
import { createSendMail } from '../../src/http/mail-transport.js';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/smtp/catcher.js';
import { LOOPBACK_TLS } from '../support/loopback-tls.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';
import {
  addSubscribers,
  createIssue,
  deps as makeDeps,
  renderable,
  seedSections,
  standInContent,
} from './support.js';

const SECRETS = { current: 'k'.repeat(64) };

describe('relay passwords at rest', () => {
  it('are sealed (never the plain text), open with the current key or the previous one, and not with another', () => {
    const sealed = sealPassword(SECRETS, 'p@ss:w/rd 密码');
    expect(sealed).not.toContain('p@ss');
    expect(sealed).toMatch(/^v1\./);
    expect(sealPassword(SECRETS, 'p@ss:w/rd 密码')).not.toBe(sealed); // a fresh IV each time
    expect(openPassword(SECRETS, sealed)).toBe('p@ss:w/rd 密码');
    const rotated = { current: 'n'.repeat(64), previous: SECRETS.current };
    expect(openPassword(rotated, sealed)).toBe('p@ss:w/rd 密码');
    const err = (() => {
      try {
        openPassword({ current: 'x'.repeat(64) }, sealed);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RelayInputError);
    expect((err as RelayInputError).code).toBe('relay-secret');
  });

  it('go into the relay URL encoded, so any character survives', () => {
    const url = new URL(
      relayUrl({ host: 'mail.example.org', port: 465, security: 'tls' }, { user: 'a@b', pass: 'p@ss:w/rd' }),
    );
    expect(url.protocol).toBe('smtps:');
    expect(decodeURIComponent(url.username)).toBe('a@b');
    expect(decodeURIComponent(url.password)).toBe('p@ss:w/rd');
    expect(relayUrl({ host: 'relay.example', port: 587, security: 'starttls' })).toBe(
      'smtp://relay.example:587',
    );
  });
});

describe('relay input', () => {
  const good = {
    name: 'ses-eu',
    host: 'Email-SMTP.eu-west-1.amazonaws.com',
    port: 587,
    security: 'starttls' as const,
  };
  it('normalises a good relay', () => {
    expect(checkRelayInput({ ...good, username: '  user ', weight: 2 })).toMatchObject({
      host: 'email-smtp.eu-west-1.amazonaws.com',
      username: 'user',
      weight: 2,
      perSecond: 0,
      perHour: 0,
      enabled: true,
    });
  });
  it.each([
    [{ name: 'has space' }, 'relay-name'],
    [{ host: 'bad host!' }, 'relay-host'],
    [{ port: 70000 }, 'relay-port'],
    [{ weight: -1 }, 'relay-number'],
    [{ perHour: 1.5 }, 'relay-number'],
    [{ security: 'ssl' }, 'relay-security'],
  ])('refuses %j with %s', (change, code) => {
    expect(() => checkRelayInput({ ...good, ...(change as object) })).toThrow(
      expect.objectContaining({ code }) as unknown as Error,
    );
  });
});

/**
 * Relays from the settings replace SMTP_URL while any is enabled, and a running send worker
 * follows a change at its next job: real PostgreSQL, Redis and SMTP peers (one requiring a login).
 */
describe('relays from the settings, followed by a running send worker', () => {
  let tdb: TestDatabase;
  let sectionIds: Map<string, number>;
  let env: Env;
  let base: DeliveryDeps;
  let fromEnv: SmtpCatcher;
  let authed: { port: number; received: string[]; logins: string[]; close(): Promise<void> };
  let worker: SendWorker;

  /** An SMTP server that refuses mail without the right login, and records who signed in. */
  async function loginPeer(user: string, pass: string) {
    const received: string[] = [];
    const logins: string[] = [];
    const server = new SMTPServer({
      authOptional: false,
      ...LOOPBACK_TLS,
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === user && auth.password === pass) {
          logins.push(auth.username as string);
          return cb(null, { user: auth.username });
        }
        return cb(Object.assign(new Error('Invalid credentials'), { responseCode: 535 }));
      },
      onRcptTo(address, _session, cb) {
        received.push(address.address);
        cb();
      },
      onData(stream, _session, cb) {
        stream.resume();
        stream.on('end', () => cb());
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.server.address() as { port: number }).port;
    return { port, received, logins, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  beforeAll(async () => {
    tdb = await createTestDatabase();
    sectionIds = await seedSections(tdb.db);
    fromEnv = await startSmtpCatcher();
    authed = await loginPeer('gazette', 'p@ss:w/rd');
    env = testEnv({ SMTP_URL: fromEnv.url, SEND_CONCURRENCY: '5', SEND_BATCH_SIZE: '10' });
    base = {
      ...makeDeps(
        tdb.db,
        env,
        standInContent((id) => renderable(id)),
      ),
      secrets: SECRETS,
    };
    worker = await createSendWorker({
      ...base,
      connection: { url: env.REDIS_URL, prefix: `gtest-${randomBytes(5).toString('hex')}` },
      scanIntervalMs: 0,
      relayRefreshMs: 1,
    });
  });

  afterAll(async () => {
    await worker.close();
    await fromEnv.close();
    await authed.close();
    await tdb.drop();
  });

  beforeEach(async () => {
    await tdb.db.updateTable('subscribers').set({ status: 'unsubscribed' }).execute();
  });

  async function send(n: number, tag: string) {
    const issueId = await createIssue(tdb.db);
    await addSubscribers(
      tdb.db,
      sectionIds,
      Array.from({ length: n }, (_, i) => ({ email: `reader${i}.${tag}@example.test` })),
    );
    await startIssueSend({ ...base, queue: worker.queue }, issueId);
    const done = await waitForIssue(base, issueId, { timeoutMs: 30_000, intervalMs: 50 });
    const relays = await tdb.db
      .selectFrom('deliveries')
      .select('relay')
      .distinct()
      .where('issue_id', '=', issueId)
      .execute();
    return { ...done, relays: relays.map((r) => r.relay) };
  }

  const to = (tag: string, list: string[]) => list.filter((a) => a.includes(`.${tag}@`));

  it('sends through SMTP_URL while the settings have no relay', async () => {
    expect((await currentRelaySpecs(base)).source).toBe('env');
    const out = await send(6, 'env');
    expect(out.state).toBe('sent');
    expect(out.stats.byState.accepted).toBe(6);
    expect(
      to(
        'env',
        fromEnv.messages.flatMap((m) => m.to),
      ),
    ).toHaveLength(6);
    expect(out.relays).toEqual([worker.relays[0]?.spec.name]);
  });

  it('switches to a relay added in the settings without a restart, signing in with its stored password', async () => {
    const relay = await addRelay(tdb.db, SECRETS, {
      name: 'committee-relay',
      host: '127.0.0.1',
      port: authed.port,
      security: 'starttls',
      username: 'gazette',
      password: 'p@ss:w/rd',
    });
    const stored = await tdb.db
      .selectFrom('smtp_relays')
      .select('password_encrypted')
      .where('id', '=', relay.id)
      .executeTakeFirstOrThrow();
    expect(stored.password_encrypted).not.toContain('p@ss');

    const out = await send(8, 'settings');
    expect(out.state).toBe('sent');
    expect(out.stats.byState.accepted).toBe(8);
    expect(to('settings', authed.received)).toHaveLength(8);
    expect(
      to(
        'settings',
        fromEnv.messages.flatMap((m) => m.to),
      ),
    ).toHaveLength(0);
    expect(authed.logins.length).toBeGreaterThan(0);
    expect(out.relays).toEqual(['committee-relay']);
    expect(worker.relays.map((r) => r.spec.name)).toEqual(['committee-relay']);
  });

  it('pauses the issue when the stored password is refused (an authentication error), and sends once it is fixed', async () => {
    const [relay] = await tdb.db.selectFrom('smtp_relays').select('id').execute();
    const id = relay?.id as number;
    const input = {
      name: 'committee-relay',
      host: '127.0.0.1',
      port: authed.port,
      security: 'starttls' as const,
      username: 'gazette',
    };
    await updateRelay(tdb.db, SECRETS, id, { ...input, password: 'wrong' });
    const issueId = await createIssue(tdb.db);
    await addSubscribers(tdb.db, sectionIds, [{ email: 'reader.wrongpw@example.test' }]);
    await startIssueSend({ ...base, queue: worker.queue }, issueId);
    const stopped = await waitForIssue(base, issueId, { timeoutMs: 30_000, intervalMs: 50 });
    // An authentication refusal pauses the issue rather than failing subscribers one by one.
    expect(stopped.state).toBe('paused');
    expect(to('wrongpw', authed.received)).toHaveLength(0);

    await updateRelay(tdb.db, SECRETS, id, { ...input, password: 'p@ss:w/rd' });
    const { resumeIssue } = await import('../../src/delivery/control.js');
    await resumeIssue({ ...base, queue: worker.queue }, issueId);
    const done = await waitForIssue(base, issueId, { timeoutMs: 30_000, intervalMs: 50 });
    expect(done.state).toBe('sent');
    expect(to('wrongpw', authed.received)).toHaveLength(1);
  });

  it('sends one-off mail (confirmations, test sends) through the settings relay too, and SMTP_URL without one', async () => {
    const mail = await createSendMail(env, () => storedRelaySpecs(tdb.db, SECRETS));
    try {
      await mail.sendMail({
        to: 'confirm.oneoff@example.test',
        subject: '请确认订阅',
        text: '确认',
        html: '<p>确认</p>',
      });
      expect(to('oneoff', authed.received)).toEqual(['confirm.oneoff@example.test']);
      const [relay] = await tdb.db.selectFrom('smtp_relays').select('id').execute();
      await setRelayEnabled(tdb.db, relay?.id as number, false);
      await mail.sendMail({
        to: 'again.oneoff@example.test',
        subject: '请确认订阅',
        text: '确认',
        html: '<p>确认</p>',
      });
      expect(
        to(
          'oneoff',
          fromEnv.messages.flatMap((m) => m.to),
        ),
      ).toEqual(['again.oneoff@example.test']);
      await setRelayEnabled(tdb.db, relay?.id as number, true);
    } finally {
      await mail.close();
    }
  });

  it('goes back to SMTP_URL when the settings relay is disabled', async () => {
    const [relay] = await tdb.db.selectFrom('smtp_relays').select('id').execute();
    await setRelayEnabled(tdb.db, relay?.id as number, false);
    expect((await currentRelaySpecs(base)).source).toBe('env');
    const out = await send(5, 'back');
    expect(out.state).toBe('sent');
    expect(
      to(
        'back',
        fromEnv.messages.flatMap((m) => m.to),
      ),
    ).toHaveLength(5);
    expect(to('back', authed.received)).toHaveLength(0);
  });
});
