import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/schema.js';

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

/** Makes a new admin API key; only its hash is stored, so the key is shown once. */
export async function createApiKey(db: Db, name: string): Promise<{ id: number; key: string }> {
  const key = `gz_${randomBytes(24).toString('base64url')}`;
  const row = await db
    .insertInto('api_keys')
    .values({ name, key_hash: hash(key) })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, key };
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

/** True when the key is one of API_KEYS or an unrevoked row of api_keys. */
export async function isValidApiKey(
  db: Db,
  envKeys: readonly string[],
  presented: string | undefined,
): Promise<boolean> {
  if (!presented || presented.length < 24 || presented.length > 200) return false;
  const digest = Buffer.from(hash(presented), 'hex');
  if (envKeys.some((k) => timingSafeEqual(Buffer.from(hash(k), 'hex'), digest))) return true;
  const row = await db
    .updateTable('api_keys')
    .set({ last_used_at: new Date() })
    .where('key_hash', '=', digest.toString('hex'))
    .where('revoked_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return !!row;
}
