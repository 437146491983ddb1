import type { CsvImportErrorCode } from '../../../subscribers/csv-import.js';
import type { EmailErrorCode } from '../../../subscribers/email.js';
import type { ImportFailureCode } from '../../../subscribers/import-jobs.js';
import { ISSUE_STATES, type Locale } from '../../db/schema.js';
import type { RelayErrorCode } from '../../delivery/relay-input.js';
import type { SourceErrorCode } from '../../feeds/sources.js';
import type { IssueAction } from '../../issues/state-machine.js';
import type { EditorialErrorCode, StageProblem } from '../../issues/store.js';
import { issueStateLabel } from './issue-states.js';
import { interpolate } from './strings.js';

/**
 * The pipeline stages explain refusals in English (the CLI, the JSON API and logs read those); the
 * editors' pages say the same things in the editor's language, keyed by the error's code.
 */
/** Refusals of a subscriber list's CSV import, row by row. */
type CsvErrorCode = 'csv-unreadable' | 'csv-locale' | 'csv-topics' | 'csv-duplicate';
/** Why a whole import was refused or stopped (subscribers/csv-import.ts, subscribers/import-jobs.ts). */
type ImportErrorCode = CsvImportErrorCode | ImportFailureCode;

const INPUT: Record<
  Locale,
  Record<
    EditorialErrorCode | SourceErrorCode | RelayErrorCode | EmailErrorCode | CsvErrorCode | ImportErrorCode,
    string
  >
