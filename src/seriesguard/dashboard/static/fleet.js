// #/fleet: the whole fleet at a glance (polled every 5 s) and the paged, searchable series list.
import { api } from './api.js';
import { h, replace } from './dom.js';
import {
  DASH, epoch, fmtAge, fmtInt, fmtNum, fmtPercent, fmtRate, fmtTime, orDash,
} from './format.js';
import {
  badge, card, cell, debounce, errorNote, pager, panel, progress, seriesLink, table, toast,
} from './ui.js';

export const PAGE_SIZE = 50;
const FLEET_POLL_MS = 5000;
const STAGES = [
  ['all', 'All stages'], ['production', 'Production'], ['staging', 'Staging'],
  ['canary', 'Canary'], ['shadow', 'Shadow'], ['none', 'No Production version'],
];
export const JOB_STATUSES = ['queued', 'processing', 'completed', 'failed', 'cancelled'];

export const fleetView = { title: () => 'Fleet', mount };

function normalise(query) {
  const page = Number.parseInt(query.page, 10);
  const stage = STAGES.some(([value]) => value === query.stage) ? query.stage : 'all';
  return { q: query.q || '', stage, page: Number.isFinite(page) && page > 0 ? page : 1 };
}

function mount(ctx) {
  let query = normalise(ctx.route.query);
  let fleetKey = null;
  let seriesRequest = 0;
  const summary = h('div', { class: 'summary' });
  const rollouts = h('div');
  const drift = h('div');
  const rollbacks = h('div');
  const generated = h('span', { class: 'muted' });
  const search = h('input', {
    type: 'search', testid: 'series-search', placeholder: 'Search series ids…',
    value: query.q, 'aria-label': 'Search series ids', autocomplete: 'off',
  });
  const stage = h('select', { testid: 'series-stage-filter', 'aria-label': 'Stage' },
    STAGES.map(([value, label]) => h('option', { value, selected: value === query.stage }, label)));
  const total = h('span', { testid: 'series-total', class: 'muted' });
  const list = h('div');
  const pages = h('div');

  const typed = debounce(() => {
    ctx.setQuery({ ...query, q: search.value.trim(), page: 1 }, { replace: true });
  }, 300);
  search.addEventListener('input', typed);
  stage.addEventListener('change', () => ctx.setQuery({ ...query, stage: stage.value, page: 1 }));

  ctx.root.append(
    h('div', { class: 'toolbar' }, generated),
    summary,
    h('div', { class: 'columns wide-left' },
      panel('Active rollouts', rollouts),
      panel('Drift alerts', drift)),
    panel('Recent rollbacks', rollbacks),
    panel('Series',
      h('div', { class: 'filters' }, search, stage, total),
      list, pages),
  );

  async function loadFleet() {
    let doc;
    try {
      doc = await api('api/v1/fleet', { query: { window: '24h' } });
    } catch (error) {
      if (fleetKey === null) {
        renderFleet({});
        replace(generated, `Fleet summary unavailable: ${error.message}`);
        fleetKey = 'failed';
      }
      return;
    }
    const key = JSON.stringify({ ...doc, generated_at: null });
    // The whole-fleet counts come from a server-side snapshot (refreshed in the background):
    // say so when they are older than the rest of the page.
    const taken = Date.parse(doc.aggregates_as_of);
    const lag = (Date.parse(doc.generated_at) - taken) / 1000;
    const counts = lag >= 2 ? ` · counts as of ${fmtTime(doc.aggregates_as_of).slice(11)}` : '';
    replace(generated, `as of ${fmtTime(doc.generated_at)} UTC${counts} · refreshes every 5 s`);
    if (key === fleetKey) return;
    fleetKey = key;
    renderFleet(doc);
  }

  function renderFleet(doc) {
    replace(summary, summaryCards(doc));
    replace(rollouts, rolloutTable(doc.rollouts, doc.rollouts_total));
    replace(drift, driftTable(doc.drift));
    replace(rollbacks, rollbackTable(doc.rollbacks));
  }

  async function loadSeries() {
    const mine = ++seriesRequest;
    const params = {
      limit: PAGE_SIZE,
      offset: (query.page - 1) * PAGE_SIZE,
      contains: query.q || null,
      stage: query.stage === 'all' ? null : query.stage,
    };
    try {
      const page = await api('api/v1/models', { query: params });
      if (mine !== seriesRequest || !ctx.alive()) return;
      renderSeries(page);
    } catch (error) {
      if (mine !== seriesRequest || !ctx.alive()) return;
      replace(list, errorNote(error));
      replace(pages);
      replace(total, DASH);
      toast(error.message, { error: true });
    }
  }

  function renderSeries(page) {
    const items = page.items || [];
    replace(total, `${fmtInt(page.total)} series`);
    const rows = items.map((s) => h('tr', { testid: 'series-row', dataset: { seriesId: s.series_id } },
      cell(seriesLink(s.series_id)),
      cell(versionBadge(s.production_version, 'Production')),
      cell(versionBadge(s.staging_version, 'Staging')),
      cell(versionBadge(s.canary_version, 'canary')),
      cell(versionBadge(s.shadow_version, 'shadow')),
      cell(orDash(s.latest_version)),
      cell(fmtTime(s.updated_at), { title: orDash(s.updated_at) })));
    replace(list, table({
      testid: 'series-table',
      headers: ['Series', 'Production', 'Staging', 'Canary', 'Shadow', 'Latest', 'Updated (UTC)'],
      rows,
      empty: query.q || query.stage !== 'all' ? 'No series match.' : 'No series trained yet.',
    }));
    replace(pages, pager({
      page: query.page, size: PAGE_SIZE, total: page.total,
      onPage: (next) => ctx.setQuery({ ...query, page: next }),
    }));
  }

  Promise.allSettled([loadFleet(), loadSeries()]).then(() => ctx.ready());
  ctx.poll(loadFleet, FLEET_POLL_MS);

  return {
    update(next) {
      query = normalise(next);
      if (document.activeElement !== search) search.value = query.q;
      stage.value = query.stage;
      ctx.loading();
      loadSeries().finally(() => ctx.ready());
    },
  };
}

