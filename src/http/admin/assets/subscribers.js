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
