import type { Db, Section } from '../src/db/schema.js';

export class UnknownSectionError extends Error {
  override name = 'UnknownSectionError';
  readonly userFacing = true;
  constructor(readonly keys: string[]) {
    super(`Unknown section${keys.length > 1 ? 's' : ''}: ${keys.join(', ')}`);
  }
}

/** Sections in newsletter order (read straight from the table; the editorial stage owns writes). */
export async function allSections(db: Db): Promise<Section[]> {
  return db.selectFrom('sections').selectAll().orderBy('position').orderBy('id').execute();
}

/** Maps section keys to ids; throws UnknownSectionError naming every key that does not exist. */
export async function sectionIdsForKeys(db: Db, keys: string[]): Promise<number[]> {
  const wanted = [...new Set(keys.map((k) => k.trim()).filter(Boolean))];
  if (!wanted.length) return [];
  const rows = await db.selectFrom('sections').select(['id', 'key']).where('key', 'in', wanted).execute();
  const missing = wanted.filter((k) => !rows.some((r) => r.key === k));
  if (missing.length) throw new UnknownSectionError(missing);
  return rows.map((r) => r.id);
}