function versionBadge(version, stage) {
  return version ? h('span', { class: ['version', `stage-${stage.toLowerCase()}`] }, version) : DASH;
}

function summaryCards(doc) {
  const series = doc.series || {};
  const jobs = doc.jobs || {};
  const queue = doc.queue || {};
  const anomaly = doc.anomaly_rate || {};
  const versions = doc.versions_by_stage || {};
  const statuses = [...new Set([...JOB_STATUSES, ...Object.keys(jobs)])];
  const byStage = Object.entries(versions).map(([k, v]) => `${k} ${fmtInt(v)}`).join(' · ');
  return [
    h('div', { class: 'card-group', title: byStage ? `Versions by stage: ${byStage}` : null },
      h('h2', {}, 'Series by stage'), h('div', { class: 'cards' },
      card('Total', fmtInt(series.total), 'stage-count-total'),
      card('Production', fmtInt(series.production), 'stage-count-production'),
      card('Staging', fmtInt(series.staging), 'stage-count-staging'),
      card('Canary', fmtInt(series.canary), 'stage-count-canary'),
      card('Shadow', fmtInt(series.shadow), 'stage-count-shadow'),
      card('No Production', fmtInt(series.without_production), 'stage-count-none'))),
    h('div', { class: 'card-group', title: queue.name ? `Queue ${queue.name}: messages ready` : null },
      h('h2', {}, 'Training jobs'), h('div', { class: 'cards' },
      card('Queue', fmtInt(queue.ready_messages), 'queue-depth',
        queue.broker_error ? `broker: ${queue.broker_error}` : null),
      statuses.map((status) => card(status, fmtInt(jobs[status]), `jobs-count-${status}`)))),
    h('div', { class: 'card-group' }, h('h2', {}, 'Predictions'), h('div', { class: 'cards' },
      card('Anomaly rate', fmtRate(anomaly.rate), 'fleet-anomaly-rate',
        `${fmtInt(anomaly.anomalies)} of ${fmtInt(anomaly.predictions)} predictions, ${anomaly.window || '24h'}`))),
  ];
}

