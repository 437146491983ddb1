import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exportIssueMarkdown } from '../../src/issues/markdown-export.js';
import { parseIssueMarkdown } from '../../src/issues/markdown-parse.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const model = sharedFixture(MODEL_DOCUMENT);
const modelText = model.present ? model.read() : '';
const fixture = (name: string) =>
  readFileSync(path.resolve(projectRoot, 'tests/fixtures/issues', name), 'utf8');

const allUrls = (doc: ReturnType<typeof parseIssueMarkdown>) =>
  doc.sections.flatMap((s) => s.items.flatMap((i) => i.sources.map((src) => src.url)));

describe.skipIf(!model.present)('importing the model document as it is', () => {
  const doc = parseIssueMarkdown(modelText);

  it('finds exactly its four sections, mapped to section keys, and 27 items', () => {
    expect(doc.sections.map((s) => [s.key, s.title, s.items.length])).toEqual([
      ['domestic-regulation', '新规概览', 2],
      ['foreign-regulation', '域外规范', 8],
      ['case-studies', '案例研讨', 6],
      ['industry-news', '行业动态', 11],
    ]);
    expect(doc.sections.reduce((n, s) => n + s.items.length, 0)).toBe(27);
  });

  it('reports no problems and ignores the table of contents', () => {
    expect(doc.problems).toEqual([]);
    // The TOC lists every title with page numbers; none of that leaks into items.
    expect(doc.sections.flatMap((s) => s.items).some((i) => /\.{3,}/.test(i.title + i.summary))).toBe(false);
  });

  it('reads title, period and masthead from the cover', () => {
    expect(doc.title).toBe('数字科技与人工智能');
    expect(doc.period).toBe('2025-07');
    expect(doc.periodKind).toBe('month');
    expect(doc.masthead).toEqual({
      committee: '上海市律师协会数字科技与人工智能专业委员会',
      director: ['张逸瑞（北京市金杜律师事务所上海分所）'],
      deputyDirectors: ['吴卫明（上海市锦天城律师事务所）', '徐凯（上海市君悦律师事务所）'],
      editorialBoard: [],
      editor: '殷雨薇',
      lines: [{ label: 'subtitle', value: 'Digital Technology and Artificial Intelligence' }],
    });
  });

  it('repairs the whitehouse URL split across lines and keeps the three joined by //', () => {
    const orders = doc.sections[1]?.items[7];
    expect(orders?.title).toBe('美国总统特朗普签署系列人工智能领域行政命令');
    expect(orders?.sources).toEqual([
      {
        url: 'https://www.whitehouse.gov/presidential-actions/2025/07/accelerating-federal-permitting-of-data-center-infrastructure/',
      },
      {
        url: 'https://www.whitehouse.gov/presidential-actions/2025/07/preventing-woke-ai-in-the-federal-government/',
      },
      {
        url: 'https://www.whitehouse.gov/presidential-actions/2025/07/promoting-the-export-of-the-american-ai-technology-stack/',
      },
    ]);
    expect(allUrls(doc)).not.toContain('https://www.whitehouse.gov/p');
  });

  it('keeps every source URL intact, including escaped and parenthesised ones', () => {
    const urls = allUrls(doc);
    expect(urls).toHaveLength(30); // 27 items: one with three sources, one with two
    expect(urls).toContain('https://mp.weixin.qq.com/s/h5ISBADQKca3KkHVbOcUsA?scene=25#wechat_redirect');
    expect(urls).toContain(
      'https://www.mfa.gov.cn/ziliao_674904/1179_674909/202507/t20250709_11668022.shtml',
    );
    expect(urls).toContain('https://www.europarl.europa.eu/thinktank/en/document/IUST_STU(2025)774095');
    expect(urls).toContain(
      'https://www.autoriteitpersoonsgegevens.nl/documenten/rapportage-ai-algoritmes-nederland-ran-juli-2025#:~:text=De%20Rapportage%20AI%20%26%20Algoritmes%20Nederland%20%28RAN%29%20gaat,de%20inzet%20van%20artifici%C3%ABle%20intelligentie%20%28AI%29%20en%20algoritmes.',
    );
    expect(urls).toContain('https://www.court.gov.cn/zixun/xiangqing/472121.html');
    for (const url of urls) {
      expect(() => new URL(url)).not.toThrow();
      expect(url).not.toMatch(/\\|\s|[<>]/);
    }
  });

  it('splits sources separated by 、 and drops the [or](#) artifact', () => {
    const ali = doc.sections[3]?.items[2];
    expect(ali?.sources.map((s) => s.url)).toEqual([
      'https://baijiahao.baidu.com/s?id=1837245756091549756&wfr=spider&for=pc',
      'https://hub.baai.ac.cn/view/47698',
    ]);
    const clorox = doc.sections[2]?.items[5];
    expect(clorox?.title).toBe('Clorox 诉 Cognizant 网络攻击案');
    expect(clorox?.sources).toEqual([
      { url: 'https://therecord.media/clorox-cyberattack-lawsuit-cognizant-it-contract' },
    ]);
  });

  it('joins paragraphs cut mid-sentence by page breaks and keeps real paragraph breaks', () => {
    const opinion = doc.sections[0]?.items[1];
    expect(opinion?.summary).toContain(
      '公安部发布《关于办理帮助信息网络犯罪活动等刑事案件有关问题的意见》。',
    );
    expect(opinion?.summary.split('\n\n')).toHaveLength(1);
    const brics = doc.sections[1]?.items[0];
    expect(brics?.summary).toContain('影响全球人工智能治理格局的行动');
    expect(brics?.summary.split('\n\n')).toHaveLength(4);
    const step3 = doc.sections[3]?.items[4];
    expect(step3?.summary).toContain('无法满足用户的综合需求。');
  });

  it('accepts both summary labels, with either colon, and strips the label', () => {
    const summaries = doc.sections.flatMap((s) => s.items.map((i) => i.summary));
    expect(summaries.every((s) => s.length > 50)).toBe(true);
    expect(summaries.some((s) => /内容(摘要|概要)|^\*\*|^[:：]/.test(s))).toBe(false);
    // "**内容概要:** 7月23日" (half-width colon, space after the bold)
    expect(doc.sections[1]?.items[7]?.summary.startsWith('7月23日，美国总统特朗普')).toBe(true);
  });

  it('turns inline links in summaries into their text', () => {
    const kimi = doc.sections[3]?.items[3];
    expect(kimi?.summary).toContain('访问官网 kimi.com 或下载官方 App');
  });

  it('export then import gives the same issue, and exporting again the same text', () => {
    const { problems: _p, ...first } = doc;
    const markdown = exportIssueMarkdown(first);
    const again = parseIssueMarkdown(markdown);
    expect(again.problems).toEqual([]);
    const { problems: _q, ...second } = again;
    expect(second).toEqual(first);
    expect(exportIssueMarkdown(second)).toBe(markdown);
    expect(markdown).toContain(
      '**来源：**<https://www.whitehouse.gov/presidential-actions/2025/07/accelerating',
    );
  });
});

