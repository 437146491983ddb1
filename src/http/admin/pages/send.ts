import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { DateTime } from 'luxon';
import type { Issue, IssueState, Locale } from '../../../db/schema.js';
import {
  cancelIssue,
  IssueFailedError,
  openSendQueue,
  pauseIssue,
  resendUnknown,
  resumeIssue,
  type SendQueue,
} from '../../../delivery/api.js';
import { formatDuration, loadSendProgress, type SendProgress } from '../../../delivery/progress.js';
import { queueRedis } from '../../../delivery/queue.js';
import { RelayRests } from '../../../delivery/relay-rest.js';
import { describeReason, describeRest } from '../../../delivery/stop-reasons.js';
import { type Checklist, checkIssue } from '../../../issues/check.js';
import { approveIssue, ChecklistFailedError } from '../../../issues/lifecycle.js';
import { rescheduleIssue, scheduleIssue, sendIssueNow, unscheduleIssue } from '../../../issues/schedule.js';
import { canTransition, IllegalIssueTransitionError } from '../../../issues/state-machine.js';
import {
  type EditorialDeps,
  EditorialInputError,
  getIssue,
  IssueNotFoundError,
} from '../../../issues/store.js';
import { getPublication } from '../../../publication/publication.js';
import { QUEUES } from '../../../queue/names.js';
import { queueArchiveRequests } from '../../../snapshots/request.js';
import { checklistView } from '../checklist.js';
import type { WebDeps } from '../deps.js';
import { issueStateLabel } from '../issue-states.js';
import { auditActor, requestLocale, sendAdminPage, setFlash } from '../respond.js';
import { stageErrorText } from '../stage-errors.js';
import { defineStrings } from '../strings.js';
import { HISTORY_ACTIONS, HISTORY_STRINGS, historyRows } from './send-history.js';
import { issueTabs, parseIssueId, TAB_STRINGS } from './send-shared.js';

