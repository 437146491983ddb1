import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Cancelling an issue now returns the items editors accepted into it to the inbox (status 'new';
 * src/feeds/inbox.ts, awaitingDecision). Items accepted into issues cancelled before that change
 * are released here, so 'accepted' again means "an editor placed it in a live issue". The issue
 * states themselves are already a CHECK on issues.state (0001).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `UPDATE items SET status = 'new', updated_at = now()
     WHERE status = 'accepted'
       AND NOT EXISTS (SELECT 1 FROM issue_items ii JOIN issues i ON i.id = ii.issue_id
                       WHERE ii.item_id = items.id AND i.state <> 'cancelled')
       AND EXISTS (SELECT 1 FROM issue_items ii WHERE ii.item_id = items.id);`,
  );
}

/** Nothing to undo: which items had been accepted into a cancelled issue is not kept. */
export async function down(): Promise<void> {}
