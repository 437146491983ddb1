// Progressive enhancement shared by every page: everything works without it; with it, forms
// marked data-autosubmit submit on change and pages can call the JSON API with the CSRF token.
(() => {
  const token = () => document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

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
      const err = new Error(data?.message ?? data?.error ?? res.statusText);
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
