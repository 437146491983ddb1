// The send page, live: polls the progress JSON every 2 s while the issue is scheduled, sending or
// paused, updates the numbers in place and announces changes politely (aria-live). Pause, resume,
// cancel and re-send post the same routes as the plain forms, as JSON, and refresh at once.
// Without this script the page still works: forms post and redirect, and it refreshes itself.
(() => {
  const section = document.querySelector('[data-progress-url]');
  if (!section) return;
  const url = section.getAttribute('data-progress-url');
  const announce = section.querySelector('[data-progress-announce]');
  const noJs = section.querySelector('[data-no-js-refresh]');
  if (noJs) noJs.hidden = true;
  let state = section.getAttribute('data-state');
  let live = section.getAttribute('data-live') === 'true';
  // A scheduled issue is watched slowly, only to notice when its send starts.
  const interval = Number(section.getAttribute('data-interval') ?? 2000);
  const hasTable = !!section.querySelector('[data-progress="accepted"]');
  let timer = null;
  let lastSummary = '';

  function render(p) {
    for (const el of document.querySelectorAll('[data-progress]')) {
      const key = el.getAttribute('data-progress');
      if (key in p) el.textContent = String(p[key]);
    }
    const bar = section.querySelector('[data-progress-bar]');
    if (bar) bar.style.width = `${p.percent}%`;
    if (p.controls) {
      for (const form of document.querySelectorAll('[data-control]')) {
        const name = form.getAttribute('data-control');
        if (name in p.controls) form.hidden = !p.controls[name];
      }
    }
    // Announce a short summary only when it changed, so a screen reader is not flooded.
    const summary = `${p.stateText} · ${p.percentText}`;
    if (announce && summary !== lastSummary) {
      announce.textContent = summary;
      lastSummary = summary;
    }
    // A finished, cancelled or newly started send changes what the page offers: draw it afresh.
    // Between sending and paused the controls above are swapped in place instead.
    if (p.state !== state && !(hasTable && ['sending', 'paused'].includes(p.state))) {
      window.location.reload();
      return;
    }
    state = p.state;
    live = p.live;
  }

  async function poll() {
    try {
      const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (res.ok) render(await res.json());
    } catch {
      // A missed poll is retried on the next tick.
    }
    if (live) timer = window.setTimeout(poll, interval);
  }

  document.addEventListener('submit', async (e) => {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-live-action') || e.defaultPrevented)
      return;
    e.preventDefault();
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    try {
      const result = await window.gazette.api('POST', form.action, {});
      if (announce) announce.textContent = result.message;
    } catch (err) {
      if (announce) announce.textContent = err.data?.message ?? err.message;
    } finally {
      if (button) button.disabled = false;
    }
    window.clearTimeout(timer);
    live = true;
    poll();
  });

  if (live) timer = window.setTimeout(poll, interval);
})();