> = {
  'zh-CN': {
    'time-zone': '“{tz}”不是有效的 IANA 时区（例如 Asia/Shanghai）。',
    'time-format': '“{at}”不是有效的日期和时间，格式应为 2025-08-01 09:00。',
    'time-past': '{at}（{tz}）已经过去，请选择更晚的时间。',
    'source-not-url': '第 {n} 个来源不是网址：“{url}”。',
    'source-not-http': '第 {n} 个来源必须是 http(s) 网址：“{url}”。',
    'no-section': '本期没有栏目“{key}”。',
    'no-item': '本期没有条目 {item}，可能已被他人移除；请刷新页面。',
    'item-title': '条目需要标题。',
    'issue-title': '本期需要标题。',
    'nothing-to-change': '没有需要保存的修改。',
    'period-invalid': '“{period}”不是有效的期次（例如 2025-08 或 2025-W31）。',
    'period-has-issue': '{period} 已有一期（编号 {id}，状态：{state}），请打开那一期继续编辑。',
    'test-no-address': '请至少填写一个测试收件地址。',
    'legal-jurisdiction': '“{value}”不是已知的法域代码（例如 CN、EU、US）。',
    'legal-kind': '“{value}”不是已知的文件类型。',
    'legal-date': '“{value}”不是日期，格式应为 2025-07-28。',
    'snapshot-missing': '本期没有这个来源的存档。',
    'snapshot-failed': '存档失败：{error}',
    'snapshot-not-pdf': '上传的文件不是 PDF。',
    'snapshot-too-large': '文件有 {bytes} 字节，超过每个来源 {max} 字节的上限。',
    'import-period-taken': '{period} 已有一期：请选择替换草稿、打开已有的一期，或为该期次新建一期。',
    'import-replace-not-draft': '{period} 没有可以替换的草稿（已审核或已发送的一期不能被替换）。',
    'test-bad-address': '不是有效的电子邮件地址：{list}。',
    'test-too-many': '测试邮件最多发给 {max} 个地址。',
    'form-incomplete': '表单不完整，请刷新页面后重试。',
    'move-item-where': '请选择条目移动的方向：上移、下移或移到某个栏目。',
    'move-section-where': '请选择栏目移动的方向：上移或下移。',
    'source-url': '“{url}”不是网址。',
    'source-scheme': '“{url}”必须以 http:// 或 https:// 开头。',
    'source-rule': '第 {n} 条规则无效：请检查类型（包含或排除）和关键词。',
    'source-interval': '抓取间隔须为 1 到 10080 之间的整数分钟（填写的是 {minutes}）。',
    'source-section': '没有栏目“{key}”。',
    'source-time-zone': '“{tz}”不是有效的 IANA 时区（例如 Asia/Shanghai）。',
    'source-name': '来源需要名称。',
    'source-exists': '已有使用该网址的来源：{url}',
    'source-missing': '找不到编号为 {id} 的来源。',
    'item-url': '“{url}”不是 http(s) 网址。',
    'item-date': '“{date}”不是有效日期。',
    'item-missing': '找不到编号为 {id} 的条目。',
    'relay-name': '中继名称“{name}”无效：请用 1–63 个字母、数字或 . _ : -。',
    'relay-host': '“{host}”不是有效的主机名或地址。',
    'relay-port': '端口须在 1 到 65535 之间（填写的是 {port}）。',
    'relay-number': '{field} 须为不小于 0 的整数（填写的是 {value}）。',
    'relay-security': '加密方式须为 STARTTLS 或 TLS。',
    'relay-credentials': '中继“{name}”填写了用户名但没有密码。',
    'relay-exists': '已有名为“{name}”的中继。',
    'relay-missing': '找不到编号为 {id} 的中继。',
    'relay-secret': '已保存的 SMTP 密码无法用当前 SECRET_KEY 解密，请重新输入密码。',
    'email-missing': '缺少邮箱地址。',
    'email-line-break': '邮箱地址中有换行。',
    'email-control': '邮箱地址中有控制字符。',
    'email-empty': '邮箱地址为空。',
    'email-too-long': '邮箱地址超过 254 个字符。',
    'email-bad-char': '邮箱地址中有空格或 < > ( ) , ; : " [ ] \\ 之类的字符。',
    'email-no-at': '邮箱地址缺少 @。',
    'email-many-at': '邮箱地址中有不止一个 @。',
    'email-no-local': '邮箱地址 @ 前面没有内容。',
    'email-local-too-long': '邮箱地址 @ 前面的部分超过 64 个字符。',
    'email-local-char': '邮箱地址 @ 前面有不允许的字符。',
    'email-formula-start': '邮箱地址不能以 =、+ 或 - 开头（电子表格会把它当作公式执行）。',
    'email-no-domain': '邮箱地址 @ 后面没有域名。',
    'email-bad-domain': '邮箱地址的域名无效。',
    'csv-unreadable': '这一行无法按 CSV 读取：{message}',
    'csv-locale': '语言“{value}”无效，应为 zh-CN 或 en。',
    'csv-topics': '没有这些栏目：{list}',
    'csv-duplicate': '与第 {first} 行的地址重复。',
    'import-no-email-column': 'CSV 的标题行没有邮箱列（email、邮箱等；找到的列：{columns}）。',
    'import-too-many-rows': '文件超过 {max} 行（IMPORT_MAX_ROWS）；第 {line} 行之前的行已导入。',
    'import-no-file': '没有可读取的文件。',
    'import-stopped-repeatedly': '导入已开始 {runs} 次，每次都中断了（后台任务崩溃或被重启）。',
    'import-job-failed': '导入任务出错：{message}',
    'import-file-missing': '上传的文件已不在数据库中，请重新上传。',
  },
  en: {
    'time-zone': '"{tz}" is not an IANA time zone such as Asia/Shanghai.',
    'time-format': '"{at}" is not a date and time like 2025-08-01 09:00.',
    'time-past': '{at} ({tz}) is in the past; choose a later time.',
    'source-not-url': 'Source {n} is not a URL: "{url}".',
    'source-not-http': 'Source {n} must be an http(s) URL: "{url}".',
    'no-section': 'This issue has no section "{key}".',
    'no-item': 'This issue has no item {item}; someone may have removed it. Reload the page.',
    'item-title': 'An item needs a title.',
    'issue-title': 'An issue needs a title.',
    'nothing-to-change': 'There is nothing to save.',
    'period-invalid': '"{period}" is not a period like 2025-08 or 2025-W31.',
    'period-has-issue': '{period} already has issue {id} ({state}); open it to go on editing.',
    'test-no-address': 'Give at least one address for the test send.',
    'legal-jurisdiction': '"{value}" is not a known jurisdiction code (e.g. CN, EU, US).',
    'legal-kind': '"{value}" is not a known kind of document.',
    'legal-date': '"{value}" is not a date like 2025-07-28.',
    'snapshot-missing': 'This issue has no archived copy of that source.',
    'snapshot-failed': 'The source could not be archived: {error}',
    'snapshot-not-pdf': 'The uploaded file is not a PDF.',
    'snapshot-too-large': 'The file is {bytes} bytes, over the {max}-byte limit per source.',
    'import-period-taken':
      '{period} already has an issue: replace its draft, open the existing issue, or create a new issue for the period.',
    'import-replace-not-draft':
      '{period} has no draft to replace (an approved or sent issue cannot be replaced).',
    'test-bad-address': 'Not an email address: {list}.',
    'test-too-many': 'A test send goes to at most {max} addresses.',
    'form-incomplete': 'The form is incomplete; reload the page and try again.',
    'move-item-where': 'Say where to move the item: up, down or to a section.',
    'move-section-where': 'Say where to move the section: up or down.',
    'source-url': '"{url}" is not a URL.',
    'source-scheme': '"{url}" must start with http:// or https://.',
    'source-rule': 'Rule {n} is invalid: check its type (include or exclude) and its keywords.',
    'source-interval':
      'The polling interval must be a whole number of minutes from 1 to 10080 (got {minutes}).',
    'source-section': 'There is no section "{key}".',
    'source-time-zone': '"{tz}" is not an IANA time zone (for example Asia/Shanghai).',
    'source-name': 'A source needs a name.',
    'source-exists': 'A source with this URL already exists: {url}',
    'source-missing': 'There is no source {id}.',
    'item-url': '"{url}" is not an http(s) URL.',
    'item-date': '"{date}" is not a date.',
    'item-missing': 'There is no item {id}.',
    'relay-name': 'Relay name "{name}" is not valid: use 1-63 letters, digits or . _ : -.',
    'relay-host': '"{host}" is not a host name or address.',
    'relay-port': 'The port must be 1-65535 (got {port}).',
    'relay-number': '{field} must be a whole number of at least 0 (got {value}).',
    'relay-security': 'Security must be STARTTLS or TLS.',
    'relay-credentials': 'Relay "{name}" has a user name but no password.',
    'relay-exists': 'A relay named "{name}" already exists.',
    'relay-missing': 'There is no relay {id}.',
    'relay-secret':
      'A stored SMTP password cannot be read with the current SECRET_KEY; enter the password again.',
    'email-missing': 'The email address is missing.',
    'email-line-break': 'The email address contains a line break.',
    'email-control': 'The email address contains a control character.',
    'email-empty': 'The email address is empty.',
    'email-too-long': 'The email address is longer than 254 characters.',
    'email-bad-char': 'The email address contains a space or one of < > ( ) , ; : " [ ] \\.',
    'email-no-at': 'The email address has no @.',
    'email-many-at': 'The email address has more than one @.',
    'email-no-local': 'The email address has nothing before the @.',
    'email-local-too-long': 'The part before the @ is longer than 64 characters.',
    'email-local-char': 'The part before the @ has a character that is not allowed.',
    'email-formula-start':
      'An address cannot start with =, + or - (a spreadsheet would run it as a formula).',
    'email-no-domain': 'The email address has no domain after the @.',
    'email-bad-domain': 'The domain of the email address is not valid.',
    'csv-unreadable': 'This row cannot be read as CSV: {message}',
    'csv-locale': 'Language "{value}" is not zh-CN or en.',
    'csv-topics': 'No such sections: {list}',
    'csv-duplicate': 'The same address as on line {first}.',
    'import-no-email-column': 'The CSV header has no email column (email, e-mail, 邮箱…; found: {columns}).',
    'import-too-many-rows':
      'The file has more than {max} rows (IMPORT_MAX_ROWS); the rows before line {line} were imported.',
    'import-no-file': 'There is no file to read.',
    'import-stopped-repeatedly':
      'The import was started {runs} times and stopped each time (a worker crashed or was restarted).',
    'import-job-failed': 'The import job failed: {message}',
    'import-file-missing': 'The uploaded file is no longer stored; upload it again.',
  },
};

