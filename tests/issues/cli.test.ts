import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.js';
import type { Masthead } from '../../src/db/schema.js';
import { parseIssueMarkdown } from '../../src/issues/markdown-parse.js';
import { gazette as cli, cliContext } from '../support/cli.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';

const model = sharedFixture(MODEL_DOCUMENT);
let context: AppContext;
let close: () => Promise<void>;
const gazette = async (...args: string[]) => {
  const r = await cli(args, { context });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  return r;
};
beforeAll(async () => {
  ({ context, close } = await cliContext());
});
afterAll(() => close?.());

describe.skipIf(!model.present)('gazette issue import / export', () => {
  it('prints {id, title, period, masthead, sections} as JSON, and exports Markdown that reads back the same', async () => {
    const { stdout } = await gazette('issue', 'import', model.path, '--json');
    const out = JSON.parse(stdout) as {
      id: number;
      title: string;
      period: string;
      periodKind: 'month' | 'week';
      masthead: Masthead;
      sections: {
        key: string;
        title: string;
        items: { title: string; summary: string; sources: { url: string }[]; legal?: unknown }[];
      }[];
      problems: unknown[];
    };
    expect(out).toMatchObject({
      id: 1,
      title: '数字科技与人工智能',
      period: '2025-07',
      masthead: { editor: '殷雨薇' },
    });
    expect(out.sections.map((s) => s.items.length)).toEqual([2, 8, 6, 11]);
    expect(out.problems).toEqual([]);

    const { stdout: markdown } = await gazette('issue', 'export', String(out.id), '--format', 'md');
    expect(markdown).toContain('## 8. 美国总统特朗普签署系列人工智能领域行政命令');
    const { problems, ...reread } = parseIssueMarkdown(markdown);
    expect(problems).toEqual([]);
    const { id: _id, problems: _p, replaced: _r, ...imported } = out as typeof out & { replaced: boolean };
    // Legal metadata is exported as one line per item and computed again on import, not read back.
    expect(markdown).toContain('**法律信息：**中国 · 最高人民法院、最高人民检察院、公安部 · 2025-07-28 发布');
    const withoutLegal = {
      ...imported,
      sections: imported.sections.map((s) => ({ ...s, items: s.items.map(({ legal: _l, ...i }) => i) })),
    };
    expect(reread).toEqual(withoutLegal);
  });
});

describe.skipIf(!model.present)('gazette issue import of a period that already has an issue', () => {
  it('refuses without --replace or --new, naming both, then does what it is told', async () => {
    const first = JSON.parse(
      (await gazette('issue', 'import', model.path, '--period', '2026-04', '--json')).stdout,
    );
    const again = await cli(['issue', 'import', model.path, '--period', '2026-04'], { context });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`2026-04 already has issue ${first.id} (draft)`);
    expect(again.stderr).toContain('--replace');
    expect(again.stderr).toContain('--new');

    const replaced = JSON.parse(
      (await gazette('issue', 'import', model.path, '--period', '2026-04', '--replace', '--json')).stdout,
    );
    expect(replaced).toMatchObject({ id: first.id, replaced: true });
    const added = JSON.parse(
      (await gazette('issue', 'import', model.path, '--period', '2026-04', '--new', '--json')).stdout,
    );
    expect(added.id).not.toBe(first.id);
    expect(added.replaced).toBe(false);
  });
});
