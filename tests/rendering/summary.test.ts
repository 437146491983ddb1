import * as cheerio from 'cheerio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  plainToMarkdown as frozenPlainToMarkdown,
  up as summaryMigration,
} from '../../src/db/migrations/0029_summary_markdown.js';
import { parseIssueMarkdown } from '../../src/issues/markdown-parse.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { escapeHtml } from '../../src/rendering/escape.js';
import { compileVariant } from '../../src/rendering/index.js';
import { parseSummary, plainToMarkdown, summaryHtml, summaryPlain } from '../../src/rendering/summary.js';
import type { RenderableIssue } from '../../src/rendering/types.js';
import { paragraphsOf } from '../../src/rendering/view-model.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { PUBLIC_URL } from './fixtures.js';

const model = sharedFixture(MODEL_DOCUMENT);

/** How a plain-text summary rendered before summaries were Markdown (view-model.ts, item partial). */
const oldHtml = (plain: string) =>
  paragraphsOf(plain)
    .map((p) => `<p>${escapeHtml(p)}</p>`)
    .join('');
const oldText = (plain: string) => paragraphsOf(plain).join('\n\n');

/** A small seeded generator (mulberry32), so a failure names a case that can be run again. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// Everything Markdown could read as syntax, and the spaces and breaks the old joiner handled.
const PIECES = [
  '*',
  '**',
  '_',
  '[',
  ']',
  '(',
  ')',
  '<',
  '>',
  '\\',
  '`',
  '-',
  '+',
  '#',
  '1.',
  '2)',
  '!',
  '&amp;',
  '{{',
  '}}',
  ' ',
  '  ',
  '\n',
  '\n\n',
  '\n \n',
  '\u3000',
  '\t',
  '\r\n',
  'https://x.example/a_b',
  'a',
  'Law',
  '法规',
  '。',
  '，',
  '“',
  '”',
  '~~',
  '|',
  '=',
  '---',
];

function fuzzCase(next: () => number): string {
  const n = 1 + Math.floor(next() * 24);
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(next() * PIECES.length)];
  return s;
}

describe('summaries stored before they were Markdown render as they did', () => {
  const samples = [
    '根据《办法》第 3 条，*不得*使用 _下划线_ 和 [方括号](不是链接)。',
    '- 这一行以连字符开头\n+ 这一行以加号开头\n1. 这一行像编号\n2) 这一行也像',
    '路径 C:\\Users\\名字\\ 和 \\* 星号',
    '各位委员：　\n　　本期汇集国内外新规。  \n\n第二段。\t',
    '<https://example.org/> 与 <b>粗体</b> 与 `code`',
    'The AI\nAct applies.\n\n\n  Second   paragraph  ',
    '{{name}} 和 {{{raw}}} 与 \\{{name}}',
    '',
  ];

  it.each(samples)('%j: same html and text', (plain) => {
    const md = plainToMarkdown(plain);
    expect(summaryHtml(md)).toBe(oldHtml(plain));
    expect(summaryPlain(md)).toBe(oldText(plain));
  });

  it('3000 generated summaries full of Markdown characters: same html and text', () => {
    const next = random(19);
    for (let i = 0; i < 3000; i++) {
      const plain = fuzzCase(next);
      const md = plainToMarkdown(plain);
      const mismatch = summaryHtml(md) !== oldHtml(plain) || summaryPlain(md) !== oldText(plain);
      if (mismatch)
        expect({ case: i, plain, html: summaryHtml(md) }).toEqual({ case: i, plain, html: oldHtml(plain) });
    }
  });

  it.skipIf(!model.present)('every summary of the model document: same html and text', () => {
    const parsed = parseIssueMarkdown(model.read(), {
      sections: MODEL_SECTIONS.map((s) => ({ key: s.key, names: s.names })),
    });
    const summaries = parsed.sections.flatMap((s) => s.items.map((i) => i.summary));
    expect(summaries).toHaveLength(27);
    for (const plain of summaries) {
      expect(summaryHtml(plainToMarkdown(plain))).toBe(oldHtml(plain));
      expect(summaryPlain(plainToMarkdown(plain))).toBe(oldText(plain));
    }
  });

  it("the migration's frozen copy converts exactly like the renderer's", () => {
    const next = random(7);
    for (let i = 0; i < 500; i++) {
      const plain = fuzzCase(next);
      expect(frozenPlainToMarkdown(plain)).toBe(plainToMarkdown(plain));
    }
  });

  describe('migration 0029 on stored rows', () => {
    let tdb: TestDatabase;
    beforeAll(async () => {
      tdb = await createTestDatabase();
    });
    afterAll(async () => {
      await tdb?.drop();
    });

    it('rewrites plain summaries as Markdown that reads the same, leaving plain-safe ones untouched', async () => {
      const issue = await tdb.db
        .insertInto('issues')
        .values({ period: '2025-06', title: 't', state: 'sent' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const section = await tdb.db
        .insertInto('sections')
        .values({ key: 'a', position: 1, names: JSON.stringify({ 'zh-CN': '甲' }) })
        .returning('id')
        .executeTakeFirstOrThrow();
      const plain = [...samples, '没有特殊字符的摘要。'];
      for (const [position, summary] of plain.entries()) {
        await tdb.db
          .insertInto('issue_items')
          .values({ issue_id: issue.id, section_id: section.id, position, title: `t${position}`, summary })
          .execute();
      }
      await summaryMigration(tdb.db as never);
      const rows = await tdb.db
        .selectFrom('issue_items')
        .select(['summary', 'position'])
        .orderBy('position')
        .execute();
      for (const row of rows) {
        const before = plain[row.position] as string;
        expect(summaryHtml(row.summary)).toBe(oldHtml(before));
      }
      expect(rows.at(-1)?.summary).toBe('没有特殊字符的摘要。');
      expect(rows[0]?.summary).toBe(
        '根据《办法》第 3 条，\\*不得\\*使用 \\_下划线\\_ 和 \\[方括号\\](不是链接)。',
      );
    });
  });
});

describe('summary Markdown: what an editor can write', () => {
  it('paragraphs, with a line break inside one joined as before (none between CJK, a space between words)', () => {
    expect(summaryHtml('立场。\n（编者按）\n\nThe AI\nAct.')).toBe(
      '<p>立场。（编者按）</p><p>The AI Act.</p>',
    );
  });

  it('links in the text, written [text](url) or <url>, and mailto:', () => {
    expect(summaryHtml('见[欧盟官方公报](https://eur-lex.europa.eu/eli/reg/2024/1689/oj)。')).toBe(
      '<p>见<a href="https://eur-lex.europa.eu/eli/reg/2024/1689/oj">欧盟官方公报</a>。</p>',
    );
    expect(summaryHtml('<https://example.org/a?b=1&c=2>')).toBe(
      '<p><a href="https://example.org/a?b&#61;1&amp;c&#61;2">https://example.org/a?b&#61;1&amp;c&#61;2</a></p>',
    );
    expect(summaryHtml('[来信](mailto:editor@example.org)')).toBe(
      '<p><a href="mailto:editor@example.org">来信</a></p>',
    );
  });

  it('emphasis and strong emphasis, also next to Chinese text', () => {
    expect(summaryHtml('这是*强调*和**重点**。')).toBe('<p>这是<em>强调</em>和<strong>重点</strong>。</p>');
  });

  it('bulleted and numbered lists, a numbered list keeping its first number, nested lists', () => {
    expect(summaryHtml('要点：\n\n- 第一\n- 第二\n\n3. 三\n4. 四')).toBe(
      '<p>要点：</p><ul><li>第一</li><li>第二</li></ul><ol start="3"><li>三</li><li>四</li></ol>',
    );
    expect(summaryHtml('- a\n  - b\n- c')).toBe('<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>');
    expect(summaryHtml('- a\n\n- b')).toBe('<ul><li><p>a</p></li><li><p>b</p></li></ul>');
  });

  it('everything else stays the text typed: headings, quotes, images, code, raw HTML', () => {
    expect(summaryHtml('# 标题')).toBe('<p># 标题</p>');
    expect(summaryHtml('> 引用')).toBe('<p>&gt; 引用</p>');
    expect(summaryHtml('![图](https://example.org/x.png)')).toBe(
      '<p>!<a href="https://example.org/x.png">图</a></p>',
    );
    expect(summaryHtml('`code`')).toBe('<p>&#96;code&#96;</p>');
    expect(summaryHtml('<b onclick="x()">粗</b>')).toBe(
      '<p>&lt;b onclick&#61;&quot;x()&quot;&gt;粗&lt;/b&gt;</p>',
    );
  });
});

describe('summary Markdown: what cannot get through', () => {
  it.each([
    ['javascript:', '[点我](javascript:alert(1))'],
    ['vbscript:', '[点我](vbscript:msgbox(1))'],
    ['data:', '[点我](data:text/html;base64,PHNjcmlwdD4=)'],
    ['a relative path', '[点我](/admin/users)'],
    ['a protocol-relative URL', '[点我](//evil.example/x)'],
    ['file:', '[点我](file:///etc/passwd)'],
  ])('a link to %s is shown as its text, without an anchor', (_what, md) => {
    const html = summaryHtml(md);
    expect(html).not.toContain('<a');
    expect(cheerio.load(html).text()).toContain('点我');
  });

  it('quotes and angle brackets in a URL cannot leave the attribute', () => {
    const html = summaryHtml('[x](https://example.org/"onmouseover="alert(1))');
    const $ = cheerio.load(html);
    expect($('a').attr('onmouseover')).toBeUndefined();
    expect(html).not.toMatch(/"onmouseover/);
  });

  it('no summary can write a per-recipient {{token}}, in text or in a link', () => {
    const html = summaryHtml('{{unsubscribeUrl}} [a](https://example.org/{{trackingToken}}) **{{name}}**');
    expect(html).not.toMatch(/\{\{|\}\}/);
  });

  it('the tree holds only the kinds the renderer knows', () => {
    const kinds = new Set<string>();
    const walk = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else if (x && typeof x === 'object') {
        const o = x as Record<string, unknown>;
        if (typeof o.t === 'string') kinds.add(o.t);
        for (const v of Object.values(o)) walk(v);
      }
    };
    walk(
      parseSummary(
        '# h\n\n> q\n\n```\ncode\n```\n\n| a | b |\n|---|---|\n\n***\n\n- *a* **b** [c](https://x.example)  \nd\n\n1. e',
      ),
    );
    expect(
      [...kinds].every((k) => ['p', 'ul', 'ol', 'text', 'em', 'strong', 'link', 'soft', 'br'].includes(k)),
    ).toBe(true);
  });
});

describe('summary Markdown in the compiled email', () => {
  const issue = (): RenderableIssue => ({
    id: 9,
    revision: 1,
    period: '2025-08',
    periodKind: 'month',
    title: '数字科技与人工智能',
    subject: '',
    preheader: '',
    intro: '',
    locale: 'zh-CN',
    masthead: {},
    trackingEnabled: false,
    publication: {
      name: 'Gazette',
      timeZone: 'Asia/Shanghai',
      postalAddress: null,
      branding: {},
      listId: null,
    },
    sections: [
      {
        key: 'domestic',
        names: { 'zh-CN': '新规概览' },
        items: [
          {
            id: 1,
            title: '欧盟人工智能法生效',
            summary:
              '全文见[官方公报](https://eur-lex.europa.eu/oj)，**重点**如下：\n\n- 禁止的做法\n- 高风险系统',
            sources: [{ url: 'https://example.org/source' }],
          },
        ],
      },
    ],
  });

  it('html: the link with the theme colour, emphasis and the list', async () => {
    const v = await compileVariant(issue(), {
      sectionKeys: ['domestic'],
      locale: 'zh-CN',
      publicUrl: PUBLIC_URL,
    });
    const $ = cheerio.load(v.html);
    const link = $('a[href="https://eur-lex.europa.eu/oj"]');
    expect(link.text()).toBe('官方公报');
    expect(link.attr('style')).toMatch(/color:#/);
    expect($('strong').text()).toBe('重点');
    expect(
      $('ul li')
        .map((_, el) => $(el).text())
        .get(),
    ).toEqual(['禁止的做法', '高风险系统']);
  });

  it('text: the link numbered with the sources, list items with their marker', async () => {
    const v = await compileVariant(issue(), {
      sectionKeys: ['domestic'],
      locale: 'zh-CN',
      publicUrl: PUBLIC_URL,
    });
    expect(v.text).toContain('全文见官方公报 [1]，重点如下：');
    expect(v.text).toMatch(/\n {3}- 禁止的做法\n {3}- 高风险系统\n/);
    expect(v.text).toContain('[1] https://eur-lex.europa.eu/oj');
    expect(v.text).toContain('[2] https://example.org/source');
    expect(v.text).not.toContain('**');
  });
});
