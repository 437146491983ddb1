/**
 * The demo's four source feeds, one per section of the model newsletter and one per feed format
 * Gazette reads (RSS 2.0, Atom, JSON Feed, RSS 1.0). The text is Gazette's own, written in the
 * style of a monthly Chinese legal/AI digest; dates fall in July 2025 (Asia/Shanghai).
 */
import { escapeHtml as esc } from '../rendering/escape.js';

export const DEMO_PERIOD = '2025-07';

export interface DemoEntry {
  slug: string;
  title: string;
  summary: string;
  date: string;
}

export interface DemoFeed {
  sectionKey: string;
  name: string;
  path: string;
  format: 'rss2' | 'atom' | 'jsonfeed' | 'rss1';
  entries: DemoEntry[];
}

export const DEMO_FEEDS: DemoFeed[] = [
  {
    sectionKey: 'domestic-regulation',
    name: '示例监管动态（RSS 2.0）',
    path: '/feeds/domestic.xml',
    format: 'rss2',
    entries: [
      {
        slug: 'ai-labeling-measures',
        title: '《人工智能生成合成内容标识办法》配套指引征求意见',
        summary:
          '监管部门就生成合成内容的显式标识与隐式标识发布配套指引草案，明确平台对元数据标识的核验义务，并对标识被删除、篡改的情形规定了处置流程。意见反馈截止至 8 月 15 日。',
        date: '2025-07-08T10:00:00+08:00',
      },
      {
        slug: 'data-export-faq',
        title: '数据出境安全评估常见问题解答（第二版）发布',
        summary:
          '解答新增了跨国企业集团内部数据传输、员工个人信息出境和个人信息保护认证之间关系等问题，并提示“重要数据”的识别以行业目录为准。',
        date: '2025-07-21T16:30:00+08:00',
      },
      {
        slug: 'algorithm-filing',
        title: '第十批深度合成服务算法备案信息公布',
        summary:
          '本批备案共涉及 200 余款算法，覆盖文本生成、图像生成与语音合成，备案主体以互联网平台和金融机构为主。',
        date: '2025-07-29T09:15:00+08:00',
      },
    ],
  },
  {
    sectionKey: 'foreign-regulation',
    name: 'Sample foreign regulation (Atom)',
    path: '/feeds/foreign.atom',
    format: 'atom',
    entries: [
      {
        slug: 'eu-gpai-guidelines',
        title: '欧盟委员会发布通用人工智能模型义务指引',
        summary:
          '指引说明了“通用人工智能模型”的认定门槛、开源模型的豁免范围，以及 2025 年 8 月 2 日前已投放市场模型的过渡安排。',
        date: '2025-07-18T18:00:00+02:00',
      },
      {
        slug: 'uk-compute-roadmap',
        title: '英国发布国家算力路线图',
        summary: '路线图提出至 2030 年扩大公共算力规模，并设立“人工智能增长区”以集中布局数据中心与电力配套。',
        date: '2025-07-17T11:00:00+01:00',
      },
    ],
  },
  {
    sectionKey: 'case-studies',
    name: '示例案例汇编（JSON Feed）',
    path: '/feeds/cases.json',
    format: 'jsonfeed',
    entries: [
      {
        slug: 'ai-rumor-detention',
        title: '利用 AI 编造灾情谣言被行政拘留案',
        summary:
          '行为人使用生成式模型编造“水库决堤”图文并在短视频平台传播，公安机关依据《治安管理处罚法》认定其虚构事实扰乱公共秩序，处行政拘留七日。',
        date: '2025-07-12T20:00:00+08:00',
      },
      {
        slug: 'platform-ai-label-dispute',
        title: '平台误判用户内容为 AI 生成，法院判令撤销处置',
        summary:
          '法院认为，平台以“缺乏人类情感特征”为由认定内容系 AI 生成，缺乏合理依据，亦未就算法判定结果作出说明，构成服务合同违约。',
        date: '2025-07-24T14:00:00+08:00',
      },
    ],
  },
  {
    sectionKey: 'industry-news',
    name: '示例行业资讯（RSS 1.0）',
    path: '/feeds/industry.rdf',
    format: 'rss1',
    entries: [
      {
        slug: 'open-model-release',
        title: '国内团队开源万亿参数混合专家模型',
        summary:
          '模型采用混合专家架构，每次推理激活约 320 亿参数，并提供兼容主流接口标准的 API 服务，支持 128K 上下文。',
        date: '2025-07-11T21:00:00+08:00',
      },
      {
        slug: 'cross-region-training',
        title: '跨地域智算中心联合训练千亿参数模型',
        summary:
          '项目跨越 1500 公里连接两地智算中心，算力利用率达到单集群的 95% 以上，为分散算力的整合提供了新路径。',
        date: '2025-07-19T15:00:00+08:00',
      },
      {
        slug: 'simultaneous-interpretation',
        title: '端到端同声传译模型发布，延迟降至 3 秒以内',
        summary: '模型在多人会议场景下中英双向翻译准确率超过 70%，单人演讲场景超过 80%。',
        date: '2025-07-24T10:00:00+08:00',
      },
    ],
  },
];

