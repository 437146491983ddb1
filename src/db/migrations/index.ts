import type { Migration } from 'kysely';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_feeds.js';
import * as m0003 from './0003_editorial.js';
import * as m0005 from './0005_subscribers.js';
import * as m0006 from './0006_delivery.js';
import * as m0007 from './0007_tracking.js';
import * as m0008 from './0008_web_sessions.js';
import * as m0009iv from './0009_issue_item_versions.js';
import * as m0010sl from './0010_subscriber_lookups.js';
import * as m0011sr from './0011_smtp_relays.js';
import * as m0012bp from './0012_bounce_policy.js';
import * as m0013pb from './0013_publication_branding.js';
import * as m0014ak from './0014_api_key_roles.js';
import * as m0014om from './0014_opt_in_mailed_at.js';
import * as m0015la from './0015_legal_archive.js';
import * as m0016pr from './0016_pause_reply.js';
import * as m0017sp from './0017_source_parse_health.js';
import * as m0018dl from './0018_decode_issue_link_urls.js';
import * as m0019dr from './0019_delivery_refusals.js';
import * as m0020si from './0020_subscriber_imports.js';
import * as m0022dr from './0022_deliveries_relay.js';
import * as m0024ri from './0024_release_items_of_cancelled.js';
import * as m0028ba from './0028_subscriber_bulk_actions.js';
import * as m0029sm from './0029_summary_markdown.js';
import * as m0026fi from './0026_fresh_install.js';

/**
 * Every migration, in order. Static imports (not a folder scan) so they load the same under tsx,
 * vitest and a bundler. Append new ones; never edit one that has shipped.
 */
export const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_feeds': m0002,
  '0003_editorial': m0003,
  '0005_subscribers': m0005,
  '0006_delivery': m0006,
  '0007_tracking': m0007,
  '0008_web_sessions': m0008,
  '0009_issue_item_versions': m0009iv,
  '0010_subscriber_lookups': m0010sl,
  '0011_smtp_relays': m0011sr,
  '0012_bounce_policy': m0012bp,
  '0013_publication_branding': m0013pb,
  '0014_api_key_roles': m0014ak,
  '0014_opt_in_mailed_at': m0014om,
  '0015_legal_archive': m0015la,
  '0016_pause_reply': m0016pr,
  '0017_source_parse_health': m0017sp,
  '0018_decode_issue_link_urls': m0018dl,
  '0019_delivery_refusals': m0019dr,
  '0020_subscriber_imports': m0020si,
  '0022_deliveries_relay': m0022dr,
  '0024_release_items_of_cancelled': m0024ri,
  '0028_subscriber_bulk_actions': m0028ba,
  '0029_summary_markdown': m0029sm,
  '0026_fresh_install': m0026fi,
};
