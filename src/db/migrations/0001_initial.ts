import { type Kysely, sql } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * The ledger's shape. States are CHECK constraints and uniqueness is enforced here, not only in
 * code (DESIGN.md invariants 1 and 2). Later migrations add to it; none edits this one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    CREATE TABLE publication (
      id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
      name text NOT NULL,
      locale text NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
      time_zone text NOT NULL DEFAULT 'Asia/Shanghai',
      from_name text NOT NULL,
      from_email text NOT NULL,
      reply_to text,
      masthead jsonb NOT NULL DEFAULT '{}'::jsonb,
      branding jsonb NOT NULL DEFAULT '{}'::jsonb,
      postal_address text,
      tracking_enabled boolean NOT NULL DEFAULT true,
      list_id text,
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE sections (
      id serial PRIMARY KEY,
      key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9-]*$'),
      position integer NOT NULL,
      names jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE sources (
      id serial PRIMARY KEY,
      name text NOT NULL,
      url text NOT NULL,
      kind text NOT NULL DEFAULT 'feed' CHECK (kind IN ('feed', 'manual')),
      section_id integer REFERENCES sections(id) ON DELETE SET NULL,
      rules jsonb NOT NULL DEFAULT '[]'::jsonb,
      poll_interval_minutes integer NOT NULL DEFAULT 60 CHECK (poll_interval_minutes > 0),
      enabled boolean NOT NULL DEFAULT true,
      allow_private boolean NOT NULL DEFAULT false,
      etag text,
      last_modified text,
      status text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'failing')),
      last_polled_at timestamptz,
      last_success_at timestamptz,
      last_error text,
      last_error_at timestamptz,
      consecutive_failures integer NOT NULL DEFAULT 0,
      next_poll_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX sources_url_feed_key ON sources (url) WHERE kind = 'feed';

    CREATE TABLE items (
      id serial PRIMARY KEY,
      source_id integer REFERENCES sources(id) ON DELETE SET NULL,
      guid text,
      canonical_url text,
      link text,
      title text NOT NULL,
      summary_text text NOT NULL DEFAULT '',
      content_html text NOT NULL DEFAULT '',
      author text,
      categories jsonb NOT NULL DEFAULT '[]'::jsonb,
      published_at timestamptz,
      published_offset text,
      section_id integer REFERENCES sections(id) ON DELETE SET NULL,
      content_hash text,
      status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'accepted', 'dismissed')),
      fetched_at timestamptz NOT NULL DEFAULT now(),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX items_canonical_url_key ON items (canonical_url) WHERE canonical_url IS NOT NULL;
    CREATE INDEX items_published_at_idx ON items (published_at);

    -- Every place an item was seen: per-source dedupe by guid, and every source URL kept.
    CREATE TABLE item_sightings (
      id serial PRIMARY KEY,
      item_id integer NOT NULL REFERENCES items(id) ON DELETE CASCADE,
      source_id integer REFERENCES sources(id) ON DELETE CASCADE,
      guid text NOT NULL,
      url text,
      seen_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (source_id, guid)
    );
    CREATE INDEX item_sightings_item_idx ON item_sightings (item_id);

    CREATE TABLE issues (
      id serial PRIMARY KEY,
      period text NOT NULL,
      period_kind text NOT NULL DEFAULT 'month' CHECK (period_kind IN ('month', 'week')),
      title text NOT NULL,
      subject text,
      preheader text,
      intro text,
      masthead jsonb NOT NULL DEFAULT '{}'::jsonb,
      locale text NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
      state text NOT NULL DEFAULT 'draft'
        CHECK (state IN ('draft', 'approved', 'scheduled', 'sending', 'paused', 'sent', 'cancelled', 'failed')),
      revision integer NOT NULL DEFAULT 1,
      tracking_enabled boolean,
      scheduled_at timestamptz,
      schedule_time_zone text,
      hold_reason text,
      pause_reason text,
      approved_at timestamptz,
      approved_by text,
      prepared_at timestamptz,
      sending_started_at timestamptz,
      sent_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    -- Section order within one issue (editors may reorder sections per issue).
    CREATE TABLE issue_sections (
      issue_id integer NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
      section_id integer NOT NULL REFERENCES sections(id),
      position integer NOT NULL,
      PRIMARY KEY (issue_id, section_id)
    );

    CREATE TABLE issue_items (
      id serial PRIMARY KEY,
      issue_id integer NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
      section_id integer NOT NULL REFERENCES sections(id),
      item_id integer REFERENCES items(id) ON DELETE SET NULL,
      position integer NOT NULL,
      title text NOT NULL,
      summary text NOT NULL DEFAULT '',
      sources jsonb NOT NULL DEFAULT '[]'::jsonb,
      edited_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX issue_items_issue_item_key ON issue_items (issue_id, item_id) WHERE item_id IS NOT NULL;
    CREATE INDEX issue_items_issue_idx ON issue_items (issue_id, section_id, position);

    CREATE TABLE issue_audit (
      id serial PRIMARY KEY,
      issue_id integer NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
      actor text NOT NULL,
      action text NOT NULL,
      detail jsonb NOT NULL DEFAULT '{}'::jsonb,
      at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX issue_audit_issue_idx ON issue_audit (issue_id, at);

    -- One compiled rendering per (issue revision, section set, locale); per-recipient values are tokens.
    CREATE TABLE issue_variants (
      id serial PRIMARY KEY,
      issue_id integer NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
      revision integer NOT NULL,
      variant_key text NOT NULL,
      locale text NOT NULL,
      section_keys text[] NOT NULL,
      subject text NOT NULL,
      html text NOT NULL,
      text text NOT NULL,
      html_bytes integer NOT NULL,
      text_bytes integer NOT NULL,
      warnings jsonb NOT NULL DEFAULT '[]'::jsonb,
      compiled_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (issue_id, revision, variant_key)
    );

    CREATE TABLE subscribers (
      id bigserial PRIMARY KEY,
      email text NOT NULL,
      email_normalized text NOT NULL UNIQUE,
      name text,
      locale text NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
      status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
      all_sections boolean NOT NULL DEFAULT true,
      consent_source text NOT NULL CHECK (consent_source IN ('form', 'import', 'api', 'editor')),
      created_at timestamptz NOT NULL DEFAULT now(),
      confirmed_at timestamptz,
      unsubscribed_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX subscribers_status_id_idx ON subscribers (status, id);

    -- Chosen sections; consulted only when all_sections is false.
    CREATE TABLE subscriber_sections (
      subscriber_id bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
      section_id integer NOT NULL REFERENCES sections(id) ON DELETE CASCADE,
      PRIMARY KEY (subscriber_id, section_id)
    );

    CREATE TABLE suppressions (
      id serial PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('address', 'domain')),
      value text NOT NULL,
      reason text NOT NULL CHECK (reason IN ('hard_bounce', 'complaint', 'manual', 'smtp_rejected')),
      note text,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (kind, value)
    );

    -- Erased subscribers leave only a hash so a later import cannot re-add them by accident.
    CREATE TABLE erased_subscribers (
      email_hash text PRIMARY KEY,
      erased_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE deliveries (
      id bigserial PRIMARY KEY,
      issue_id integer NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
      subscriber_id bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
      variant_key text,
      state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'claimed', 'sending', 'accepted', 'deferred', 'failed', 'unknown', 'skipped')),
      skip_reason text,
      attempts integer NOT NULL DEFAULT 0,
      lease_owner text,
      lease_until timestamptz,
      next_attempt_at timestamptz,
      transport text,
      smtp_code integer,
      smtp_response text,
      error_class text,
      message_id text,
      accepted_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (issue_id, subscriber_id)
    );
    CREATE INDEX deliveries_issue_state_idx ON deliveries (issue_id, state, id);

    -- Every URL a sent issue links to; click redirects may only go to these.
    CREATE TABLE issue_links (
      id serial PRIMARY KEY,
      issue_id integer NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
      url text NOT NULL,
      section_id integer REFERENCES sections(id),
      UNIQUE (issue_id, url)
    );

    CREATE TABLE events (
      id bigserial PRIMARY KEY,
      type text NOT NULL CHECK (type IN ('open', 'click', 'bounce', 'complaint', 'unsubscribe')),
      subtype text,
      delivery_id bigint REFERENCES deliveries(id) ON DELETE SET NULL,
      issue_id integer REFERENCES issues(id) ON DELETE CASCADE,
      subscriber_id bigint REFERENCES subscribers(id) ON DELETE SET NULL,
      link_id integer REFERENCES issue_links(id) ON DELETE SET NULL,
      dedupe_key text UNIQUE,
      proxied boolean NOT NULL DEFAULT false,
      detail jsonb NOT NULL DEFAULT '{}'::jsonb,
      occurred_at timestamptz NOT NULL DEFAULT now(),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX events_issue_type_idx ON events (issue_id, type);

    CREATE TABLE users (
      id serial PRIMARY KEY,
      email text NOT NULL UNIQUE,
      name text,
      role text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
      password_hash text NOT NULL,
      locale text NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
      created_at timestamptz NOT NULL DEFAULT now()
    );
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS users, events, issue_links, deliveries, erased_subscribers, suppressions,
      subscriber_sections, subscribers, issue_variants, issue_audit, issue_items, issue_sections, issues,
      item_sightings, items, sources, sections, publication CASCADE;
  `.execute(db);
}