/** What each lifecycle action is called in "cannot {action} while {state}". */
const ACTIONS: Record<Locale, Record<IssueAction, string>> = {
  'zh-CN': {
    edit: '编辑',
    approve: '审核通过',
    schedule: '排期',
    reschedule: '更改发送时间',
    unschedule: '取消排期',
    'start-sending': '开始发送',
    pause: '暂停',
    resume: '继续发送',
    finish: '完成发送',
    cancel: '取消',
    fail: '标记失败',
    resend: '重新发送',
  },
  en: {
    edit: 'edit',
    approve: 'approve',
    schedule: 'schedule',
    reschedule: 'reschedule',
    unschedule: 'unschedule',
    'start-sending': 'send',
    pause: 'pause',
    resume: 'resume',
    finish: 'finish',
    cancel: 'cancel',
    fail: 'fail',
    resend: 'send again',
  },
};

/** Field names a refusal may mention. */
const FIELDS: Record<Locale, Record<string, string>> = {
  'zh-CN': { weight: '权重', perSecond: '每秒上限', perHour: '每小时上限' },
  en: { weight: 'The weight', perSecond: 'The per-second limit', perHour: 'The hourly limit' },
};

const OTHER: Record<Locale, Record<'illegal-transition' | 'issue-not-found', string>> = {
  'zh-CN': {
    'illegal-transition': '本期当前状态为“{state}”，不能{action}。',
    'issue-not-found': '找不到这一期（编号 {id}）。',
  },
  en: {
    'illegal-transition': 'This issue is {state}; it cannot {action} now.',
    'issue-not-found': 'There is no issue {id}.',
  },
};

