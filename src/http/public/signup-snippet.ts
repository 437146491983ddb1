import type { Locale, Section } from '../../db/schema.js';
import { escapeHtml } from '../../rendering/escape.js';
import { strings } from '../i18n.js';
import { sectionName } from './page-helpers.js';

export interface SignupSnippetInput {
  /** Gazette's public address (PUBLIC_URL): the form posts to its /subscribe. */
  publicUrl: string;
  /** The language of the form's labels and of the mail the subscriber will get. */
  locale: Locale;
  /** The publication's sections, in order; the form offers them as checkboxes. */
  sections: Pick<Section, 'key' | 'names'>[];
  /** false: no checkboxes, the subscriber gets every section. */
  offerSections?: boolean;
}

/**
 * The HTML an association pastes into its own site to collect signups, as listmonk's and Ghost's
 * "subscription form" snippets: a plain form posting to the public /subscribe route, no script
 * and no styles (the host page styles it), so any site's Content-Security-Policy accepts it.
 * A form submission is a navigation, not a script request: CORS does not apply, /subscribe takes
 * no CSRF token (it only ever sends a confirmation mail), and its per-address rate limit
 * (SUBSCRIBE_RATE_PER_MINUTE) counts the visitor's address, not the host site's. The visitor
 * lands on Gazette's "check your inbox" page, in the form's language.
 */
export function signupSnippet(input: SignupSnippetInput): string {
  const t = strings(input.locale);
  const e = escapeHtml;
  const action = `${input.publicUrl.replace(/\/+$/, '')}/subscribe`;
  const id = (name: string) => `gazette-signup-${name}`;
  const lines = [
    `<form class="gazette-signup" method="post" action="${e(action)}" accept-charset="utf-8" lang="${e(input.locale)}">`,
    `  <input type="hidden" name="locale" value="${e(input.locale)}">`,
    `  <p><label for="${id('email')}">${e(t.email)}</label><br>`,
    `  <input id="${id('email')}" type="email" name="email" required maxlength="254" autocomplete="email"></p>`,
    `  <p><label for="${id('name')}">${e(t.name)}</label><br>`,
    `  <input id="${id('name')}" type="text" name="name" maxlength="200" autocomplete="name"></p>`,
  ];
  if (input.offerSections !== false && input.sections.length) {
    lines.push(`  <fieldset>`, `    <legend>${e(t.sections)}</legend>`);
    for (const s of input.sections) {
      lines.push(
        `    <label><input type="checkbox" name="sections" value="${e(s.key)}"> ${e(sectionName(s as Section, input.locale))}</label><br>`,
      );
    }
    lines.push(`    <small>${e(t.sectionsHint)}</small>`, `  </fieldset>`);
  }
  lines.push(
    `  <p><button type="submit">${e(t.subscribeButton)}</button></p>`,
    `  <p><small>${e(t.subscribeIntro)}</small></p>`,
    `</form>`,
  );
  return `${lines.join('\n')}\n`;
}