describe('format variants', () => {
  const doc = parseIssueMarkdown(fixture('variants.md'));

  it('accepts any heading level, unbolded labels, half-width colons and 2) numbering', () => {
    expect(doc.problems).toEqual([]);
    expect(doc.period).toBe('2024-11');
    expect(doc.sections.map((s) => [s.key, s.items.map((i) => i.title)])).toEqual([
      ['domestic-regulation', ['半角冒号且不加粗的概要']],
      ['industry-news', ['标签在粗体外面', '被折行的裸链接']],
    ]);
  });

  it('joins a cut paragraph and reads bare URLs separated by spaces and 、', () => {
    const item = doc.sections[0]?.items[0];
    expect(item?.summary).toBe('第一段在这里被分页符切断了，接着写完。\n\n第二段完整。');
    expect(item?.sources.map((s) => s.url)).toEqual([
      'https://example.org/a?x=1',
      'https://example.org/b',
      'https://example.org/c',
    ]);
  });

  it('keeps link labels, drops labels that only repeat the URL, and unescapes', () => {
    const item = doc.sections[1]?.items[0];
    expect(item?.summary).toBe('带链接的摘要 示例 和转义 _下划线_ 与 (括号)。');
    expect(item?.sources).toEqual([
      { url: 'https://example.org/news', label: '新华社' },
      { url: 'https://example.org/plain_name' },
    ]);
  });

  it('repairs a bare URL wrapped at the line end', () => {
    expect(doc.sections[1]?.items[1]?.sources).toEqual([
      { url: 'https://example.org/very/long/path/that/was/cut-here.html' },
    ]);
  });

  it('round-trips labels and the masthead through export', () => {
    const { problems: _p, ...first } = doc;
    const { problems: _q, ...second } = parseIssueMarkdown(exportIssueMarkdown(first));
    expect(second).toEqual(first);
  });
});

describe('what cannot be placed is reported with its line number', () => {
  const doc = parseIssueMarkdown(fixture('problems.md'));

  it('names stray text, text after sources and unknown section headings', () => {
    expect(doc.problems).toEqual([
      { line: 7, message: expect.stringContaining('text outside any item') },
      { line: 15, message: expect.stringContaining('text after the sources') },
      { line: 17, message: expect.stringContaining('"未知栏目" is not a known section') },
    ]);
    // The item under the unknown heading is kept (key null), not dropped.
    expect(doc.sections[1]).toMatchObject({
      key: null,
      title: '未知栏目',
      items: [{ title: '无法放置的条目' }],
    });
  });

  it('maps headings to sections the caller knows by any locale name', () => {
    const withKnown = parseIssueMarkdown(fixture('problems.md'), {
      sections: [{ key: 'unknown-col', names: { 'zh-CN': '未知栏目' } }],
    });
    expect(withKnown.sections[1]?.key).toBe('unknown-col');
  });

  it('reads a source line whose label has no colon', () => {
    const doc = parseIssueMarkdown(
      '标题\n\n每月资讯 2025 年 7 月\n\n# 行业动态\n\n## 1. 条目\n\n内容摘要：好。\n\n来源 <https://example.org/n>\n',
    );
    expect(doc.problems).toEqual([]);
    expect(doc.sections[0]?.items[0]).toEqual({
      title: '条目',
      summary: '好。',
      sources: [{ url: 'https://example.org/n' }],
    });
  });

  it('asks for a period when the cover has none', () => {
    const doc = parseIssueMarkdown('标题\n\n# 新规概览\n\n## 1. 条目\n\n内容摘要：好。\n');
    expect(doc.period).toBeNull();
    expect(doc.problems).toEqual([{ line: 1, message: expect.stringContaining('no period') }]);
    expect(parseIssueMarkdown('标题\n', { period: '2025-W30' })).toMatchObject({
      period: '2025-W30',
      periodKind: 'week',
    });
  });
});
