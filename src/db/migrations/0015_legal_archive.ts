import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * The legal digest: an editor's legal metadata per issue item (the rules' values are computed,
 * only the editor's word is stored), snapshots of every cited source page with their link health,
 * and the archive's search tokens (CJK bigrams and words in a tsvector: stock PostgreSQL and
 * PGlite alike, no extension).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    ALTER TABLE issue_items ADD COLUMN legal jsonb NOT NULL DEFAULT '{}'::jsonb;

    CREATE TABLE source_snapshots (
      id serial PRIMARY KEY,
      issue_id integer NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
      url text NOT NULL,
      final_url text,
      http_status integer,
      title text,
      content_type text,
      content_hash text,
      text_gz bytea,
      html_gz bytea,
      pdf_gz bytea,
      stored_bytes integer NOT NULL DEFAULT 0 CHECK (stored_bytes >= 0),
      truncated boolean NOT NULL DEFAULT false,
      excerpt text NOT NULL DEFAULT '',
      error text,
      origin text NOT NULL DEFAULT 'fetch' CHECK (origin IN ('fetch', 'upload')),
      fetched_at timestamptz,
      link_state text NOT NULL DEFAULT 'unchecked' CHECK (link_state IN ('unchecked', 'alive', 'dead')),
      dead_reason text CHECK (dead_reason IN ('gone', 'moved-home', 'dns')),
      dead_since timestamptz,
      last_checked_at timestamptz,
      last_check_status integer,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (issue_id, url),
      CHECK ((link_state = 'dead') = (dead_reason IS NOT NULL AND dead_since IS NOT NULL))
    );
    CREATE INDEX source_snapshots_check_idx ON source_snapshots (last_checked_at NULLS FIRST);

    CREATE TABLE issue_item_search (
      issue_item_id integer PRIMARY KEY REFERENCES issue_items(id) ON DELETE CASCADE,
      issue_id integer NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
      -- The issue's revision when indexed: a re-approved issue is indexed again.
      revision integer NOT NULL,
      -- The legal metadata as indexed, for the archive's filters.
      legal jsonb NOT NULL DEFAULT '{}'::jsonb,
      tokens tsvector NOT NULL
    );
    CREATE INDEX issue_item_search_tokens_idx ON issue_item_search USING gin (tokens);
    CREATE INDEX issue_item_search_issue_idx ON issue_item_search (issue_id);
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `DROP TABLE IF EXISTS issue_item_search; DROP TABLE IF EXISTS source_snapshots;
     ALTER TABLE issue_items DROP COLUMN IF EXISTS legal;`,
  );
}
