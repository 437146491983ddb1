// The issue list and editor, enhanced. Everything here also works as a plain form post without
// scripts; with them: the Markdown upload, drag and drop (SortableJS), keyboard moves without a
// reload, autosave with a warning when another editor changed the same thing, and the live
// pre-send checklist. Calls go to the JSON API (/api/issues*) with the session's CSRF token.
(() => {
  const readJson = (id) => {
    const el = document.getElementById(id);
    if (!el) return null;
    try {
      return JSON.parse(el.textContent || 'null');
    } catch {
      return null;
    }
  };
  const t = readJson('issues-strings') || {};
  const fmt = (key, values) =>
    String(t[key] ?? key).replace(/\{(\w+)\}/g, (whole, name) =>
      name in values ? String(values[name]) : whole,
    );
  const api = (...args) => window.gazette.api(...args);

  /* ---------- the issue list: importing the committee's document ---------- */

  function enhanceImport() {
    const form = document.getElementById('import-form');
    if (!form) return;
    const report = document.getElementById('import-report');
    const status = document.getElementById('import-status');
    const maxBytes = Number(form.dataset.maxBytes || 0);

    const showProblems = (message, problems) => {
      report.replaceChildren();
      const p = document.createElement('p');
      p.className = 'flash error';
      p.textContent = message;
      report.append(p);
      if (problems?.length) {
        const ol = document.createElement('ol');
        ol.className = 'import-problems';
        for (const problem of problems) {
          const li = document.createElement('li');
          const strong = document.createElement('strong');
          strong.textContent = problem.lineLabel || fmt('lineLabel', { line: problem.line });
          li.append(strong, ` ${problem.message}`);
          ol.append(li);
        }
        report.append(ol);
      }
      report.focus();
    };

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const file = form.querySelector('input[type="file"]')?.files?.[0];
      const text = form.querySelector('textarea')?.value ?? '';
      if (!file && !text.trim()) return showProblems(t.importNoText, []);
      if (file && maxBytes && file.size > maxBytes) return showProblems(t.importTooLarge, []);
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      status.textContent = t.importing;
      try {
        // The same multipart form as without scripts; JSON back, so problems show without a reload.
        const res = await fetch(form.action, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'x-csrf-token': window.gazette.csrfToken(), accept: 'application/json' },
          body: new FormData(form),
        });
        const data = await res.json().catch(() => ({}));
        // The period already has an issue: the plain form's answer is the page that asks what to do.
        if (res.status === 409 && data.error === 'period_taken') {
          form.submit();
          return;
        }
        if (res.ok && data.location) {
          window.location.assign(data.location);
          return;
        }
        showProblems(data.message || res.statusText, data.problems);
      } catch (err) {
        showProblems(String(err?.message || err), []);
      } finally {
        button.disabled = false;
        status.textContent = '';
      }
    });
  }

  /* ---------- the issue editor ---------- */

  const state = readJson('issue-editor-state');
  const live = document.getElementById('issue-live');
  const announce = (message) => {
    if (!live) return;
    // Clear first so the same words twice are still read out.
    live.textContent = '';
    window.setTimeout(() => {
      live.textContent = message;
    }, 50);
  };
  const query = (path) => `/api/issues/${state.issueId}${path}?ifState=draft`;

  /* The checklist, redrawn after each save from the page's own JSON (labels in the page language). */
  let checklistTimer = 0;
  function drawChecklist(view) {
    const ul = document.getElementById('checklist-list');
    const summary = document.getElementById('checklist-summary');
    if (!ul || !summary) return;
    summary.className = `flash ${view.ok ? 'notice' : 'error'}`;
    summary.textContent = view.ok ? t.checklistOk : t.checklistBlocked;
    ul.replaceChildren(
      ...view.checks.map((check) => {
        const li = document.createElement('li');
        li.className = `check check-${check.status}`;
        li.dataset.check = check.id;
        const badge = document.createElement('span');
        badge.className = `badge ${check.badge}`;
        badge.textContent = check.statusLabel;
        const label = document.createElement('strong');
        label.textContent = check.label;
        const message = document.createElement('div');
        message.className = 'muted';
        message.textContent = check.message;
        li.append(badge, ' ', label, message);
        if (check.items.length) {
          const list = document.createElement('ul');
          list.className = 'check-items';
          for (const item of check.items) {
            const a = document.createElement('a');
            a.href = `#item-${item.id}`;
            a.textContent = item.title;
            const entry = document.createElement('li');
            entry.append(a);
            list.append(entry);
          }
          li.append(list);
        }
        return li;
      }),
    );
  }
  async function refreshChecklist(links = false) {
    const status = document.getElementById('checklist-status');
    if (status) status.textContent = t.checklistUpdating;
    try {
      drawChecklist(await api('GET', `/admin/issues/${state.issueId}/checklist?links=${links}`));
      if (status) status.textContent = '';
    } catch (err) {
      if (status) status.textContent = fmt('statusError', { message: err.message });
    }
  }
  const scheduleChecklist = () => {
    window.clearTimeout(checklistTimer);
    checklistTimer = window.setTimeout(() => refreshChecklist(false), 600);
  };

  /* Keeping the page consistent after a move: button states, counts, the section menu. */
  function tidyLists() {
    for (const ol of document.querySelectorAll('ol.issue-items')) {
      const items = [...ol.children];
      items.forEach((li, i) => {
        const up = li.querySelector('[data-move="up"]');
        const down = li.querySelector('[data-move="down"]');
        if (up) up.disabled = i === 0;
        if (down) down.disabled = i === items.length - 1;
        const select = li.querySelector('select[name="sectionKey"]');
        if (select) select.value = ol.dataset.sectionKey;
      });
      const section = ol.closest('.issue-section');
      const count = section?.querySelector('.section-count');
      if (count)
        count.textContent = String(count.dataset.template || '').replace('{n}', String(items.length));
      const empty = section?.querySelector('.empty-note');
      if (empty) empty.hidden = items.length > 0;
    }
  }

  const titleOf = (li) => li.querySelector('.item-title-text')?.textContent ?? '';
  function announceMove(li) {
    const ol = li.parentElement;
    announce(
      fmt('movedTo', {
        title: titleOf(li),
        section: ol.dataset.sectionName,
        position: [...ol.children].indexOf(li) + 1,
      }),
    );
  }

  async function moveItem(li, sectionKey, position) {
    await api('POST', query(`/items/${li.dataset.itemId}/move`), { sectionKey, position });
    scheduleChecklist();
  }

  function enhanceMoves() {
    // Up and down: the item moves in place and keeps the focus, so pressing again moves it on.
    for (const form of document.querySelectorAll('form[data-move-form]')) {
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const li = form.closest('li.issue-item');
        const ol = li.parentElement;
        const direction = form.querySelector('[name="direction"]').value;
        const sibling = direction === 'up' ? li.previousElementSibling : li.nextElementSibling;
        if (!sibling) return;
        const index = [...ol.children].indexOf(li) + (direction === 'up' ? -1 : 1);
        try {
          await moveItem(li, ol.dataset.sectionKey, index);
        } catch (err) {
          announce(fmt('moveFailed', { message: err.message }));
          return;
        }
        if (direction === 'up') ol.insertBefore(li, sibling);
        else ol.insertBefore(li, sibling.nextElementSibling);
        tidyLists();
        const same = li.querySelector(`[data-move="${direction}"]`);
        const other = li.querySelector(`[data-move="${direction === 'up' ? 'down' : 'up'}"]`);
        (same && !same.disabled ? same : other)?.focus();
        announceMove(li);
      });
    }
    // To another section: appended at its end, focus on the item itself.
    for (const form of document.querySelectorAll('form[data-move-section-form]')) {
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const li = form.closest('li.issue-item');
        const key = form.querySelector('select').value;
        if (key === li.parentElement.dataset.sectionKey) return;
        const target = document.querySelector(`ol.issue-items[data-section-key="${CSS.escape(key)}"]`);
        if (!target) return;
        try {
          await moveItem(li, key, target.children.length);
        } catch (err) {
          announce(fmt('moveFailed', { message: err.message }));
          return;
        }
        target.append(li);
        tidyLists();
        li.focus();
        announceMove(li);
      });
    }
  }

  function enhanceDrag() {
    if (typeof window.Sortable !== 'function') return;
    for (const ol of document.querySelectorAll('ol.issue-items')) {
      window.Sortable.create(ol, {
        group: 'issue-items',
        handle: '.drag-handle',
        animation: 150,
        // Pointer events rather than native drag and drop: the same on tablets and in tests.
        forceFallback: true,
        onEnd: async (evt) => {
          if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
          const li = evt.item;
          try {
            await moveItem(li, evt.to.dataset.sectionKey, evt.newIndex);
          } catch (err) {
            announce(fmt('moveFailed', { message: err.message }));
            window.location.reload();
            return;
          }
          tidyLists();
          announceMove(li);
        },
      });
    }
  }

  /* Autosave: debounced, one request at a time per form, a conflict shown rather than overwritten. */
  function autosaver(form, save) {
    const status = form.querySelector('.save-status');
    const setStatus = (kind, message) => {
      if (!status) return;
      status.dataset.state = kind;
      status.textContent = message;
    };
    let timer = 0;
    let running = false;
    let again = false;
    async function run() {
      window.clearTimeout(timer);
      if (running) {
        again = true;
        return;
      }
      running = true;
      setStatus('saving', t.statusSaving);
      try {
        const outcome = await save();
        if (outcome !== 'held') {
          setStatus('saved', t.statusSaved);
          scheduleChecklist();
        } else {
          setStatus('error', '');
        }
      } catch (err) {
        setStatus('error', fmt('statusError', { message: err.message }));
      } finally {
        running = false;
        if (again) {
          again = false;
          run();
        }
      }
    }
    form.addEventListener('input', () => {
      setStatus('dirty', t.statusDirty);
      window.clearTimeout(timer);
      timer = window.setTimeout(run, 800);
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      run();
    });
    return run;
  }

  function conflictBox(form, title, theirs, onLoad, onOverwrite) {
    const box = form.querySelector('.conflict');
    box.replaceChildren();
    const head = document.createElement('p');
    const strong = document.createElement('strong');
    strong.textContent = title;
    head.append(strong);
    box.append(head);
    if (theirs) {
      const p = document.createElement('p');
      p.textContent = `${t.conflictTheirs}: ${theirs}`;
      box.append(p);
    }
    const actions = document.createElement('p');
    const load = document.createElement('button');
    load.type = 'button';
    load.className = 'small';
    load.textContent = t.conflictLoad;
    load.addEventListener('click', () => {
      box.hidden = true;
      onLoad();
    });
    actions.append(load);
    if (onOverwrite) {
      const overwrite = document.createElement('button');
      overwrite.type = 'button';
      overwrite.className = 'small';
      overwrite.textContent = t.conflictOverwrite;
      overwrite.addEventListener('click', () => {
        box.hidden = true;
        onOverwrite();
      });
      actions.append(' ', overwrite);
    }
    box.append(actions);
    box.hidden = false;
    box.focus?.();
  }

  function stateConflict(form) {
    const box = form.querySelector('.conflict');
    box.textContent = t.stateChanged;
    box.hidden = false;
  }

  function sourcesOf(form) {
    const out = [];
    for (const row of form.querySelectorAll('.source-row')) {
      const url = row.querySelector('[name="sourceUrl"]').value.trim();
      const label = row.querySelector('[name="sourceLabel"]').value.trim();
      if (url) out.push(label ? { url, label } : { url });
    }
    return out;
  }

  function renumberSources(form) {
    const li = form.closest('li.issue-item');
    [...form.querySelectorAll('.source-row')].forEach((row, i) => {
      const n = i + 1;
      const [urlLabel, labelLabel] = row.querySelectorAll('label');
      const url = row.querySelector('[name="sourceUrl"]');
      const label = row.querySelector('[name="sourceLabel"]');
      url.id = `item-${li.dataset.itemId}-src-${n}-url`;
      label.id = `item-${li.dataset.itemId}-src-${n}-label`;
      urlLabel.htmlFor = url.id;
      labelLabel.htmlFor = label.id;
      urlLabel.textContent = fmt('sourceUrlN', { n });
      labelLabel.textContent = fmt('sourceLabelN', { n });
    });
  }

  function enhanceItemForm(form) {
    const li = form.closest('li.issue-item');
    const rows = form.querySelector('.source-rows');
    const add = form.querySelector('.add-source');
    const changed = () => form.dispatchEvent(new Event('input', { bubbles: true }));
    const wireRemove = (row) => {
      const button = row.querySelector('.remove-source');
      button.hidden = false;
      button.addEventListener('click', () => {
        const next = row.nextElementSibling?.querySelector('input') ?? add;
        row.remove();
        renumberSources(form);
        next?.focus();
        changed();
      });
    };
    const blank = rows.querySelector('[data-blank-source]');
    const template = blank.cloneNode(true);
    // With scripts a source is added by the button; the blank row the plain form needs goes.
    if (rows.children.length > 1) blank.remove();
    else wireRemove(blank);
    for (const row of rows.querySelectorAll('.source-row')) if (row !== blank) wireRemove(row);
    add.hidden = false;
    add.addEventListener('click', () => {
      const row = template.cloneNode(true);
      for (const input of row.querySelectorAll('input')) input.value = '';
      rows.append(row);
      wireRemove(row);
      renumberSources(form);
      row.querySelector('input').focus();
    });

    const version = form.querySelector('[name="version"]');
    const titleInput = form.querySelector('[name="title"]');
    const summaryInput = form.querySelector('[name="summary"]');
    const fill = (current) => {
      titleInput.value = current.title;
      summaryInput.value = current.summary;
      const wanted = current.sources.length || 1;
      while (rows.children.length < wanted) add.click();
      while (rows.children.length > wanted) rows.lastElementChild.remove();
      [...rows.children].forEach((row, i) => {
        row.querySelector('[name="sourceUrl"]').value = current.sources[i]?.url ?? '';
        row.querySelector('[name="sourceLabel"]').value = current.sources[i]?.label ?? '';
      });
      renumberSources(form);
      setVersion(current.version);
      showTitle();
    };
    const setVersion = (v) => {
      version.value = String(v);
      li.dataset.version = String(v);
    };
    const showTitle = () => {
      const text = li.querySelector('.item-title-text');
      if (text) text.textContent = titleInput.value.trim();
      const excerpt = li.querySelector('.item-excerpt');
      if (excerpt) excerpt.textContent = summaryInput.value;
    };

    const run = autosaver(form, async () => {
      const body = {
        title: titleInput.value,
        summary: summaryInput.value,
        sources: sourcesOf(form),
        version: Number(version.value),
      };
      try {
        const saved = await api('PATCH', query(`/items/${li.dataset.itemId}`), body);
        setVersion(saved.version);
        showTitle();
        return 'saved';
      } catch (err) {
        if (err.status === 409 && err.data?.reason === 'item') {
          const current = err.data.current;
          conflictBox(
            form,
            t.conflictTitle,
            `${current.title} — ${current.summary.slice(0, 120)}`,
            () => fill(current),
            () => {
              setVersion(current.version);
              run();
            },
          );
          return 'held';
        }
        if (err.status === 409 && err.data?.reason === 'state') {
          stateConflict(form);
          return 'held';
        }
        if (err.status === 404) {
          const box = form.querySelector('.conflict');
          box.textContent = t.conflictGone;
          box.hidden = false;
          return 'held';
        }
        throw err;
      }
    });
  }

  /* The title, subject, preheader, introduction and masthead: only changed fields are sent. */
  function enhanceFieldsForm() {
    const form = document.getElementById('fields-form');
    if (!form) return;
    let base = { ...state.fields };
    const value = (name) => form.querySelector(`[name="${name}"]`).value;
    const lines = (text) =>
      text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean);
    const current = () => {
      const masthead = { ...base.masthead };
      const setText = (key, v) => {
        if (v.trim()) masthead[key] = v.trim();
        else delete masthead[key];
      };
      const setList = (key, v) => {
        const list = lines(v);
        if (list.length) masthead[key] = list;
        else delete masthead[key];
      };
      // Every masthead field is on the form (issues/masthead.ts reads it the same way).
      setText('subtitle', value('mastheadSubtitle'));
      setText('committee', value('mastheadCommittee'));
      setText('editor', value('mastheadEditor'));
      setList('director', value('mastheadDirector'));
      setList('deputyDirectors', value('mastheadDeputies'));
      setList('editorialBoard', value('mastheadBoard'));
      const other = lines(value('mastheadLines')).map((line) => {
        const m = /^([^:：]{1,40})[:：]\s*(.+)$/u.exec(line);
        return m ? { label: m[1].trim(), value: m[2].trim() } : { label: '', value: line };
      });
      if (other.length) masthead.lines = other;
      else delete masthead.lines;
      return {
        title: value('title').trim(),
        subject: value('subject').trim() || null,
        preheader: value('preheader').trim() || null,
        intro: value('intro').trim() || null,
        masthead,
      };
    };
    const stable = (v) =>
      JSON.stringify(v ?? null, (_k, x) =>
        x && typeof x === 'object' && !Array.isArray(x)
          ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
          : x,
      );
    const fill = (values) => {
      const set = (name, v) => {
        form.querySelector(`[name="${name}"]`).value = v ?? '';
      };
      if ('title' in values) set('title', values.title);
      if ('subject' in values) set('subject', values.subject);
      if ('preheader' in values) set('preheader', values.preheader);
      if ('intro' in values) set('intro', values.intro);
      if ('masthead' in values) {
        const m = values.masthead || {};
        set('mastheadSubtitle', m.subtitle);
        set('mastheadCommittee', m.committee);
        set('mastheadEditor', m.editor);
        set('mastheadDirector', (m.director || []).join('\n'));
        set('mastheadDeputies', (m.deputyDirectors || []).join('\n'));
        set('mastheadBoard', (m.editorialBoard || []).join('\n'));
        set(
          'mastheadLines',
          (m.lines || []).map((l) => (l.label ? `${l.label}：${l.value}` : l.value)).join('\n'),
        );
      }
    };
    const run = autosaver(form, async () => {
      const now = current();
      const patch = {};
      const before = {};
      for (const key of Object.keys(now)) {
        if (stable(now[key]) === stable(base[key])) continue;
        patch[key] = now[key];
        before[key] = base[key];
      }
      if (!Object.keys(patch).length) return 'saved';
      // An empty title is not saved (an issue needs one); the field's `required` says so.
      if ('title' in patch && !patch.title) {
        delete patch.title;
        delete before.title;
        if (!Object.keys(patch).length) return 'saved';
      }
      try {
        await api('PATCH', query(''), { ...patch, base: before });
        base = { ...base, ...patch };
        return 'saved';
      } catch (err) {
        if (err.status === 409 && err.data?.reason === 'fields') {
          const theirs = err.data.current;
          // The changed fields by their labels (the masthead by its fieldset's legend).
          const names = Object.keys(theirs)
            .map((k) =>
              k === 'masthead'
                ? form.querySelector('fieldset > legend')?.textContent
                : form.querySelector(`label[for="${form.querySelector(`[name="${k}"]`)?.id}"]`)?.textContent,
            )
            .filter(Boolean);
          conflictBox(
            form,
            fmt('conflictFieldsTitle', { fields: names.join('、') }),
            Object.values(theirs)
              .map((v) => (typeof v === 'string' ? v : stable(v)))
              .join(' / '),
            () => {
              base = { ...base, ...theirs };
              fill(theirs);
            },
            () => {
              base = { ...base, ...theirs };
              run();
            },
          );
          return 'held';
        }
        if (err.status === 409 && err.data?.reason === 'state') {
          stateConflict(form);
          return 'held';
        }
        throw err;
      }
    });
  }

  function enhanceEditor() {
    if (!state) return;
    const refresh = document.getElementById('checklist-refresh');
    if (refresh) {
      refresh.hidden = false;
      // The button also probes every source link (slow); saves refresh the rest quietly.
      refresh.addEventListener('click', () => refreshChecklist(true));
    }
    if (!state.editing) return;
    enhanceMoves();
    enhanceDrag();
    for (const form of document.querySelectorAll('form[data-item-form]')) enhanceItemForm(form);
    enhanceFieldsForm();
    // After a no-script style redirect to #item-N, put the focus where the change happened.
    const target = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
    if (target?.classList.contains('issue-item')) target.focus();
  }

  enhanceImport();
  enhanceEditor();
})();