/** The problem a stage error carries (see StageProblem), if it has one. */
export function stageProblemOf(err: unknown): StageProblem | null {
  const problem = (err as { problem?: StageProblem } | null)?.problem;
  return problem && typeof problem.code === 'string' ? problem : null;
}

/**
 * Every sentence for one locale, flat, so that the browser scripts explain the API's refusals with
 * the same table (it is embedded in each admin page). A parameter whose value has a label here
 * ("state.approved", "action.schedule") is shown by its label.
 */
export function stageErrorCatalogue(locale: Locale): Record<string, string> {
  const out: Record<string, string> = { ...INPUT[locale], ...OTHER[locale] };
  for (const state of ISSUE_STATES) {
    const label = issueStateLabel(locale, state);
    out[`state.${state}`] = locale === 'en' ? label.toLowerCase() : label;
  }
  for (const [action, label] of Object.entries(ACTIONS[locale])) out[`action.${action}`] = label;
  for (const [field, label] of Object.entries(FIELDS[locale])) out[`field.${field}`] = label;
  return out;
}

const CATALOGUES: Record<Locale, Record<string, string>> = {
  'zh-CN': stageErrorCatalogue('zh-CN'),
  en: stageErrorCatalogue('en'),
};

export function explainProblem(locale: Locale, problem: StageProblem): string | null {
  const table = CATALOGUES[locale];
  const template = table[problem.code];
  if (!template) return null;
  const values = Object.fromEntries(
    Object.entries(problem.params).map(([k, v]) => [k, table[`${k}.${v}`] ?? v]),
  );
  return interpolate(template, values);
}

/** The sentence an editor reads for a refused action; anything without a code keeps its message. */
export function stageErrorText(locale: Locale, err: unknown): string {
  const problem = stageProblemOf(err);
  const text = problem && explainProblem(locale, problem);
  if (text) return text;
  return err instanceof Error ? err.message : String(err);
}
