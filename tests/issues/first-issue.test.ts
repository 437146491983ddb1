import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSecretKeys } from '../../src/config/secret.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/schema.js';
import { checkIssue, senderChecks } from '../../src/issues/check.js';
import { addIssueItem } from '../../src/issues/edit.js';
import { approveIssue, ChecklistFailedError } from '../../src/issues/lifecycle.js';
import type { EditorialDeps } from '../../src/issues/store.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { ensurePublication, updatePublication } from '../../src/publication/publication.js';
import { listSections, upsertSection } from '../../src/publication/sections.js';
import {
  isLocalSender,
  senderState,
  senderVerificationToken,
  verifySender,
} from '../../src/publication/sender.js';
import { TokenError } from '../../src/security/tokens.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

/**
 * A fresh install's first issue (issue 19): the publication starts with its sections, and the
 * checklist will not let an issue go out from a sender that reaches nobody or nobody verified.
 */

describe('a local sender', () => {
  it.each([
    ['newsletter@localhost', true],
    ['news@mail.localhost', true],
    ['news@intranet', true],
    ['news@printer.local', true],
    ['news@box.home.arpa', true],
    ['news@host.internal', true],
    ['news@x.invalid', true],
    ['news@127.0.0.1', true],
    ['news@[10.0.0.1]', true],
    ['no-at-sign', true],
    ['news@lawyers.example.org', false],
    ['news@gazette.test', false],
    ['Digest@Example.ORG.', false],
  ])('%s is local: %s', (email, local) => {
    expect(isLocalSender(email)).toBe(local);
  });

  it('blocks a local or unverified sender and warns on a missing postal address', () => {
    const byId = (pub: Parameters<typeof senderChecks>[0]) =>
      Object.fromEntries(senderChecks(pub).map((c) => [c.id, c]));
    expect(
      byId({ from_email: 'newsletter@localhost', sender_verified_email: null, postal_address: null }),
    ).toMatchObject({
      sender: { status: 'fail', code: 'sender.local', params: { email: 'newsletter@localhost' } },
      'postal-address': { status: 'warn', code: 'postal-address.missing' },
    });
    // Verified for another address: the sender changed since, so this one is not.
    expect(
      byId({ from_email: 'news@example.org', sender_verified_email: 'old@example.org', postal_address: ' ' }),
    ).toMatchObject({
      sender: { status: 'fail', code: 'sender.unverified' },
      'postal-address': { status: 'warn' },
    });
    expect(
      byId({
        from_email: 'News@Example.org',
        sender_verified_email: 'news@example.org',
        postal_address: '北京市海淀区某路 1 号',
      }),
    ).toMatchObject({
      sender: { status: 'pass', code: 'sender.verified' },
      'postal-address': { status: 'pass', code: 'postal-address.present' },
    });
    expect(byId(undefined).sender).toMatchObject({ status: 'fail', code: 'sender.local' });
  });
});

describe('a fresh install', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it('starts the publication with the model’s four sections, and the built-in sender as local', async () => {
    expect(await listSections(tdb.db)).toEqual([]);
    const pub = await ensurePublication(tdb.db, testEnv({ MAIL_FROM: 'Gazette <newsletter@localhost>' }));
    expect(senderState(pub)).toBe('local');
    const sections = await listSections(tdb.db);
    expect(sections.map((s) => [s.key, s.names['zh-CN']])).toEqual(
      MODEL_SECTIONS.map((s) => [s.key, s.names['zh-CN']]),
    );
    // Editable like any other: a renamed section stays renamed when the publication is read again.
    await upsertSection(tdb.db, { key: 'industry-news', position: 4, names: { 'zh-CN': '业界动态' } });
    await ensurePublication(tdb.db, testEnv());
    expect((await listSections(tdb.db)).map((s) => s.names['zh-CN'])).toContain('业界动态');
  });
});

describe('ensurePublication with sections of its own', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it('keeps them, and takes the operator’s MAIL_FROM as a verified sender', async () => {
    await upsertSection(tdb.db, { key: 'privacy', position: 1, names: { en: 'Privacy' } });
    const pub = await ensurePublication(tdb.db, testEnv({ MAIL_FROM: 'Digest <digest@lawyers.example>' }));
    expect((await listSections(tdb.db)).map((s) => s.key)).toEqual(['privacy']);
    expect(pub).toMatchObject({
      from_email: 'digest@lawyers.example',
      sender_verified_email: 'digest@lawyers.example',
    });
    expect(senderState(pub)).toBe('verified');
  });
});

