import type { ColumnType, Generated, Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { FeedNote } from '../feeds/feed-notes.js';
import type { LegalEdits } from '../legal/types.js';

/** Timestamps come back as Date and may be written as Date or ISO string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string | T, string | T>;
type JsonDefault<T> = ColumnType<T, string | T | undefined, string | T>;

export type Locale = 'zh-CN' | 'en';
export const LOCALES: readonly Locale[] = ['zh-CN', 'en'];

/** Localised names, e.g. { "zh-CN": "新规概览", "en": "Domestic regulation" }. */
export type LocalizedText = Partial<Record<Locale, string>>;

export interface Masthead {
  /** The title's second language line, e.g. "Digital Technology and Artificial Intelligence". */
  subtitle?: string;
  committee?: string;
  director?: string[];
  deputyDirectors?: string[];
  editorialBoard?: string[];
  editor?: string;
  /** Any other labelled line the committee prints, kept in order. */
  lines?: { label: string; value: string }[];
}

export interface Branding {
  /** https:// image URL (the migration 0013 check refuses anything else). */
  logoUrl?: string;
  logoAlt?: string;
  /** CSS pixels, integers 1–600; the email reserves this box even when images are blocked. */
  logoWidth?: number;
  logoHeight?: number;
  /** A footer contact line (e-mail, phone), beside the postal address. */
  contact?: string;
  primaryColor?: string;
  accentColor?: string;
  backgroundColor?: string;
  textColor?: string;
  fontFamily?: string;
}

export interface ItemSourceLink {
  url: string;
  label?: string;
}

/** A source's include/exclude keyword rule; an include rule may also assign a section. */
export interface SourceRule {
  type: 'include' | 'exclude';
  keywords: string[];
  sectionKey?: string;
}

export const ISSUE_STATES = [
  'draft',
  'approved',
  'scheduled',
  'sending',
  'paused',
  'sent',
  'cancelled',
  'failed',
] as const;
export type IssueState = (typeof ISSUE_STATES)[number];

export const DELIVERY_STATES = [
  'queued',
  'claimed',
  'sending',
  'accepted',
  'deferred',
  'failed',
  'unknown',
  'skipped',
] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
/** States a delivery never leaves by itself. */
export const FINAL_DELIVERY_STATES: readonly DeliveryState[] = ['accepted', 'failed', 'unknown', 'skipped'];

export const SUBSCRIBER_STATUSES = ['pending', 'active', 'unsubscribed', 'bounced', 'complained'] as const;
export type SubscriberStatus = (typeof SUBSCRIBER_STATUSES)[number];
export type ConsentSource = 'form' | 'import' | 'api' | 'editor';

export const EVENT_TYPES = ['open', 'click', 'bounce', 'complaint', 'unsubscribe'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface PublicationTable {
  id: Generated<number>;
  name: string;
  locale: ColumnType<Locale, Locale | undefined, Locale>;
  time_zone: ColumnType<string, string | undefined, string>;
  from_name: string;
  from_email: string;
  reply_to: string | null;
  masthead: JsonDefault<Masthead>;
  branding: JsonDefault<Branding>;
  postal_address: string | null;
  tracking_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  list_id: string | null;
  /** Soft-bounced issues in a row that suppress a reader, within the last soft_bounce_issues. */
  soft_bounce_limit: ColumnType<number, number | undefined, number>;
  soft_bounce_issues: ColumnType<number, number | undefined, number>;
  /** The sender address verified by a mailed link or configured by the operator (0026). */
  sender_verified_email: string | null;
  sender_verified_at: Timestamp | null;
  updated_at: CreatedAt;
}

export interface SectionsTable {
  id: Generated<number>;
  key: string;
  position: number;
  names: Json<LocalizedText>;
  created_at: CreatedAt;
}

export interface SourcesTable {
  id: Generated<number>;
  name: string;
  url: string;
  kind: ColumnType<'feed' | 'manual', 'feed' | 'manual' | undefined, 'feed' | 'manual'>;
  section_id: number | null;
  rules: JsonDefault<SourceRule[]>;
  poll_interval_minutes: ColumnType<number, number | undefined, number>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  allow_private: ColumnType<boolean, boolean | undefined, boolean>;
  etag: string | null;
  last_modified: string | null;
  status: ColumnType<'ok' | 'failing', 'ok' | 'failing' | undefined, 'ok' | 'failing'>;
  last_polled_at: Timestamp | null;
  last_success_at: Timestamp | null;
  last_error: string | null;
  last_error_at: Timestamp | null;
  consecutive_failures: ColumnType<number, number | undefined, number>;
  next_poll_at: Timestamp | null;
  /** The last poll's HTTP status, if it got one (0002). */
  last_http_status: ColumnType<number | null, number | null | undefined, number | null>;
  /** IANA zone for this source's dates, overriding the publication's (0017). */
  time_zone: ColumnType<string | null, string | null | undefined, string | null>;
  /** What the last successful poll had to bend to read the feed (0017); see src/feeds/feed-notes.ts. */
  parse_notes: JsonDefault<FeedNote[]>;
  /** The charset the last successful poll decoded the feed with (0017). */
  last_charset: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface ItemsTable {
  id: Generated<number>;
  source_id: number | null;
  guid: string | null;
  canonical_url: string | null;
  link: string | null;
  title: string;
  summary_text: ColumnType<string, string | undefined, string>;
  content_html: ColumnType<string, string | undefined, string>;
  author: string | null;
  categories: JsonDefault<string[]>;
  published_at: Timestamp | null;
  /** The offset the feed gave, e.g. "+08:00", kept beside the UTC instant. */
  published_offset: string | null;
  section_id: number | null;
  content_hash: string | null;
  status: ColumnType<'new' | 'accepted' | 'dismissed', 'new' | 'accepted' | 'dismissed' | undefined>;
  fetched_at: CreatedAt;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface ItemSightingsTable {
  id: Generated<number>;
  item_id: number;
  source_id: number | null;
  guid: string;
  url: string | null;
  seen_at: CreatedAt;
}

export interface IssuesTable {
  id: Generated<number>;
  period: string;
  period_kind: ColumnType<'month' | 'week', 'month' | 'week' | undefined, 'month' | 'week'>;
  title: string;
  subject: string | null;
  preheader: string | null;
  intro: string | null;
  masthead: JsonDefault<Masthead>;
  locale: ColumnType<Locale, Locale | undefined, Locale>;
  state: ColumnType<IssueState, IssueState | undefined, IssueState>;
  revision: ColumnType<number, number | undefined, number>;
  tracking_enabled: boolean | null;
  scheduled_at: Timestamp | null;
  schedule_time_zone: string | null;
  hold_reason: string | null;
  pause_reason: string | null;
  /** The relay's reply behind pause_reason, when a relay caused the stop. */
  pause_reply: string | null;
  approved_at: Timestamp | null;
  approved_by: string | null;
  prepared_at: Timestamp | null;
  sending_started_at: Timestamp | null;
  sent_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface IssueSectionsTable {
  issue_id: number;
  section_id: number;
  position: number;
}

export interface IssueItemsTable {
  id: Generated<number>;
  issue_id: number;
  section_id: number;
  item_id: number | null;
  position: number;
  title: string;
  summary: ColumnType<string, string | undefined, string>;
  sources: JsonDefault<ItemSourceLink[]>;
  /** Bumped by every content change; the web editor's optimistic concurrency check. */
  version: ColumnType<number, number | undefined, number>;
  /** The editor's legal metadata (src/legal): set or cleared fields, confirmation (0015). */
  legal: JsonDefault<LegalEdits>;
  edited_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface IssueAuditTable {
  id: Generated<number>;
  issue_id: number;
  actor: string;
  action: string;
  detail: JsonDefault<Record<string, unknown>>;
  at: CreatedAt;
}

/** Items an editor removed from an issue, so reassembly does not bring them back. */
export interface IssueItemExclusionsTable {
  issue_id: number;
  item_id: number;
  excluded_by: string;
  excluded_at: CreatedAt;
}

export interface IssueVariantsTable {
  id: Generated<number>;
  issue_id: number;
  revision: number;
  variant_key: string;
  locale: Locale;
  section_keys: string[];
  subject: string;
  html: string;
  text: string;
  html_bytes: number;
  text_bytes: number;
  warnings: JsonDefault<string[]>;
  compiled_at: CreatedAt;
}

export interface SubscribersTable {
  id: Generated<number>;
  email: string;
  email_normalized: string;
  name: string | null;
  locale: ColumnType<Locale, Locale | undefined, Locale>;
  status: ColumnType<SubscriberStatus, SubscriberStatus | undefined, SubscriberStatus>;
  all_sections: ColumnType<boolean, boolean | undefined, boolean>;
  consent_source: ConsentSource;
  created_at: CreatedAt;
  confirmed_at: Timestamp | null;
  unsubscribed_at: Timestamp | null;
  updated_at: CreatedAt;
  /** When the subscribe form last mailed this address; one mail per OPT_IN_MAIL_INTERVAL_MS (0014_opt_in_mailed_at). */
  opt_in_mailed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface SubscriberSectionsTable {
  subscriber_id: number;
  section_id: number;
}

export interface SuppressionsTable {
  id: Generated<number>;
  kind: 'address' | 'domain';
  value: string;
  reason: 'hard_bounce' | 'soft_bounce' | 'complaint' | 'manual' | 'smtp_rejected';
  note: string | null;
  /** A reason from delivery/reasons.ts, for bounce suppressions. */
  bounce_reason: ColumnType<string | null, string | null | undefined, string | null>;
  /** What the report said: { status, diagnostic, channel, feedbackType }. */
  evidence: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  event_id: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: CreatedAt;
}

export interface SuppressionAuditTable {
  id: Generated<number>;
  kind: 'address' | 'domain';
  value: string;
  action: 'lift';
  reason: string;
  bounce_reason: string | null;
  evidence: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  actor: string;
  created_at: CreatedAt;
}

export const IMPORT_STATES = ['queued', 'running', 'done', 'failed'] as const;
export type ImportState = (typeof IMPORT_STATES)[number];

/** A subscriber CSV import run as a job, with its progress and outcome (0020). */
export interface SubscriberImportsTable {
  id: Generated<number>;
  file_name: string;
  size_bytes: number;
  state: ColumnType<ImportState, ImportState | undefined, ImportState>;
  actor: string | null;
  new_status: ColumnType<'active' | 'pending', 'active' | 'pending' | undefined, 'active' | 'pending'>;
  default_locale: Locale | null;
  max_rows: number;
  records_done: ColumnType<number, number | undefined, number>;
  bytes_done: ColumnType<number, number | undefined, number>;
  added: ColumnType<number, number | undefined, number>;
  updated: ColumnType<number, number | undefined, number>;
  skipped: ColumnType<number, number | undefined, number>;
  invalid: ColumnType<number, number | undefined, number>;
  skipped_reasons: JsonDefault<Record<string, number>>;
  runs: ColumnType<number, number | undefined, number>;
  run_token: string | null;
  error_code: string | null;
  error_params: Json<Record<string, string | number>> | null;
  error: string | null;
  created_at: CreatedAt;
  started_at: Timestamp | null;
  progress_at: Timestamp | null;
  finished_at: Timestamp | null;
}

/** The uploaded file, in pieces of at most 1 MiB, until its import is done or failed (0020). */
export interface SubscriberImportChunksTable {
  import_id: number;
  seq: number;
  data: Buffer;
}

/** One refused row of an import, for the report (0020). */
export interface SubscriberImportRefusalsTable {
  import_id: number;
  n: number;
  line: number;
  value: string | null;
  code: string;
  params: JsonDefault<Record<string, string | number>>;
  reason: string;
}

export type SubscriberBulkAction =
  | 'sections-add'
  | 'sections-remove'
  | 'sections-set'
  | 'suppress'
  | 'export';

/** An editor's bulk action on a selection of subscribers (0028), written with the change itself. */
export interface SubscriberBulkActionsTable {
  id: Generated<number>;
  actor: string;
  action: SubscriberBulkAction;
  params: JsonDefault<Record<string, unknown>>;
  selection: ColumnType<Record<string, unknown>, string, string>;
  affected: number;
  subscriber_ids: ColumnType<number[], number[], number[]>;
  at: CreatedAt;
}

export interface ErasedSubscribersTable {
  email_hash: string;
  erased_at: CreatedAt;
}

export interface DeliveriesTable {
  id: Generated<number>;
  issue_id: number;
  subscriber_id: number;
  variant_key: string | null;
  state: ColumnType<DeliveryState, DeliveryState | undefined, DeliveryState>;
  skip_reason: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  lease_owner: string | null;
  lease_until: Timestamp | null;
  next_attempt_at: Timestamp | null;
  /** The relay's name (RelaySpec.name) the row went out through (0022; was `transport`). */
  relay: string | null;
  smtp_code: number | null;
  smtp_response: string | null;
  error_class: string | null;
  message_id: string | null;
  accepted_at: Timestamp | null;
  /** Refusals before the final outcome (deferred, throttled, rested), kept after acceptance (0019). */
  refusals: ColumnType<number, number | undefined, number>;
  last_refusal_reason: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface IssueLinksTable {
  id: Generated<number>;
  issue_id: number;
  url: string;
  section_id: number | null;
  /** Every click through this link, repeats included (0007). */
  click_count: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
}

export interface EventsTable {
  id: Generated<number>;
  type: EventType;
  subtype: string | null;
  delivery_id: number | null;
  issue_id: number | null;
  subscriber_id: number | null;
  link_id: number | null;
  dedupe_key: string | null;
  proxied: ColumnType<boolean, boolean | undefined, boolean>;
  detail: JsonDefault<Record<string, unknown>>;
  occurred_at: CreatedAt;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  id: Generated<number>;
  name: string;
  key_hash: string;
  /** What the key may do, as a user of that role may (0014_api_key_roles). */
  role: Generated<UserRole>;
  created_at: CreatedAt;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface UsersTable {
  id: Generated<number>;
  email: string;
  name: string | null;
  role: UserRole;
  password_hash: string;
  /** null: follow the browser's Accept-Language. */
  locale: Locale | null;
  created_at: CreatedAt;
  disabled_at: Timestamp | null;
  last_sign_in_at: Timestamp | null;
}

export const RELAY_SECURITY = ['starttls', 'tls'] as const;
export type RelaySecurity = (typeof RELAY_SECURITY)[number];

export interface SmtpRelaysTable {
  id: Generated<number>;
  name: string;
  host: string;
  port: number;
  /** starttls: smtp:// (STARTTLS when offered); tls: smtps:// (TLS from the first byte). */
  security: RelaySecurity;
  username: string | null;
  /** AES-256-GCM under a key derived from SECRET_KEY (src/delivery/relays.ts); never shown. */
  password_encrypted: string | null;
  weight: ColumnType<number, number | undefined, number>;
  per_second: ColumnType<number, number | undefined, number>;
  per_hour: ColumnType<number, number | undefined, number>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export const USER_ROLES = ['viewer', 'editor', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export interface UserSessionsTable {
  /** sha256 of the cookie's token. */
  id: string;
  user_id: number;
  created_at: CreatedAt;
  last_seen_at: ColumnType<Date, Date | undefined, Date>;
  expires_at: Timestamp;
}

export interface BrandAssetsTable {
  sha256: string;
  content_type: 'image/png' | 'image/jpeg' | 'image/gif';
  bytes: Buffer;
  created_at: CreatedAt;
}

export const LINK_STATES = ['unchecked', 'alive', 'dead'] as const;
export type LinkState = (typeof LINK_STATES)[number];
export type DeadReason = 'gone' | 'moved-home' | 'dns';

/** A cited source page as fetched when its issue was approved, and its link health since (0015). */
export interface SourceSnapshotsTable {
  id: Generated<number>;
  issue_id: number;
  url: string;
  final_url: string | null;
  http_status: number | null;
  title: string | null;
  content_type: string | null;
  content_hash: string | null;
  /** gzip of the readable text / sanitised HTML / an uploaded PDF. */
  text_gz: Buffer | null;
  html_gz: Buffer | null;
  pdf_gz: Buffer | null;
  stored_bytes: ColumnType<number, number | undefined, number>;
  truncated: ColumnType<boolean, boolean | undefined, boolean>;
  /** The text's start, uncompressed: what the legal rules read. */
  excerpt: ColumnType<string, string | undefined, string>;
  /** Why there is no content (fetch failed, over the cap). */
  error: string | null;
  origin: ColumnType<'fetch' | 'upload', 'fetch' | 'upload' | undefined, 'fetch' | 'upload'>;
  fetched_at: Timestamp | null;
  link_state: ColumnType<LinkState, LinkState | undefined, LinkState>;
  dead_reason: DeadReason | null;
  dead_since: Timestamp | null;
  last_checked_at: Timestamp | null;
  last_check_status: number | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

/** The archive's search tokens per issue item (src/search); tsvector written through sql. */
export interface IssueItemSearchTable {
  issue_item_id: number;
  issue_id: number;
  revision: number;
  /** Plain legal values (jurisdiction, kind, bodies…) as indexed, for the archive's filters. */
  legal: JsonDefault<Record<string, unknown>>;
  tokens: string;
}

export interface Database {
  publication: PublicationTable;
  brand_assets: BrandAssetsTable;
  sections: SectionsTable;
  sources: SourcesTable;
  items: ItemsTable;
  item_sightings: ItemSightingsTable;
  issues: IssuesTable;
  issue_sections: IssueSectionsTable;
  issue_items: IssueItemsTable;
  issue_audit: IssueAuditTable;
  issue_item_exclusions: IssueItemExclusionsTable;
  issue_variants: IssueVariantsTable;
  subscribers: SubscribersTable;
  subscriber_sections: SubscriberSectionsTable;
  suppressions: SuppressionsTable;
  suppression_audit: SuppressionAuditTable;
  subscriber_bulk_actions: SubscriberBulkActionsTable;
  erased_subscribers: ErasedSubscribersTable;
  subscriber_imports: SubscriberImportsTable;
  subscriber_import_chunks: SubscriberImportChunksTable;
  subscriber_import_refusals: SubscriberImportRefusalsTable;
  deliveries: DeliveriesTable;
  issue_links: IssueLinksTable;
  events: EventsTable;
  users: UsersTable;
  user_sessions: UserSessionsTable;
  api_keys: ApiKeysTable;
  smtp_relays: SmtpRelaysTable;
  source_snapshots: SourceSnapshotsTable;
  issue_item_search: IssueItemSearchTable;
}

export type Db = Kysely<Database>;

export type Section = Selectable<SectionsTable>;
export type Source = Selectable<SourcesTable>;
export type NewSource = Insertable<SourcesTable>;
export type Item = Selectable<ItemsTable>;
export type Issue = Selectable<IssuesTable>;
export type IssueUpdate = Updateable<IssuesTable>;
export type IssueItem = Selectable<IssueItemsTable>;
export type Subscriber = Selectable<SubscribersTable>;
export type Delivery = Selectable<DeliveriesTable>;
export type Publication = Selectable<PublicationTable>;
export type User = Selectable<UsersTable>;
