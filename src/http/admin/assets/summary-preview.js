// Live preview of an item summary (Markdown) while the editor types. The server renders the
// fragment with the same renderer as the email and the archive (POST /admin/issues/summary-preview),
// so the preview cannot disagree with what readers get; the page only swaps it in. Without this
// script the preview shows the summary as last saved.
(() => {
  const WAIT_MS = 250;
  for (const preview of document.querySelectorAll('[data-summary-preview]')) {
    const source = document.getElementById(preview.getAttribute('data-summary-preview') ?? '');
    if (!(source instanceof HTMLTextAreaElement)) continue;
    let timer;
    let inflight;
    const refresh = async () => {
      inflight?.abort();
      const controller = new AbortController();
      inflight = controller;
      try {
        const res = await fetch('/admin/issues/summary-preview', {
          method: 'POST',
          credentials: 'same-origin',
          signal: controller.signal,
          headers: {
            'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
            'x-csrf-token': window.gazette?.csrfToken() ?? '',
          },
          body: new URLSearchParams({ summary: source.value }).toString(),
        });
        if (!res.ok || controller.signal.aborted) return;
        const html = await res.text();
        // The answer to the latest keystroke only: an older one arriving late is dropped.
        if (inflight === controller) {
          preview.innerHTML = html;
          preview.dataset.rendered = String(Date.now());
        }
      } catch (err) {
        if (err?.name !== 'AbortError') preview.dataset.failed = '1';
      }
    };
    source.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, WAIT_MS);
    });
  }
})();
