// The inbox without this script: every checkbox and button works as a plain form post. With it:
// a "select all on this page" box, a live count of the checked items, bulk buttons enabled only
// when something is checked, and the chosen section of a bulk accept shown on each checked item.
(() => {
  const form = document.getElementById('inbox-form');
  if (!form) return;
  const all = document.getElementById('inbox-select-all');
  const allLabel = document.getElementById('inbox-select-all-label');
  const count = document.getElementById('inbox-selected');
  const picks = () => [...form.querySelectorAll('input.inbox-pick')];
  const bulkButtons = [...form.querySelectorAll('button[name="bulk"]')];

  function refresh() {
    const boxes = picks();
    const checked = boxes.filter((b) => b.checked).length;
    if (count)
      count.textContent = checked ? (count.dataset.template ?? '{n}').replace('{n}', String(checked)) : '';
    for (const b of bulkButtons) {
      if (!b.dataset.serverDisabled) b.dataset.serverDisabled = b.disabled ? 'yes' : 'no';
      b.disabled = b.dataset.serverDisabled === 'yes' || checked === 0;
    }
    if (all) {
      all.checked = checked > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
  }

  if (all && allLabel) {
    all.hidden = false;
    allLabel.hidden = false;
    all.addEventListener('change', () => {
      for (const b of picks()) b.checked = all.checked;
      refresh();
    });
  }
  form.addEventListener('change', (e) => {
    if (e.target instanceof HTMLInputElement && e.target.classList.contains('inbox-pick')) refresh();
  });
  // Enter in a section select must not submit the first button of the form (a bulk action).
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target instanceof HTMLSelectElement) e.preventDefault();
  });
  refresh();
})();
