import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db, UserRole } from '../db/schema.js';

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

/** Makes a new API key holding a role; only its hash is stored, so the key is shown once. */
export async function createApiKey(
  db: Db,
  name: string,
  role: UserRole = 'admin',
): Promise<{ id: number; key: string; role: UserRole }> {
  const key = `gz_${randomBytes(24).toString('base64url')}`;
  const row = await db
    .insertInto('api_keys')
    .values({ name, key_hash: hash(key), role })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, key, role };
}

export async function revokeApiKey(db: Db, id: number): Promise<boolean> {
  const res = await db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Who a valid key is: its name (what the audit log records) and its role. */
export interface ApiKeyHolder {
  name: string;
  role: UserRole;
}

/**
 * The holder of a key that is one of API_KEYS (admin keys, named by their place in the list) or an
 * unrevoked row of api_keys; null for any other.
 */
export async function findApiKey(
  db: Db,
  envKeys: readonly string[],
  presented: string | undefined,
): Promise<ApiKeyHolder | null> {
  if (!presented || presented.length < 24 || presented.length > 200) return null;
  const digest = Buffer.from(hash(presented), 'hex');
  const envIndex = envKeys.findIndex((k) => timingSafeEqual(Buffer.from(hash(k), 'hex'), digest));
  if (envIndex >= 0) return { name: `API_KEYS #${envIndex + 1}`, role: 'admin' };
  const row = await db
    .updateTable('api_keys')
    .set({ last_used_at: new Date() })
    .where('key_hash', '=', digest.toString('hex'))
    .where('revoked_at', 'is', null)
    .returning(['name', 'role'])
    .executeTakeFirst();
  return row ? { name: row.name, role: row.role } : null;
}
