import { describe, expect, it } from 'vitest';
import { extractLegalMetadata } from '../../src/legal/extract.js';
import { applyLegalEdits, legalLine, legalValues } from '../../src/legal/format.js';

const extract = (title: string, summary = '', urls: string[] = [], sectionKey?: string) =>
  legalValues(
    extractLegalMetadata({ title, summary, urls, period: '2025-07', ...(sectionKey ? { sectionKey } : {}) }),
  );

describe('legal metadata rules', () => {
  it('reads a judicial interpretation number and its effective date', () => {
    const v = extract(
      '最高人民法院发布《关于审理个人信息保护纠纷案件适用法律若干问题的解释》',
      '2025 年 7 月 1 日，最高人民法院发布该解释（法释〔2025〕12号），自2025年8月1日起施行。',
    );
    expect(v).toMatchObject({
      jurisdiction: 'CN',
      bodies: ['最高人民法院'],
      kind: 'judicial-interpretation',
      documentNumber: '法释〔2025〕12号',
      publishedOn: '2025-07-01',
      effectiveOn: '2025-08-01',
    });
  });

  it('reads a ministry document number and classifies 办法 by a ministry as a departmental rule', () => {
    const v = extract(
      '工业和信息化部印发《人工智能安全管理办法》',
      '7月3日，工业和信息化部印发办法（工信部科〔2025〕7号）。',
    );
    expect(v).toMatchObject({
      kind: 'departmental-rule',
      documentNumber: '工信部科〔2025〕7号',
      bodies: ['工业和信息化部'],
    });
  });

  it('reads an executive order number, and the host as the body when the title names none', () => {
    const v = extract('美国发布行政命令', 'On July 23, Executive Order 14319 was signed.', [
      'https://www.whitehouse.gov/presidential-actions/2025/07/x/',
    ]);
    expect(v).toMatchObject({
      jurisdiction: 'US',
      kind: 'executive-order',
      documentNumber: 'EO 14319',
      bodies: ['白宫'],
    });
  });

  it('reads a case number and the court of a case', () => {
    const v = extract(
      '张某侵犯公民个人信息案',
      '广东省揭阳市中级人民法院审理的(2025)粤52刑初12号案件中，法院认定……',
      [],
      'case-studies',
    );
    expect(v).toMatchObject({
      jurisdiction: 'CN',
      kind: 'case',
      caseNumber: '(2025)粤52刑初12号',
      court: '广东省揭阳市中级人民法院',
    });
  });

  it('takes an official host over a place named only in the summary, and reads the snapshot last', () => {
    const meta = extractLegalMetadata({
      title: 'Guidance on AI',
      summary: '',
      urls: ['https://ico.org.uk/guidance/ai'],
      snapshotText:
        'This guidance takes effect. It will apply from 2025-09-01 onwards. Ref 国办发〔2025〕3号',
    });
    expect(meta.jurisdiction).toEqual({ value: 'GB', from: 'source-url' });
    expect(meta.bodies).toEqual({ value: ['英国信息专员办公室'], from: 'source-url' });
    expect(meta.documentNumber).toEqual({ value: '国办发〔2025〕3号', from: 'snapshot' });
    expect(meta.effectiveOn).toEqual({ value: '2025-09-01', from: 'snapshot' });
  });

  it('finds nothing where nothing is said', () => {
    expect(extractLegalMetadata({ title: 'Weekly notes', summary: 'Nothing here.', urls: [] })).toEqual({});
  });

  it("applies an editor's edits over the rules, and a confirmation freezes what was confirmed", () => {
    const rules = extractLegalMetadata({ title: '欧盟发布《某指南》', summary: '', urls: [] });
    const edited = applyLegalEdits(rules, { fields: { bodies: ['欧盟委员会'], kind: null } });
    expect(edited.metadata.bodies).toEqual({ value: ['欧盟委员会'], from: 'editor' });
    expect(edited.metadata.kind).toBeUndefined();
    expect(edited.metadata.jurisdiction).toEqual({ value: 'EU', from: 'title' });
    const confirmed = applyLegalEdits(
      {},
      { confirmed: rules, confirmedBy: 'ed@x', confirmedAt: '2025-08-01T00:00:00Z' },
    );
    expect(confirmed).toMatchObject({ confirmed: true, confirmedBy: 'ed@x', metadata: rules });
    expect(legalLine(edited.metadata, 'en')).toBe('European Union · European Commission');
  });
});