export const SEND_STRINGS = defineStrings({
  'zh-CN': {
    ...TAB_STRINGS['zh-CN'],
    sendTitle: '审核与发送',
    sendState: '状态',
    sendRevision: '版本 {n}',
    sendApprovedBy: '{who} 于 {at} 审核',
    sendTimeZone: '时区：{tz}（{offset}），即刊物设置的时区；下面的日期和时间都按此时区。',
    sendHeld: '已暂缓：{reason}',
    sendPaused: '暂停原因：{reason}',
    checklistTitle: '发送前检查',
    checklistIntro: '审核时会再次运行检查；有“未通过”项时不能审核。',
    checkWhat: '检查项',
    checkResult: '结果',
    checkDetail: '说明',
    approve: '审核通过',
    approveHint: '审核的是当前版本；之后再修改内容，本期会回到草稿。',
    approved: '已审核通过。',
    approveFailed: '未通过发送前检查（{n} 项未通过），请查看下方清单。',
    scheduleTitle: '排期',
    rescheduleTitle: '更改发送时间',
    scheduleDate: '日期',
    scheduleTime: '时间',
    schedule: '排期发送',
    reschedule: '更改时间',
    scheduledFor: '计划于 {at}（{tz}）发送',
    scheduled: '已排期：{at}（{tz}）。',
    rescheduled: '发送时间已改为 {at}（{tz}）。',
    sendNow: '立即发送',
    sendNowConfirm: '确定立即向全部订阅者发送本期吗？',
    sendNowDone: '已开始发送：先冻结收件人名单，再逐批发出；本页实时显示进度。',
    sendStarted: '开始发送：{at}',
    sendFinished: '发送完成：{at}（用时 {duration}）',
    unschedule: '取消排期',
    unscheduled: '已取消排期，本期回到“已审核”。',
    cancelIssue: '取消本期',
    cancelConfirm: '确定取消本期吗？尚未发出的邮件将不再发送，此操作无法撤销。',
    cancelled: '本期已取消。',
    cancelledSending: '本期已取消，{n} 封尚未发出的邮件不再发送。',
    progressTitle: '发送进度',
    progressWhat: '项目',
    progressCount: '封数',
    progressAccepted: '已被邮件服务器接收',
    progressDeferred: '延后重试',
    progressFailed: '失败',
    progressUnknown: '状态不明',
    progressPending: '等待发送',
    progressSkipped: '已跳过',
    progressTotal: '收件人总数',
    progressRate: '速度',
    progressRateValue: '{n} 封/秒',
    progressEta: '预计剩余时间',
    progressPercent: '已完成 {n}%',
    progressUpdated: '已更新：{summary}',
    progressRefresh: '刷新',
    progressNoJs: '本页每 10 秒自动刷新一次。',
    progressAcceptedNote: '“已接收”表示邮件服务器已收下，不代表已送达收件箱。',
    progressBlocked:
      '有 {n} 封因发件信誉、垃圾邮件判定或发件认证被对方服务器拒收：这些读者没有被停发，发送服务器已暂停一段时间。原因见本期统计。',
    pause: '暂停',
    paused: '已暂停发送。',
    resume: '继续发送',
    resumed: '已继续发送。',
    resendUnknown: '重新发送状态不明的邮件',
    resendUnknownConfirm: '状态不明的邮件可能已经送出，重新发送可能导致重复。确定吗？',
    resentUnknown: '{n} 封状态不明的邮件已重新排队。',
    statsLink: '查看本期统计',
    durationH: '小时',
    durationMin: '分',
    durationS: '秒',
    actionFailed: '操作未完成：{message}',
    readOnly: '您的角色为只读：可以查看进度，但不能审核、排期或控制发送。',
  },
  en: {
    ...TAB_STRINGS.en,
    sendTitle: 'Approve & send',
    sendState: 'State',
    sendRevision: 'revision {n}',
    sendApprovedBy: 'approved by {who} at {at}',
    sendTimeZone:
      'Time zone: {tz} ({offset}), the publication’s time zone; the date and time below are in it.',
    sendHeld: 'Held: {reason}',
    sendPaused: 'Paused because: {reason}',
    checklistTitle: 'Pre-send checklist',
    checklistIntro: 'Approving runs the checks again; an issue with a failed check cannot be approved.',
    checkWhat: 'Check',
    checkResult: 'Result',
    checkDetail: 'Detail',
    approve: 'Approve',
    approveHint: 'This revision is approved; a later edit returns the issue to draft.',
    approved: 'Approved.',
    approveFailed: 'The pre-send checklist failed ({n} failed); see the list below.',
    scheduleTitle: 'Schedule',
    rescheduleTitle: 'Change the send time',
    scheduleDate: 'Date',
    scheduleTime: 'Time',
    schedule: 'Schedule',
    reschedule: 'Change time',
    scheduledFor: 'To be sent at {at} ({tz})',
    scheduled: 'Scheduled for {at} ({tz}).',
    rescheduled: 'Send time changed to {at} ({tz}).',
    sendNow: 'Send now',
    sendNowConfirm: 'Send this issue to every subscriber now?',
    sendNowDone:
      'Sending has started: the audience is frozen, then the batches go out; this page shows the progress live.',
    sendStarted: 'Sending started: {at}',
    sendFinished: 'Sending finished: {at} (took {duration})',
    unschedule: 'Unschedule',
    unscheduled: 'Unscheduled; the issue is approved again.',
    cancelIssue: 'Cancel this issue',
    cancelConfirm: 'Cancel this issue? Messages not yet sent will not be sent. This cannot be undone.',
    cancelled: 'The issue is cancelled.',
    cancelledSending: 'The issue is cancelled; {n} messages not yet sent will not be sent.',
    progressTitle: 'Progress',
    progressWhat: 'Messages',
    progressCount: 'Count',
    progressAccepted: 'Accepted by the relay',
    progressDeferred: 'Deferred (will retry)',
    progressFailed: 'Failed',
    progressUnknown: 'Unknown',
    progressPending: 'Waiting',
    progressSkipped: 'Skipped',
    progressTotal: 'Recipients',
    progressRate: 'Rate',
    progressRateValue: '{n} msg/s',
    progressEta: 'Time left',
    progressPercent: '{n}% done',
    progressUpdated: 'Updated: {summary}',
    progressRefresh: 'Refresh',
    progressNoJs: 'This page refreshes every 10 seconds.',
    progressAcceptedNote: '“Accepted” means the mail relay took the message, not that it reached the inbox.',
    progressBlocked:
      '{n} message(s) were refused for the sender’s reputation, spam content or authentication: those readers were not suppressed, and the relay rested for a while. The issue statistics give the reasons.',
    pause: 'Pause',
    paused: 'Sending paused.',
    resume: 'Resume',
    resumed: 'Sending resumed.',
    resendUnknown: 'Send the unknown messages again',
    resendUnknownConfirm:
      'Messages whose fate is unknown may have been delivered; sending them again may send duplicates. Continue?',
    resentUnknown: '{n} unknown messages queued again.',
    statsLink: 'Statistics of this issue',
    durationH: 'h',
    durationMin: 'min',
    durationS: 's',
    actionFailed: 'Not done: {message}',
    readOnly:
      'Your role is read-only: you can watch the progress but not approve, schedule or control a send.',
  },
});

