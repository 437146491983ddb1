// The sources pages without this script: the rules table always ends with one blank row (save to
// get another), and "poll now" is a plain form post. With it: "add another rule" appends a blank
// row and moves focus into it, and a poll-now button is disabled while the poll runs, so a slow
// feed is not polled twice by an impatient second click.
(() => {
  const table = document.getElementById('sources-rules');
  const add = document.getElementById('sources-rule-add');
  if (table && add) {
    add.hidden = false;
    add.addEventListener('click', () => {
      const body = table.tBodies[0];
      const last = body?.rows[body.rows.length - 1];
      if (!body || !last) return;
      const row = last.cloneNode(true);
      const n = body.rows.length + 1;
      const index = n - 1;
      const head = row.querySelector('th');
      if (head) head.textContent = String(n);
      for (const el of row.querySelectorAll('input, select')) {
        const kind = el.id.replace(/-\d+$/, '');
        el.id = `${kind}-${index}`;
        if (el instanceof HTMLInputElement) el.value = '';
        if (el instanceof HTMLSelectElement) el.selectedIndex = 0;
      }
      for (const label of row.querySelectorAll('label')) {
        const target = label.getAttribute('for')?.replace(/-\d+$/, '');
        if (target) label.setAttribute('for', `${target}-${index}`);
        label.textContent = label.textContent.replace(/\d+/, String(n));
      }
      body.appendChild(row);
      row.querySelector('input')?.focus();
    });
  }
  for (const form of document.querySelectorAll('form[data-busy]')) {
    form.addEventListener('submit', () => {
      const button = form.querySelector('button[type="submit"]');
      if (!button) return;
      // After the submit has been dispatched, so the button's own value still goes with it.
      setTimeout(() => {
        button.disabled = true;
        button.setAttribute('aria-busy', 'true');
      }, 0);
    });
  }
})();
