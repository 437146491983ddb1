import type { Db } from '../src/db/schema.js';
import type { RenderableIssue } from '../src/rendering/types.js';

/** The model issue's publication and four sections, as the send and prepare benches both need. */
export async function seedPublication(db: Db, model: RenderableIssue): Promise<void> {
  await db
    .insertInto('publication')
    .values({
      name: model.publication.name,
      from_name: '数字科技与人工智能专业委员会',
      from_email: 'newsletter@example.org',
      list_id: model.publication.listId,
    })
    .execute();
  for (const [i, s] of model.sections.entries()) {
    await db
      .insertInto('sections')
      .values({ key: s.key, position: i + 1, names: JSON.stringify(s.names) })
      .execute();
  }
}
