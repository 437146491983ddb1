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
