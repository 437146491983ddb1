// Operations page: every 15 seconds, fetch the page again and swap in the live numbers (queues,
// deliveries, errors, sources). Without this script the page is simply as of its loading.
(() => {
  const live = document.getElementById('ops-live');
  if (!live || !window.fetch || !window.DOMParser) return;
  const refresh = async () => {
    if (document.hidden) return;
    try {
      const res = await fetch(location.pathname, {
        credentials: 'same-origin',
        headers: { accept: 'text/html' },
      });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const fresh = doc.getElementById('ops-live');
      if (fresh) live.innerHTML = fresh.innerHTML;
    } catch {
      // The next tick tries again.
    }
  };
  setInterval(refresh, 15000);
})();
