import { describe, expect, it } from 'vitest';
import { IssueFailedError } from '../../src/delivery/control.js';
import { explainProblem, stageErrorCatalogue, stageErrorText } from '../../src/http/admin/stage-errors.js';
import { validateSources } from '../../src/issues/edit.js';
import { parseScheduleTime } from '../../src/issues/schedule.js';
import { IllegalIssueTransitionError, nextIssueState } from '../../src/issues/state-machine.js';
import { type EditorialErrorCode, EditorialInputError } from '../../src/issues/store.js';

const caught = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal');
};

describe('stage refusals in the editor’s language', () => {
  it('explains a coded editorial error in Chinese and English, with its parameters filled in', () => {
    const err = caught(() => validateSources([{ url: 'https://a.example' }, { url: 'mailto:x@y.example' }]));
    expect(err).toBeInstanceOf(EditorialInputError);
    expect(stageErrorText('zh-CN', err)).toBe('第 2 个来源必须是 http(s) 网址：“mailto:x@y.example”。');
    expect(stageErrorText('en', err)).toBe('Source 2 must be an http(s) URL: "mailto:x@y.example".');
    const zone = caught(() => parseScheduleTime('2025-08-01 09:00', 'Mars/Olympus'));
    expect(stageErrorText('zh-CN', zone)).toBe('“Mars/Olympus”不是有效的 IANA 时区（例如 Asia/Shanghai）。');
  });

  it('names the state and the refused action for an illegal lifecycle move, editorial or delivery', () => {
    const editorial = caught(() => nextIssueState('sent', 'edit'));
    expect(editorial).toBeInstanceOf(IllegalIssueTransitionError);
    expect(stageErrorText('zh-CN', editorial)).toBe('本期当前状态为“已发送”，不能编辑。');
    expect(stageErrorText('en', editorial)).toBe('This issue is sent; it cannot edit now.');
    const delivery = caught(() => nextIssueState('draft', 'resume'));
    expect(stageErrorText('zh-CN', delivery)).toBe('本期当前状态为“草稿”，不能继续发送。');
  });

  it('keeps the message of an error that carries no code', () => {
    expect(stageErrorText('zh-CN', new EditorialInputError('something new'))).toBe('something new');
    expect(stageErrorText('zh-CN', new IssueFailedError('Issue 9 failed: no template'))).toBe(
      'Issue 9 failed: no template',
    );
    expect(stageErrorText('en', new Error('plain'))).toBe('plain');
    expect(explainProblem('en', { code: 'no-such-code', params: {} })).toBeNull();
  });

  it('has a sentence for every code in both locales, each using only the placeholders it is given', () => {
    const zh = stageErrorCatalogue('zh-CN');
    const en = stageErrorCatalogue('en');
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    for (const [key, text] of Object.entries(zh)) {
      const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(names(text), key).toEqual(names(en[key] as string));
      // The Chinese sentences are Chinese: at least one CJK character each.
      expect(text, key).toMatch(/[\u4e00-\u9fff]/);
    }
    const codes: EditorialErrorCode[] = ['time-past', 'item-title', 'no-item'];
    for (const code of codes) expect(zh[code]).toBeDefined();
  });
});
