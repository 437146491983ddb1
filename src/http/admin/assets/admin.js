// Progressive enhancement shared by every page: everything works without it; with it, forms
// marked data-autosubmit submit on change and pages can call the JSON API with the CSRF token.
(() => {
  const token = () => document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

  /**
   * The JSON API refuses in English with a code and parameters beside the message; the page
   * embeds its locale's sentences for those codes (src/http/admin/stage-errors.ts), so a refusal reads in
   * the editor's language. A parameter whose value has a label ("state.approved") shows the label.
   */
  let catalogue;
  function explain(data) {
    if (catalogue === undefined) {
      try {
        catalogue = JSON.parse(document.getElementById('stage-errors')?.textContent || 'null');
      } catch {
        catalogue = null;
      }
    }
    const template = data && typeof data.code === 'string' ? catalogue?.[data.code] : undefined;
    if (!template) return undefined;
    const params = data.params || {};
    return template.replace(/\{(\w+)\}/g, (whole, name) =>
      name in params ? String(catalogue[`${name}.${params[name]}`] ?? params[name]) : whole,
    );
  }

  /** fetch() for the admin JSON API: same-origin cookies, the CSRF header, JSON in and out. */
  async function api(method, url, body) {
    const res = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers: {
        'x-csrf-token': token(),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { message: text };
    }
    if (!res.ok) {
      const err = new Error(explain(data) ?? data?.message ?? data?.error ?? res.statusText);
      err.status = res.status;
      err.data = data;
      throw err;
    }
    return data;
  }

  window.gazette = { api, csrfToken: token };

  document.addEventListener('change', (e) => {
    const el = e.target;
    if (el instanceof HTMLElement && el.hasAttribute('data-autosubmit')) el.closest('form')?.submit();
  });
  document.addEventListener('submit', (e) => {
    const form = e.target;
    const question = form instanceof HTMLFormElement ? form.getAttribute('data-confirm') : null;
    if (question && !window.confirm(question)) e.preventDefault();
  });
})();