type T = (typeof SEND_STRINGS)['zh-CN'];

/** The page's strings: its own and the history's. */
const PAGE_STRINGS = {
  'zh-CN': { ...SEND_STRINGS['zh-CN'], ...HISTORY_STRINGS['zh-CN'] },
  en: { ...SEND_STRINGS.en, ...HISTORY_STRINGS.en },
};

const fmt = (text: string, values: Record<string, string | number>) =>
  text.replace(/\{(\w+)\}/g, (whole, k: string) => (k in values ? String(values[k]) : whole));

/** Which controls an issue's state allows (pure): the page shows these, the handlers re-check. */
export function sendControls(state: IssueState, unknown = 0) {
  return {
    // Re-approving an approved issue is legal but offers nothing on this page; a draft needs it.
    approve: state === 'draft',
    schedule: canTransition(state, 'schedule'),
    reschedule: canTransition(state, 'reschedule'),
    unschedule: canTransition(state, 'unschedule'),
    // A scheduled issue may go at once too, without being unscheduled first.
    sendNow: canTransition(state, 'start-sending'),
    pause: canTransition(state, 'pause'),
    resume: canTransition(state, 'resume'),
    // A draft is not offered a cancel here: this page is for issues on their way out.
    cancel: state !== 'draft' && canTransition(state, 'cancel'),
    resendUnknown: unknown > 0 && canTransition(state, 'resend'),
  };
}

/**
 * The default time offered for a new schedule: 09:00 in the publication's zone, today while that
 * is still ahead, else tomorrow (pure).
 */
export function defaultScheduleTime(now: Date, tz: string): { date: string; time: string } {
  const local = DateTime.fromJSDate(now, { zone: tz });
  const nine = local.set({ hour: 9, minute: 0, second: 0, millisecond: 0 });
  const d = nine > local ? nine : nine.plus({ days: 1 });
  return { date: d.toFormat('yyyy-MM-dd'), time: '09:00' };
}

function progressView(p: SendProgress, t: T, locale: Locale) {
  const units = { h: t.durationH, min: t.durationMin, s: t.durationS };
  return {
    ...p,
    rateText: fmt(t.progressRateValue, { n: p.ratePerSecond }),
    etaText: formatDuration(p.etaSeconds, units),
    percentText: fmt(t.progressPercent, { n: p.percent }),
    stateText: issueStateLabel(locale, p.state),
  };
}

/** send.js posts JSON (with the CSRF header) and wants JSON back; a form wants a redirect. */
function wantsJson(req: FastifyRequest): boolean {
  return (
    (req.headers.accept ?? '').includes('application/json') ||
    (req.headers['content-type'] ?? '').includes('application/json')
  );
}

