// Settings: a "verify connection" form shows it is working while the relay answers (up to ten
// seconds). (After a section moves, the redirect's #fragment names the pressed button, and the
// browser itself puts keyboard focus back on it.)
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
})();
