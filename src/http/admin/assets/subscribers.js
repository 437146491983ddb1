// Subscriber forms: "every section" and the single sections exclude each other. Without this
// script the server still decides (a ticked "every section" wins).
(() => {
  for (const fieldset of document.querySelectorAll('fieldset.subscribers-sections')) {
    const all = fieldset.querySelector('input[data-all-sections]');
    const boxes = [...fieldset.querySelectorAll('input[name="sections"]')];
    if (!all) continue;
    const sync = () => {
      for (const box of boxes) {
        box.disabled = all.checked;
        if (all.checked) box.checked = false;
      }
    };
    all.addEventListener('change', sync);
    sync();
  }
})();

// An import's page: while the import is queued or running its status section carries data-poll;
// the server renders that section again (the same template) and it is swapped in every second
// until it comes back without data-poll. A change of state is announced once (aria-live).
// Without this script the page refreshes itself (a meta refresh in <noscript>).
(() => {
  const section = document.querySelector('section[data-poll]');
  if (!section) return;
  const announce = document.querySelector('[data-poll-announce]');
  const interval = Number(section.getAttribute('data-poll-ms') ?? 1000);
  const hideNoJs = () => {
    for (const el of section.querySelectorAll('[data-no-js-refresh]')) el.hidden = true;
  };
  hideNoJs();
  let label = section.getAttribute('data-state-label');

  async function poll() {
    const url = section.getAttribute('data-poll');
    if (!url) return;
    try {
      const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' } });
      if (res.ok) {
        const parsed = document.createElement('template');
        parsed.innerHTML = await res.text();
        const next = parsed.content.querySelector('section');
        if (next) {
          section.replaceChildren(...next.childNodes);
          for (const name of ['data-poll', 'data-state-label']) {
            const value = next.getAttribute(name);
            if (value === null) section.removeAttribute(name);
            else section.setAttribute(name, value);
          }
          hideNoJs();
          const now = section.getAttribute('data-state-label');
          if (announce && now !== label) announce.textContent = now;
          label = now;
        }
      }
    } catch {
      // A missed poll is tried again on the next tick.
    }
    if (section.hasAttribute('data-poll')) window.setTimeout(poll, interval);
  }

  window.setTimeout(poll, interval);
// The list's bulk actions: a header box ticks the page's rows (shown only with this script), and
// suppressing asks first. Without the script the forms still work; the server decides.
(() => {
  const all = document.querySelector('input[data-select-page]');
  const rows = [...document.querySelectorAll('input[form="bulk"][name="ids"]')];
  if (all && rows.length) {
    all.hidden = false;
    all.addEventListener('change', () => {
      for (const box of rows) box.checked = all.checked;
    });
  }
  for (const button of document.querySelectorAll('button[data-confirm-click]')) {
    button.addEventListener('click', (e) => {
      if (!window.confirm(button.getAttribute('data-confirm-click') ?? '')) e.preventDefault();
    });
  }
})();
