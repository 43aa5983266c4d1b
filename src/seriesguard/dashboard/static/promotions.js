// #/promotions: canary and shadow promotions, newest first, with their reasons; a row click
// shows every transition of that promotion.
import { api, seg } from './api.js';
import { h, replace } from './dom.js';
import { fmtInt, fmtPercent, fmtTime, orDash } from './format.js';
import { PAGE_SIZE, rolloutProgress } from './fleet.js';
import { badge, cell, errorNote, pager, panel, progress, seriesLink, table, toast } from './ui.js';

export const promotionsView = { title: () => 'Promotions', mount };

function normalise(query) {
  const page = Number.parseInt(query.page, 10);
  return {
    active: query.active === '1' || query.active === 'true' ? '1' : '',
    series: query.series || '',
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

function mount(ctx) {
  let query = normalise(ctx.route.query);
  let request = 0;
  const open = new Set();
  const active = h('input', { type: 'checkbox', testid: 'promotions-active-filter', id: 'promotions-active', checked: query.active === '1' });
  const series = query.series ? h('span', { class: 'chip' }, `series ${query.series} `,
    h('a', { href: '#/promotions' }, '(all)')) : null;
  const total = h('span', { class: 'muted' });
  const list = h('div');
  const pages = h('div');
  active.addEventListener('change', () => ctx.setQuery({ ...query, active: active.checked ? '1' : '', page: 1 }));
  ctx.root.append(panel('Promotions',
    h('div', { class: 'filters' }, h('label', { for: 'promotions-active' }, active, ' active only'), series, total),
    list, pages));

  async function load() {
    const mine = ++request;
    try {
      const page = await api('api/v1/promotions', {
        query: {
          active: query.active ? 'true' : null,
          series_id: query.series || null,
          limit: PAGE_SIZE,
          offset: (query.page - 1) * PAGE_SIZE,
        },
      });
      if (mine !== request || !ctx.alive()) return;
      render(page);
    } catch (error) {
      if (mine !== request || !ctx.alive()) return;
      replace(list, errorNote(error));
      replace(pages);
      toast(error.message, { error: true });
    }
  }

  function render(page) {
    replace(total, `${fmtInt(page.total)} promotions`);
    const rows = [];
    for (const p of page.items || []) {
      const row = h('tr', {
        testid: 'promotion-row', class: 'clickable', tabindex: '0',
        dataset: { promotionId: p.promotion_id, seriesId: p.series_id }, 'aria-expanded': 'false',
      },
      cell(seriesLink(p.series_id)),
      cell(`${orDash(p.version)} vs ${orDash(p.champion_version)}`),
      cell(orDash(p.strategy)),
      cell(badge(p.state), { testid: 'promotion-state' }),
      cell(progress(rolloutProgress(p), 'promotion-progress')),
      cell(fmtPercent(p.current_percentage), { class: 'num' }),
      cell(orDash(p.reason), { testid: 'promotion-reason', class: 'reason' }),
      cell(orDash(p.created_by)),
      cell(fmtTime(p.created_at)),
      cell(fmtTime(p.finished_at)));
      const toggle = (event) => {
        if (event.target.closest('a')) return;
        expand(row, p.promotion_id);
      };
      row.addEventListener('click', toggle);
      row.addEventListener('keydown', (event) => { if (event.key === 'Enter') toggle(event); });
      rows.push(row);
      if (open.has(p.promotion_id)) queueMicrotask(() => expand(row, p.promotion_id, true));
    }
    replace(list, table({
      testid: 'promotions-table',
      headers: ['Series', 'Version', 'Strategy', 'State', 'Progress', 'Traffic', 'Reason', 'By', 'Created (UTC)', 'Finished (UTC)'],
      rows,
      empty: query.active ? 'No promotion in progress.' : 'No canary or shadow promotions yet.',
    }));
    replace(pages, pager({
      page: query.page, size: PAGE_SIZE, total: page.total,
      onPage: (next) => ctx.setQuery({ ...query, page: next }),
    }));
  }

  async function expand(row, promotionId, keep = false) {
    const shown = row.nextElementSibling?.classList.contains('events-row') ? row.nextElementSibling : null;
    if (shown && !keep) {
      shown.remove();
      open.delete(promotionId);
      row.setAttribute('aria-expanded', 'false');
      return;
    }
    open.add(promotionId);
    row.setAttribute('aria-expanded', 'true');
    const holder = h('td', { colspan: String(row.children.length) }, h('span', { class: 'muted' }, 'loading…'));
    const detailRow = h('tr', { class: 'events-row' }, holder);
    (shown || row).after(detailRow);
    shown?.remove();
    try {
      const p = await api(`api/v1/promotions/${seg(promotionId)}`);
      replace(holder, eventsTable(p.events || []));
    } catch (error) {
      replace(holder, errorNote(error));
    }
  }

  load().finally(() => ctx.ready());
  return {
    update(next) {
      query = normalise(next);
      active.checked = query.active === '1';
      ctx.loading();
      load().finally(() => ctx.ready());
    },
  };
}

function eventsTable(events) {
  const rows = events.map((e) => h('tr', {},
    cell(fmtTime(e.at)),
    cell(orDash(e.kind)),
    cell(badge(e.state)),
    cell(fmtPercent(e.percentage), { class: 'num' }),
    cell(describe(e.details), { class: 'reason' })));
  return table({
    testid: 'promotion-events',
    headers: ['At (UTC)', 'Event', 'State', 'Traffic', 'Details'],
    rows,
    empty: 'No events recorded.',
    className: 'compact',
  });
}

// An event's details as "reason: ...; key value" text (reasons first: they say why).
function describe(details = {}) {
  const parts = [];
  if (details.reason) parts.push(String(details.reason));
  if (Array.isArray(details.reasons)) parts.push(details.reasons.join('; '));
  for (const [key, value] of Object.entries(details)) {
    if (key === 'reason' || key === 'reasons') continue;
    const text = value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value);
    parts.push(`${key} ${text}`);
  }
  return parts.length ? parts.join(' · ') : '—';
}
