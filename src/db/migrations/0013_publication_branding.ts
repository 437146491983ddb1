import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Publication branding (logo with alt text and size, accent colour, footer contact) lives in
 * publication.branding; the database refuses values the email and pages could not use safely
 * (src/publication/branding.ts checks the same, with messages). The masthead's English title,
 * which the importer once stored as a `subtitle` line, becomes its own field.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    -- A logo uploaded on /admin/settings, served at /brand/<sha256>.<ext> (content-addressed, so
    -- a cached copy never goes stale). Raster images only: an SVG can carry script.
    CREATE TABLE brand_assets (
      sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      content_type text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/gif')),
      bytes bytea NOT NULL CHECK (octet_length(bytes) BETWEEN 1 AND 512000),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    ALTER TABLE publication ADD CONSTRAINT publication_branding_valid CHECK (
      jsonb_typeof(branding) = 'object'
      AND (branding->>'accentColor' IS NULL OR branding->>'accentColor' ~ '^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$')
      AND (branding->>'primaryColor' IS NULL OR branding->>'primaryColor' ~ '^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$')
      AND (branding->>'logoUrl' IS NULL OR branding->>'logoUrl' ~ '^https://[^\\s"<>]+$')
      AND (branding->'logoWidth' IS NULL OR (jsonb_typeof(branding->'logoWidth') = 'number'
           AND (branding->>'logoWidth')::numeric BETWEEN 1 AND 600 AND (branding->>'logoWidth')::numeric % 1 = 0))
      AND (branding->'logoHeight' IS NULL OR (jsonb_typeof(branding->'logoHeight') = 'number'
           AND (branding->>'logoHeight')::numeric BETWEEN 1 AND 600 AND (branding->>'logoHeight')::numeric % 1 = 0))
    );
    UPDATE issues SET masthead = jsonb_set(
        masthead - 'lines',
        '{lines}',
        COALESCE((SELECT jsonb_agg(l) FROM jsonb_array_elements(masthead->'lines') l WHERE l->>'label' <> 'subtitle'), '[]'::jsonb)
      ) || jsonb_build_object('subtitle',
        (SELECT l->>'value' FROM jsonb_array_elements(masthead->'lines') l WHERE l->>'label' = 'subtitle' LIMIT 1))
      WHERE jsonb_typeof(masthead->'lines') = 'array'
        AND EXISTS (SELECT 1 FROM jsonb_array_elements(masthead->'lines') l WHERE l->>'label' = 'subtitle');
    UPDATE issues SET masthead = masthead - 'lines' WHERE masthead->'lines' = '[]'::jsonb;
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    'ALTER TABLE publication DROP CONSTRAINT publication_branding_valid;\nDROP TABLE brand_assets;',
  );
}
