import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * A first issue without surprises (issue 19):
 * - A publication that has no sections yet (they used to appear only with the first document
 *   import, so a subscriber CSV naming them was refused) gets the model newsletter's four, which
 *   an admin then renames or reorders. A publication with any section keeps its own. New installs
 *   get the same from ensurePublication (src/publication/publication.ts).
 * - The sender an issue goes out from is verified (src/publication/sender.ts): the address an
 *   admin confirmed by the mailed link, or one the operator configured. A sender that already
 *   sent an issue from a public domain is taken as verified, so an upgrade blocks nobody's next
 *   send; a local one (newsletter@localhost) never is.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    INSERT INTO sections (key, position, names)
    SELECT v.key, v.position, v.names::jsonb
      FROM (VALUES
        ('domestic-regulation', 1, '{"zh-CN":"新规概览","en":"Domestic regulation"}'),
        ('foreign-regulation', 2, '{"zh-CN":"域外规范","en":"Foreign regulation"}'),
        ('case-studies', 3, '{"zh-CN":"案例研讨","en":"Case studies"}'),
        ('industry-news', 4, '{"zh-CN":"行业动态","en":"Industry news"}')
      ) AS v(key, position, names)
     WHERE EXISTS (SELECT 1 FROM publication) AND NOT EXISTS (SELECT 1 FROM sections);
    ALTER TABLE publication
      ADD COLUMN sender_verified_email text CHECK (length(sender_verified_email) <= 320),
      ADD COLUMN sender_verified_at timestamptz;
    UPDATE publication SET sender_verified_email = from_email, sender_verified_at = now()
     WHERE position('.' in split_part(from_email, '@', 2)) > 0
       AND lower(split_part(from_email, '@', 2)) !~ '(^|\\.)(localhost|localdomain|local|internal|invalid|home\\.arpa|lan)$'
       AND EXISTS (SELECT 1 FROM issues WHERE state IN ('sending', 'paused', 'sent'));
    `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `ALTER TABLE publication DROP COLUMN sender_verified_email, DROP COLUMN sender_verified_at;`,
  );
}
