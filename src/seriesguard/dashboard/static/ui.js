// Building blocks shared by the views: tables, pager, badges, progress, toast, confirm dialog.
import { h, replace } from './dom.js';
import { DASH, fmtInt, fmtRate, missing } from './format.js';

// A state name as a badge: the text says it, the colour only repeats it.
export function badge(state, kind = 'state') {
  const text = missing(state) || state === '' ? DASH : String(state);
  const slug = text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return h('span', { class: ['badge', `${kind}-${slug}`] }, text);
}

export function seriesLink(seriesId) {
  return h('a', { href: `#/series/${encodeURIComponent(seriesId)}`, class: 'mono' }, seriesId);
}

// A 0..1 figure as a bar with its percentage in text; testid on the wrapper (data-value).
export function progress(value, testid) {
  const known = !missing(value);
  const clamped = known ? Math.min(1, Math.max(0, value)) : 0;
  const bar = h('progress', { max: '1', value: String(clamped) });
  bar.setAttribute('aria-label', known ? `${Math.round(clamped * 100)}%` : 'unknown');
  return h('span', {
    class: 'progress',
    testid,
    dataset: { value: known ? String(clamped) : '' },
  }, bar, h('span', { class: 'progress-text' }, known ? fmtRate(clamped) : DASH));
}

// <table> with a header row; rows are <tr> built by the caller; an empty list says so.
export function table({ testid, headers, rows, empty = 'Nothing to show.', className }) {
  const body = h('tbody', {}, rows.length ? rows
    : h('tr', { class: 'empty' }, h('td', { colspan: String(headers.length) }, empty)));
  return h('table', { testid, class: ['grid', className] },
    h('thead', {}, h('tr', {}, headers.map((label) => h('th', { scope: 'col' }, label)))),
    body);
}

export function cell(content, attrs = {}) {
  return h('td', attrs, content);
}

// A summary figure: the testid is on the value alone, so its text is the number.
export function card(label, value, testid, hint) {
  return h('div', { class: 'card' },
    h('div', { class: 'card-label' }, label),
    h('div', { class: 'card-value', testid }, value),
    hint ? h('div', { class: 'card-hint' }, hint) : null);
}

export function panel(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

// page-prev / page-info / page-next; pages are 1-based.
export function pager({ page, size, total, onPage }) {
  const pages = Math.max(1, Math.ceil((total || 0) / size));
  const current = Math.min(Math.max(1, page), pages);
  return h('div', { class: 'pager' },
    h('button', {
      type: 'button', testid: 'page-prev', disabled: current <= 1,
      onclick: () => onPage(current - 1),
    }, '‹ Prev'),
    h('span', { testid: 'page-info' }, `page ${fmtInt(current)} of ${fmtInt(pages)}`),
    h('button', {
      type: 'button', testid: 'page-next', disabled: current >= pages,
      onclick: () => onPage(current + 1),
    }, 'Next ›'));
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

let toastTimer = null;

// The last message, in the shell's toast element; errors stay until replaced or clicked.
export function toast(message, { error = false } = {}) {
  const node = document.querySelector('[data-testid="toast"]');
  if (!node) return;
  clearTimeout(toastTimer);
  replace(node, message);
  node.classList.toggle('error', error);
  node.hidden = false;
  if (!error) toastTimer = setTimeout(() => { node.hidden = true; }, 6000);
}

// In-page confirmation (no window.confirm): resolves true on OK, false on cancel or Escape.
export function confirmDialog(message, { ok = 'OK', danger = false } = {}) {
  document.querySelector('[data-testid="confirm-dialog"]')?.remove();
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const done = (answer) => {
      overlay.remove();
      document.removeEventListener('keydown', onKey, true);
      if (previous && previous.focus) previous.focus();
      resolve(answer);
    };
    const onKey = (event) => {
      if (event.key === 'Escape') { event.preventDefault(); done(false); }
    };
    const okButton = h('button', {
      type: 'button', testid: 'confirm-ok', class: danger ? 'danger' : 'primary',
      onclick: () => done(true),
    }, ok);
    const overlay = h('div', { class: 'overlay' },
      h('div', {
        class: 'dialog', testid: 'confirm-dialog', role: 'dialog', 'aria-modal': 'true',
        'aria-labelledby': 'confirm-message',
      },
      h('p', { id: 'confirm-message' }, message),
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', testid: 'confirm-cancel', onclick: () => done(false) },
          'Cancel'),
        okButton)));
    document.addEventListener('keydown', onKey, true);
    document.body.appendChild(overlay);
    okButton.focus();
  });
}

// Runs a state-changing call with its button disabled; reports the outcome in the toast.
export async function act(button, call, success) {
  if (button) button.disabled = true;
  try {
    const result = await call();
    toast(typeof success === 'function' ? success(result) : success);
    return result;
  } catch (error) {
    toast(error.message, { error: true });
    return undefined;
  } finally {
    if (button && button.isConnected) button.disabled = false;
  }
}

export function errorNote(error) {
  return h('p', { class: 'note error-note' }, error.message || String(error));
}