/**
 * GET /admin/issues/:id/send: approve (with the checklist), schedule in the publication's time
 * zone, reschedule, unschedule, cancel; while sending, live progress with pause, resume, cancel.
 * Every action is a form post (303 back to the page); send.js posts the same routes as JSON and
 * polls /send/progress every 2 s to update the numbers in place.
 */
export function sendPages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;
  const editorial: EditorialDeps = { db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now };
  let sendQueue: SendQueue | undefined;
  const sendQueueOf = () => {
    sendQueue ??= openSendQueue({ url: ctx.env.REDIS_URL, prefix: ctx.env.QUEUE_PREFIX });
    return sendQueue;
  };
  const delivery = () => ({
    db: ctx.db,
    log: ctx.log,
    env: ctx.env,
    secrets: ctx.secrets,
    now: ctx.now,
    queue: sendQueueOf(),
  });
  const issuesQueue = () => deps.queue(QUEUES.issues);

  async function timeZone(): Promise<string> {
    return (await getPublication(ctx.db))?.time_zone ?? ctx.env.DEFAULT_TIME_ZONE;
  }

  async function issueOr404(req: FastifyRequest, reply: FastifyReply): Promise<Issue | null> {
    const id = parseIssueId((req.params as { id?: string }).id);
    if (id !== null) {
      try {
        return await getIssue(ctx.db, id);
      } catch (err) {
        if (!(err instanceof IssueNotFoundError)) throw err;
      }
    }
    reply.callNotFound();
    return null;
  }

  /** Runs one action and answers: a flash and 303 for a form, JSON for send.js. */
  function action(
    name: string,
    run: (issue: Issue, req: FastifyRequest, t: T) => Promise<string>,
  ): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
    return async (req, reply) => {
      const issue = await issueOr404(req, reply);
      if (!issue) return reply;
      const locale = await requestLocale(deps, req);
      const t = SEND_STRINGS[locale];
      const back = `/admin/issues/${issue.id}/send`;
      let ok = true;
      let message: string;
      try {
        message = await run(issue, req, t);
      } catch (err) {
        ok = false;
        if (err instanceof ChecklistFailedError) {
          const failed = err.checklist.checks.filter((c) => c.status === 'fail').length;
          message = fmt(t.approveFailed, { n: failed });
        } else if (
          err instanceof EditorialInputError ||
          err instanceof IllegalIssueTransitionError ||
          err instanceof IssueFailedError
        ) {
          message = fmt(t.actionFailed, { message: stageErrorText(locale, err) });
        } else {
          ctx.log.error(
            { event: 'web.send.action_failed', action: name, issueId: issue.id, err: (err as Error).message },
            'send page action failed',
          );
          throw err;
        }
      }
      if (wantsJson(req)) {
        const progress = await loadSendProgress(ctx.db, issue.id);
        return reply.code(ok ? 200 : 409).send({ ok, message, progress });
      }
      setFlash(reply, ok ? 'notice' : 'error', message);
      return reply.redirect(back, 303);
    };
  }

  const formField = (req: FastifyRequest, name: string): string => {
    const v = (req.body as Record<string, unknown> | undefined)?.[name];
    return typeof v === 'string' ? v.trim() : '';
  };

  const whenText = (at: Date, tz: string) =>
    DateTime.fromJSDate(at, { zone: tz }).toFormat('yyyy-MM-dd HH:mm');

  return async (app) => {
    app.addHook('onClose', async () => {
      await sendQueue?.close();
    });

    app.get('/admin/issues/:id/send', async (req, reply) => {
      const issue = await issueOr404(req, reply);
      if (!issue) return reply;
      const locale = await requestLocale(deps, req);
      const t = SEND_STRINGS[locale];
      const tz = await timeZone();
      const progress = (await loadSendProgress(ctx.db, issue.id)) as SendProgress;
      const controls = sendControls(issue.state, progress.unknown);
      // Relays resting now (shared through Redis by every worker), while this issue sends.
      const relayRests =
        issue.state === 'sending' || issue.state === 'paused'
          ? (await new RelayRests(queueRedis(sendQueueOf()), ctx.env.QUEUE_PREFIX).all().catch(() => [])).map(
              (r) => describeRest(locale, r),
            )
          : [];
      let checklist: Checklist | null = null;
      if (issue.state === 'draft' || issue.state === 'approved') {
        checklist = await checkIssue({ db: ctx.db, render: deps.render }, issue.id);
      }
      const offset = DateTime.fromJSDate(ctx.now(), { zone: tz }).toFormat('ZZ');
      const scheduledIn = issue.scheduled_at ? DateTime.fromJSDate(issue.scheduled_at, { zone: tz }) : null;
      const initial = scheduledIn
        ? { date: scheduledIn.toFormat('yyyy-MM-dd'), time: scheduledIn.toFormat('HH:mm') }
        : defaultScheduleTime(ctx.now(), tz);
      const started = issue.sending_started_at !== null || progress.total > 0;
      // Only the entries the history shows, newest 30: an issue's log also holds every item edit.
      const entries = await ctx.db
        .selectFrom('issue_audit')
        .select(['action', 'actor', 'at', 'detail'])
        .where('issue_id', '=', issue.id)
        .where('action', 'in', [...HISTORY_ACTIONS])
        .orderBy('id', 'desc')
        .limit(30)
        .execute();
      const history = historyRows(entries.reverse(), locale, tz, 30, issue.sent_at);
      // Refusals for our reputation, content or authentication: the relay rested, nobody was suppressed.
      const blocked = await ctx.db
        .selectFrom('deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('issue_id', '=', issue.id)
        .where('state', '=', 'failed')
        .where('error_class', 'in', ['blocked', 'spam_content', 'security'])
        .executeTakeFirst();
      const blockedCount = Number(blocked?.n ?? 0);
      return sendAdminPage(deps, req, reply, {
        page: 'send-issue',
        title: 'sendTitle',
        strings: PAGE_STRINGS,
        scripts: ['send.js'],
        data: {
          issue: {
            id: issue.id,
            title: issue.title,
            period: issue.period,
            revision: issue.revision,
            state: issue.state,
            stateText: issueStateLabel(locale, issue.state),
            approvedBy: issue.approved_by?.replace(/^user:/, '') ?? null,
            approvedAt: issue.approved_at,
            holdReason: issue.hold_reason,
            // In words, with the relay's own reply (the code alone tells an editor nothing).
            pauseReason: issue.pause_reason
              ? describeReason(locale, issue.pause_reason, issue.pause_reply)
              : null,
          },
          relayRests,
          tabs: issueTabs(issue.id, 'send', t),
          tz,
          offset,
          // Only while it is still to come: once sending, the start and finish times say it.
          scheduledText:
            scheduledIn && issue.state === 'scheduled'
              ? fmt(t.scheduledFor, { at: scheduledIn.toFormat('yyyy-MM-dd HH:mm'), tz })
              : null,
          startedText: issue.sending_started_at
            ? fmt(t.sendStarted, { at: whenText(issue.sending_started_at, tz) })
            : null,
          finishedText:
            issue.sent_at && issue.sending_started_at
              ? fmt(t.sendFinished, {
                  at: whenText(issue.sent_at, tz),
                  duration: formatDuration(
                    Math.max(
                      0,
                      Math.round((issue.sent_at.getTime() - issue.sending_started_at.getTime()) / 1000),
                    ),
                    { h: t.durationH, min: t.durationMin, s: t.durationS },
                  ),
                })
              : null,
          scheduleIssueZone:
            issue.schedule_time_zone && issue.schedule_time_zone !== tz ? issue.schedule_time_zone : null,
          initial,
          controls,
          checklist: checklist && checklistView(checklist, locale),
          showProgress: started,
          progress: progressView(progress, t, locale),
          live: progress.live && started,
          progressUrl: `/admin/issues/${issue.id}/send/progress`,
          history,
          blockedCount,
          statsUrl: `/admin/issues/${issue.id}/stats`,
          base: `/admin/issues/${issue.id}/send`,
        },
      });
    });

    app.get('/admin/issues/:id/send/progress', async (req, reply) => {
      const id = parseIssueId((req.params as { id?: string }).id);
      const progress = id === null ? null : await loadSendProgress(ctx.db, id);
      if (!progress) return reply.code(404).send({ error: 'not_found' });
      const locale = await requestLocale(deps, req);
      const t = SEND_STRINGS[locale];
      return reply.header('cache-control', 'no-store').send({
        ...progressView(progress, t, locale),
        controls: sendControls(progress.state, progress.unknown),
      });
    });

    app.post(
      '/admin/issues/:id/send/approve',
      action('approve', async (issue, req, t) => {
        await approveIssue(
          { ...editorial, render: deps.render, archive: queueArchiveRequests(deps.queue(QUEUES.archive)) },
          issue.id,
          auditActor(req),
        );
        return t.approved;
      }),
    );

    app.post(
      '/admin/issues/:id/send/schedule',
      action('schedule', async (issue, req, t) => {
        const tz = await timeZone();
        const date = formField(req, 'date');
        const time = formField(req, 'time');
        if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !/^\d{2}:\d{2}$/.test(time))
          throw new EditorialInputError(
            `"${date} ${time}" is not a date and time like 2025-08-01 09:00`,
            'time-format',
            {
              at: `${date} ${time}`,
            },
          );
        const when = { at: `${date} ${time}`, tz };
        const deps2 = { ...editorial, queue: issuesQueue() };
        const updated =
          issue.state === 'scheduled'
            ? await rescheduleIssue(deps2, issue.id, when, auditActor(req))
            : await scheduleIssue(deps2, issue.id, when, auditActor(req));
        const at = whenText(updated.scheduled_at as Date, tz);
        return fmt(issue.state === 'scheduled' ? t.rescheduled : t.scheduled, { at, tz });
      }),
    );

    // "Send now" (approved or scheduled): sending from this request on, prepared by the issues
    // worker at once, so the page that follows already shows the send and its counts.
    app.post(
      '/admin/issues/:id/send/now',
      action('send-now', async (issue, req, t) => {
        await sendIssueNow({ ...editorial, queue: issuesQueue() }, issue.id, auditActor(req));
        return t.sendNowDone;
      }),
    );

    app.post(
      '/admin/issues/:id/send/unschedule',
      action('unschedule', async (issue, req, t) => {
        await unscheduleIssue({ ...editorial, queue: issuesQueue() }, issue.id, auditActor(req));
        return t.unscheduled;
      }),
    );

    // The one cancel: before sending it also removes the scheduled job; while sending, rows not yet
    // on the wire are skipped.
    app.post(
      '/admin/issues/:id/send/cancel',
      action('cancel', async (issue, req, t) => {
        const { skipped } = await cancelIssue(
          { ...delivery(), issuesQueue: issuesQueue() },
          issue.id,
          auditActor(req),
        );
        return issue.state === 'sending' || issue.state === 'paused'
          ? fmt(t.cancelledSending, { n: skipped })
          : t.cancelled;
      }),
    );

    app.post(
      '/admin/issues/:id/send/pause',
      action('pause', async (issue, req, t) => {
        if (!(await pauseIssue(delivery(), issue.id, 'operator', auditActor(req))))
          throw new IllegalIssueTransitionError((await getIssue(ctx.db, issue.id)).state, 'pause');
        return t.paused;
      }),
    );

    app.post(
      '/admin/issues/:id/send/resume',
      action('resume', async (issue, req, t) => {
        await resumeIssue(delivery(), issue.id, auditActor(req));
        return t.resumed;
      }),
    );

    app.post(
      '/admin/issues/:id/send/resend-unknown',
      action('resend-unknown', async (issue, req, t) => {
        const n = await resendUnknown(delivery(), issue.id, auditActor(req));
        return fmt(t.resentUnknown, { n });
      }),
    );
  };
}
