import type { RecipientTokens, RenderableIssue } from '../../src/rendering/types.js';

/** A small English issue written for these tests, with one empty section and hostile content. */
export function hostileIssue(): RenderableIssue {
  return {
    id: 7,
    revision: 3,
    period: '2025-07',
    periodKind: 'month',
    title: 'Weekly {{name}} digest <script>alert(1)</script>',
    subject: 'The {{unsubscribeUrl}} issue',
    preheader: 'Preheader with {{{trackingToken}}} & <b>tags</b>',
    intro: 'Intro paragraph one {{#each x}}.\n\nIntro two with \\{{name}} backslash.',
    locale: 'en',
    masthead: { committee: 'Committee <i>A</i>', editor: 'Ed {{ itor }}' },
    trackingEnabled: true,
    publication: {
      name: 'Gazette {{webVersionUrl}}',
      timeZone: 'UTC',
      postalAddress: '1 Main St {{x}}',
      branding: { primaryColor: '#224466', logoUrl: 'https://cdn.example.org/logo.png', logoAlt: 'Logo "x"' },
      listId: null,
    },
    sections: [
      {
        key: 'alpha',
        names: { en: 'Alpha {{name}}', 'zh-CN': '甲' },
        items: [
          {
            id: 101,
            title: 'First <img src=x onerror=alert(1)> {{preferencesUrl}}',
            summary: 'Body with }} and {{ and {{{raw}}} and a \\ backslash.\n\nSecond paragraph.',
            sources: [
              { url: 'https://example.org/a?x=1&y=2', label: 'Example {{name}}' },
              { url: 'javascript:alert(1)' },
              { url: 'https://example.org/{{trackingToken}}' },
            ],
          },
        ],
      },
      { key: 'empty', names: { en: 'Empty' }, items: [] },
      {
        key: 'beta',
        names: { en: 'Beta' },
        items: [{ id: 102, title: 'Second', summary: 'Plain.', sources: [{ url: 'https://example.org/b' }] }],
      },
    ],
  };
}

export const TOKENS: RecipientTokens = {
  name: 'Zoë <Ann> & "Co"',
  unsubscribeUrl: 'https://news.example.org/u/abc.def?sig=1&x=2',
  preferencesUrl: 'https://news.example.org/p/abc.def',
  webVersionUrl: 'https://news.example.org/w/7/abc',
  trackingToken: 'trk_123.sig',
};

export const PUBLIC_URL = 'https://news.example.org';