// Progress in [0, 1]: the server's figure, else what the promotion itself tells.
export function rolloutProgress(p) {
  if (typeof p.progress === 'number') return p.progress;
  if (p.state === 'completed') return 1;
  if (p.strategy === 'canary' && typeof p.current_percentage === 'number') {
    return p.current_percentage / 100;
  }
  const start = epoch(p.step_started_at);
  const end = epoch(p.verdict_at);
  if (start !== null && end !== null && end > start) {
    return Math.min(1, Math.max(0, (Date.now() / 1000 - start) / (end - start)));
  }
  return null;
}

function rolloutTable(items = [], totalCount) {
  const rows = (items || []).map((p) => h('tr', {
    testid: 'rollout-row', dataset: { promotionId: p.promotion_id, seriesId: p.series_id },
  },
  cell(seriesLink(p.series_id)),
  cell(`${orDash(p.version)} vs ${orDash(p.champion_version)}`, { title: `strategy ${orDash(p.strategy)}` }),
  cell(badge(p.state), { testid: 'rollout-state' }),
  cell(progress(rolloutProgress(p), 'rollout-progress')),
  cell(fmtPercent(p.current_percentage), { class: 'num' }),
  cell(fmtAge(p.next_increment_at || p.verdict_at), { title: fmtTime(p.next_increment_at || p.verdict_at) }),
  cell(fmtAge(p.created_at), { title: fmtTime(p.created_at) })));
  const more = totalCount > rows.length ? h('p', { class: 'note' },
    `${fmtInt(rows.length)} of ${fmtInt(totalCount)} shown; `,
    h('a', { href: '#/promotions?active=1' }, 'all active promotions')) : null;
  return [table({
    testid: 'fleet-rollouts',
    headers: ['Series', 'Version', 'State', 'Progress', 'Traffic', 'Next step', 'Started'],
    rows,
    empty: 'No canary or shadow in progress.',
  }), more];
}

function driftTable(drift = {}) {
  const run = (drift || {}).last_run;
  const alerts = (drift || {}).alerts || [];
  const head = run
    ? h('p', { class: 'note' }, `Last run ${fmtTime(run.finished_at || run.started_at)} UTC (${orDash(run.status)}): `
      + `${fmtInt(run.series_checked)} series checked, ${fmtInt(run.data_drifted)} data drift, `
      + `${fmtInt(run.concept_drifted)} concept drift.`)
    : h('p', { class: 'note' }, 'No drift check has run yet.');
  const rows = alerts.map((a) => h('tr', { testid: 'drift-row', dataset: { seriesId: a.series_id } },
    cell(seriesLink(a.series_id)),
    cell(orDash(a.version)),
    cell(badge(a.kind, 'drift')),
    cell(fmtNum(a.statistic), { class: 'num' }),
    cell(fmtNum(a.threshold), { class: 'num' }),
    cell(fmtInt(a.sample_size), { class: 'num' }),
    cell(fmtTime(a.checked_at))));
  const more = drift && drift.alerts_total > rows.length
    ? h('p', { class: 'note' }, `${fmtInt(rows.length)} of ${fmtInt(drift.alerts_total)} alerts shown.`) : null;
  return [head, table({
    testid: 'fleet-drift',
    headers: ['Series', 'Version', 'Kind', 'Statistic', 'Threshold', 'Sample', 'Checked (UTC)'],
    rows,
    empty: 'No drift found by the latest run.',
  }), more];
}

function rollbackTable(items = []) {
  const rows = (items || []).map((p) => h('tr', { testid: 'rollback-row', dataset: { promotionId: p.promotion_id } },
    cell(seriesLink(p.series_id)),
    cell(`${orDash(p.version)} (champion ${orDash(p.champion_version)})`),
    cell(orDash(p.strategy)),
    cell(badge(p.state)),
    cell(orDash(p.reason), { class: 'reason' }),
    cell(fmtTime(p.finished_at), { title: fmtAge(p.finished_at) })));
  return table({
    testid: 'fleet-rollbacks',
    headers: ['Series', 'Version', 'Strategy', 'State', 'Reason', 'Finished (UTC)'],
    rows,
    empty: 'No rollbacks or rejections.',
  });
}