/** The feed document for one fixture, with links on `baseUrl` (the demo's own HTTP server). */
export function renderDemoFeed(feed: DemoFeed, baseUrl: string): { body: string; contentType: string } {
  const link = (e: DemoEntry) => `${baseUrl}/articles/${e.slug}`;
  switch (feed.format) {
    case 'rss2':
      return {
        contentType: 'application/rss+xml; charset=utf-8',
        body: `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>${esc(feed.name)}</title><link>${baseUrl}/</link><description>demo</description>
${feed.entries
  .map(
    (e) => `<item><title>${esc(e.title)}</title><link>${link(e)}</link><guid>${link(e)}</guid>
<pubDate>${new Date(e.date).toUTCString()}</pubDate><description>${esc(`<p>${e.summary}</p>`)}</description></item>`,
  )
  .join('\n')}
</channel></rss>`,
      };
    case 'atom':
      return {
        contentType: 'application/atom+xml; charset=utf-8',
        body: `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>${esc(feed.name)}</title><id>${baseUrl}${feed.path}</id>
<updated>${feed.entries[0]?.date}</updated>
${feed.entries
  .map(
    (e) => `<entry><title>${esc(e.title)}</title><link href="${link(e)}"/><id>urn:demo:${e.slug}</id>
<updated>${e.date}</updated><published>${e.date}</published><summary type="html">${esc(`<p>${e.summary}</p>`)}</summary></entry>`,
  )
  .join('\n')}
</feed>`,
      };
    case 'jsonfeed':
      return {
        contentType: 'application/feed+json; charset=utf-8',
        body: JSON.stringify({
          version: 'https://jsonfeed.org/version/1.1',
          title: feed.name,
          home_page_url: `${baseUrl}/`,
          feed_url: `${baseUrl}${feed.path}`,
          items: feed.entries.map((e) => ({
            id: `demo-${e.slug}`,
            url: link(e),
            title: e.title,
            content_html: `<p>${e.summary}</p>`,
            date_published: e.date,
          })),
        }),
      };
    case 'rss1':
      return {
        contentType: 'application/rdf+xml; charset=utf-8',
        body: `<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="${baseUrl}${feed.path}"><title>${esc(feed.name)}</title><link>${baseUrl}/</link><description>demo</description>
<items><rdf:Seq>${feed.entries.map((e) => `<rdf:li rdf:resource="${link(e)}"/>`).join('')}</rdf:Seq></items></channel>
${feed.entries
  .map(
    (e) => `<item rdf:about="${link(e)}"><title>${esc(e.title)}</title><link>${link(e)}</link>
<description>${esc(e.summary)}</description><dc:date>${e.date}</dc:date></item>`,
  )
  .join('\n')}
</rdf:RDF>`,
      };
  }
}

export interface DemoSubscriber {
  email: string;
  name: string;
  locale: 'zh-CN' | 'en';
  /** Omitted: every section. */
  sectionKeys?: string[];
}

export const DEMO_SUBSCRIBERS: DemoSubscriber[] = [
  { email: 'zhang.lawyer@example.com', name: '张律师', locale: 'zh-CN' },
  {
    email: 'li.counsel@example.com',
    name: 'Li Counsel',
    locale: 'en',
    sectionKeys: ['foreign-regulation', 'case-studies'],
  },
  { email: 'wang.analyst@example.com', name: '王分析师', locale: 'zh-CN', sectionKeys: ['industry-news'] },
];
