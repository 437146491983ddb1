// Settings: a "verify connection" form shows it is working while the relay answers (up to ten
// seconds). (After a section moves, the redirect's #fragment names the pressed button, and the
// browser itself puts keyboard focus back on it.) A relay's "edit" link opens its folded form,
// and a refused relay form is brought into view.
(() => {
  document.addEventListener('submit', (e) => {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-busy')) return;
    const submit = form.querySelector('button[type="submit"]');
    if (submit) {
      submit.disabled = true;
      submit.setAttribute('aria-busy', 'true');
    }
  });

  // Opened by its link (handled here: the hash may already name it, and the browser's own
  // fragment scroll would take the focus away again) and on load, for a link from elsewhere.
  const open = (id) => {
    const target = id ? document.getElementById(id) : null;
    if (!(target instanceof HTMLDetailsElement)) return false;
    target.open = true;
    target.querySelector('input:not([type="hidden"]), select')?.focus();
    return true;
  };
  document.addEventListener('click', (e) => {
    const link = e.target instanceof Element ? e.target.closest('a[href^="#"]') : null;
    const href = link?.getAttribute('href') ?? '';
    if (link && open(decodeURIComponent(href.slice(1)))) {
      e.preventDefault();
      history.replaceState(null, '', href);
    }
  });
  open(decodeURIComponent(location.hash.slice(1)));

  // A refused relay form comes back filled in, with the reason inside it: bring it into view.
  const refused = document.querySelector('form .flash.error[role="alert"]');
  if (refused) {
    refused.scrollIntoView({ block: 'center' });
    refused
      .closest('form')
      ?.querySelector('input:not([type="hidden"]), select')
      ?.focus({ preventScroll: true });
  }
})();
