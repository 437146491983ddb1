import type { Db, LocalizedText, Section } from '../db/schema.js';
import { PublicationInputError } from './publication.js';

export type { Section };

const KEY_PATTERN = /^[a-z0-9][a-z0-9-]*$/;

/** Creates the section or updates its position and names; the key is the stable identity. */
export async function upsertSection(
  db: Db,
  input: { key: string; position: number; names: LocalizedText },
): Promise<Section> {
  if (!KEY_PATTERN.test(input.key)) {
    throw new PublicationInputError(
      `Section key "${input.key}" must be lowercase letters, digits and dashes`,
    );
  }
  return db
    .insertInto('sections')
    .values({ key: input.key, position: input.position, names: JSON.stringify(input.names) })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({ position: input.position, names: JSON.stringify(input.names) }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Every section in newsletter order. */
export async function listSections(db: Db): Promise<Section[]> {
  return db.selectFrom('sections').selectAll().orderBy('position').orderBy('id').execute();
}

export async function getSectionByKey(db: Db, key: string): Promise<Section | undefined> {
  return db.selectFrom('sections').selectAll().where('key', '=', key).executeTakeFirst();
}

/** Changes names and/or position of an existing section; unknown keys are an error. */
export async function editSection(
  db: Db,
  key: string,
  patch: { position?: number; names?: LocalizedText },
): Promise<Section> {
  const current = await getSectionByKey(db, key);
  if (!current) throw new PublicationInputError(`No section with key "${key}"`);
  return upsertSection(db, {
    key,
    position: patch.position ?? current.position,
    names: { ...current.names, ...(patch.names ?? {}) },
  });
}