describe('migration 0026 on an older install', () => {
  const dbs: { drop(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.drop();
  });

  const publication = (db: Db, email: string) =>
    sql`INSERT INTO publication (id, name, from_name, from_email) VALUES (1, 'P', 'P', ${email})`.execute(db);

  it('gives a publication without sections the model’s four, and takes a sender that sent as verified', async () => {
    const old = await createTestDatabase({ before: '0026' });
    dbs.push(old);
    await publication(old.db, 'news@example.org');
    await sql`INSERT INTO issues (period, title, state) VALUES ('2025-06', 'June', 'sent')`.execute(old.db);
    await migrateToLatest(old.db, { schema: old.schema, exclusive: true });
    expect((await listSections(old.db)).map((s) => s.key)).toEqual(MODEL_SECTIONS.map((s) => s.key));
    const pub = await old.db.selectFrom('publication').selectAll().executeTakeFirstOrThrow();
    expect(senderState(pub)).toBe('verified');
  });

  it('leaves a publication’s own sections alone and never verifies a local sender', async () => {
    const old = await createTestDatabase({ before: '0026' });
    dbs.push(old);
    await publication(old.db, 'newsletter@localhost');
    await sql`INSERT INTO sections (key, position, names) VALUES ('privacy', 1, '{"en":"Privacy"}')`.execute(
      old.db,
    );
    await sql`INSERT INTO issues (period, title, state) VALUES ('2025-06', 'June', 'sent')`.execute(old.db);
    await migrateToLatest(old.db, { schema: old.schema, exclusive: true });
    expect((await listSections(old.db)).map((s) => s.key)).toEqual(['privacy']);
    const pub = await old.db.selectFrom('publication').selectAll().executeTakeFirstOrThrow();
    expect(pub.sender_verified_email).toBeNull();
  });

  it('seeds nothing where there is no publication yet (ensurePublication does that)', async () => {
    const old = await createTestDatabase({ before: '0026' });
    dbs.push(old);
    await migrateToLatest(old.db, { schema: old.schema, exclusive: true });
    expect(await listSections(old.db)).toEqual([]);
  });
});

describe('approving with the sender checks', () => {
  let tdb: TestDatabase;
  let deps: EditorialDeps;
  const clock = new Date('2025-08-01T00:00:00Z');
  const secrets = resolveSecretKeys(testEnv());
  let issueId: number;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    const env = testEnv({ MAIL_FROM: 'Gazette <newsletter@localhost>' });
    deps = { db: tdb.db, log: silentLogger, env, now: () => clock };
    await ensurePublication(tdb.db, env);
    const row = await tdb.db
      .insertInto('issues')
      .values({ period: '2025-07', title: '第一期' })
      .returning('id')
      .executeTakeFirstOrThrow();
    issueId = row.id;
    await addIssueItem(
      deps,
      issueId,
      {
        sectionKey: 'industry-news',
        title: '条目',
        summary: '摘要。',
        sources: [{ url: 'https://example.org/' }],
      },
      'alice',
    );
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  const senderCheck = async () =>
    (await checkIssue({ db: tdb.db }, issueId)).checks.find((c) => c.id === 'sender');

  it('refuses to approve an issue from newsletter@localhost', async () => {
    expect(await senderCheck()).toMatchObject({ status: 'fail', code: 'sender.local' });
    await expect(approveIssue(deps, issueId, 'chief')).rejects.toBeInstanceOf(ChecklistFailedError);
  });

  it('refuses a typed sender until the link mailed to it is opened, then approves', async () => {
    await updatePublication(tdb.db, { fromEmail: 'news@lawyers.example' });
    expect(await senderCheck()).toMatchObject({ status: 'fail', code: 'sender.unverified' });
    await expect(approveIssue(deps, issueId, 'chief')).rejects.toBeInstanceOf(ChecklistFailedError);

    const token = senderVerificationToken(secrets, 'news@lawyers.example', clock);
    expect(token).not.toContain('lawyers'); // tokens carry no address
    // A link for an address the sender is no longer, or an altered one, verifies nothing.
    const stale = senderVerificationToken(secrets, 'old@lawyers.example', clock);
    expect(await verifySender(tdb.db, secrets, stale, clock)).toBe('other-address');
    await expect(verifySender(tdb.db, secrets, `${token}x`, clock)).rejects.toBeInstanceOf(TokenError);
    const late = new Date(clock.getTime() + 4 * 24 * 3600 * 1000);
    await expect(verifySender(tdb.db, secrets, token, late)).rejects.toMatchObject({ reason: 'expired' });

    expect(await verifySender(tdb.db, secrets, token, clock)).toBe('verified');
    expect(await senderCheck()).toMatchObject({ status: 'pass', code: 'sender.verified' });
    expect((await approveIssue(deps, issueId, 'chief')).state).toBe('approved');
  });
});
