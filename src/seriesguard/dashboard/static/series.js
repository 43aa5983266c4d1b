// #/series/<id>: versions and stages with the actions the caller may take, the rollout in
// progress (polled every 3 s while one runs), serving metrics, quality, drift, and the plot.
import { api, apiBlob, queryString, seg, token } from './api.js';
import { h, replace } from './dom.js';
import { fmtNum, fmtTime, orDash } from './format.js';
import { createPlot, legend } from './plot.js';
import { driftPanel, metricsPanel, qualityPanel, rolloutPanel } from './series_panels.js';
import { act, cell, confirmDialog, errorNote, panel, table, toast } from './ui.js';

const ROLLOUT_POLL_MS = 3000;
const RECENT_POINTS = 500;

export const seriesView = { title: () => 'Series', mount };

function mount(ctx) {
  const id = ctx.route.arg;
  const base = `api/v1/models/${seg(id)}`;
  const state = {
    detail: null, promotion: null, detailKey: null, stopPolling: null, canaryFor: null, ending: false,
  };
  let plot = null;
  const header = h('div', { class: 'series-head' });
  const versions = h('div');
  const canaryHolder = h('div');
  const rollout = h('div');
  const side = h('div', { class: 'side' });  // serving | quality | drift
  const plotBody = h('div');
  const plotTools = h('div', { class: 'plot-tools' });
  // The rollout and the plot first: they are what an operator opens the page for.
  ctx.root.append(
    header,
    rollout,
    h('section', { class: 'panel plot-panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Training data and recent points'), plotTools), plotBody),
    panel('Versions', versions, canaryHolder),
    side);

  async function loadDetail() {
    const detail = await api(base);
    let promotion = null;
    if (detail.active_promotion_id) {
      try {
        promotion = await api(`api/v1/promotions/${seg(detail.active_promotion_id)}`);
      } catch (error) {
        toast(`Rollout: ${error.message}`, { error: true });
      }
    }
    if (!ctx.alive()) return;
    const key = JSON.stringify([detail, promotion, ctx.can('promote')]);
    const finished = state.detail && state.detail.active_promotion_id && !detail.active_promotion_id;
    state.detail = detail;
    state.promotion = promotion;
    if (key !== state.detailKey) {
      state.detailKey = key;
      renderDetail();
    }
    if (finished) {
      if (!state.ending) toast(`The rollout of ${id} has ended.`);
      state.ending = false;
      loadMetrics();
    }
    watchRollout(Boolean(detail.active_promotion_id));
  }

  function watchRollout(active) {
    if (active && !state.stopPolling) {
      state.stopPolling = ctx.poll(() => Promise.all([loadDetail(), loadMetrics()]), ROLLOUT_POLL_MS);
    } else if (!active && state.stopPolling) {
      state.stopPolling();
      state.stopPolling = null;
    }
  }

  async function loadMetrics() {
    let metrics = null;
    let failure = null;
    try {
      metrics = await api(`${base}/metrics`, { query: { window: '24h' } });
    } catch (error) {
      failure = error;
    }
    if (!ctx.alive()) return;
    replace(side, metricsPanel(metrics, failure), qualityPanel(metrics), driftPanel(metrics));
  }

  // With a token, a plain link would reach the image endpoint without it (401): fetch it with
  // the token and hand the browser the file instead.
  async function downloadPlot() {
    try {
      const blob = await apiBlob('api/v1/plot', { query: { series_id: id, format: 'svg' } });
      const url = URL.createObjectURL(blob);
      const anchor = h('a', { href: url, download: `${id}.svg` });
      document.body.append(anchor);
      anchor.click();
      anchor.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      toast(error.message, { error: true });
    }
  }

  async function loadPlot() {
    const link = h('a', {
      testid: 'plot-image-link', target: '_blank', rel: 'noopener',
      href: `api/v1/plot${queryString({ series_id: id, format: 'svg' })}`,
      onclick: (event) => { if (token()) { event.preventDefault(); downloadPlot(); } },
    }, 'SVG image');
    const reset = h('button', { type: 'button', testid: 'plot-reset', onclick: () => plot?.reset() }, 'Reset zoom');
    if (!ctx.can('read_data')) {
      replace(plotBody, h('p', { class: 'note' }, 'The plot shows raw training data, which your role may not read (permission read_data).'));
      return;
    }
    replace(plotTools, reset, link);
    let data;
    try {
      data = await api(`${base}/plot-data`, { query: { recent: RECENT_POINTS } });
    } catch (error) {
      if (!ctx.alive()) return;
      replace(plotBody, error.status === 403
        ? h('p', { class: 'note' }, `The plot shows raw training data, which your role may not read (${error.message}).`)
        : errorNote(error));
      return;
    }
    if (!ctx.alive()) return;
    plot?.destroy();
    plot = createPlot(data);
    const notes = (data.notes || []).map((note) => h('li', {}, note));
    replace(plotBody,
      h('p', { class: 'muted' }, `${orDash(data.version)} · ${orDash(data.algorithm)} · drag to select a range, wheel to zoom, double-click to reset · times UTC`),
      legend(data), plot.element,
      notes.length ? h('ul', { class: 'notes' }, notes) : null);
    plot.draw();
  }

  function renderDetail() {
    const d = state.detail;
    const production = d.production_version;
    const chips = [
      ['Production', production], ['Staging', d.staging_version],
      ['canary', d.canary_version ? `${d.canary_version} (${d.canary_percentage ?? '?'}%)` : null],
      ['shadow', d.shadow_version],
    ].filter(([, v]) => v).map(([stage, v]) => h('span', { class: ['chip', `stage-${stage.toLowerCase()}`] }, `${stage} ${v}`));
    const rollbackButton = ctx.can('rollback') && production
      ? h('button', { type: 'button', testid: 'rollback-btn', class: 'danger', onclick: (e) => rollbackSeries(e.currentTarget) }, 'Roll back Production')
      : null;
    replace(header,
      h('h2', { testid: 'series-title', class: 'mono' }, id),
      h('div', { class: 'chips' }, chips.length ? chips : h('span', { class: 'muted' }, 'nothing serving')),
      h('div', { class: 'actions' }, rollbackButton,
        h('a', { href: `#/jobs?series=${encodeURIComponent(id)}` }, 'jobs'),
        h('a', { href: `#/promotions?series=${encodeURIComponent(id)}` }, 'promotions')));
    replace(versions, versionsTable(d));
    replace(rollout, state.promotion ? rolloutPanel(state.promotion, rolloutActions(state.promotion)) : null);
  }

  function versionsTable(d) {
    const busy = Boolean(d.active_promotion_id);
    const rows = (d.versions || []).map((v) => {
      const staging = v.stage === 'Staging';
      const why = !staging ? 'only a Staging version can be promoted'
        : busy ? 'a rollout is in progress' : null;
      const rolloutWhy = why || (!d.production_version ? 'a canary or shadow needs a Production version to compare with' : null);
      const actions = v.stage === 'Production' || !ctx.can('promote') ? [] : [
        h('button', { type: 'button', testid: 'promote-btn', disabled: Boolean(why), title: why || 'Make this version Production now', onclick: (e) => promote(e.currentTarget, v.version) }, 'Promote'),
        h('button', { type: 'button', testid: 'canary-btn', disabled: Boolean(rolloutWhy), title: rolloutWhy || 'Start a canary rollout', onclick: () => openCanary(v.version) }, 'Canary…'),
        h('button', { type: 'button', testid: 'shadow-btn', disabled: Boolean(rolloutWhy), title: rolloutWhy || 'Start a shadow rollout', onclick: (e) => shadow(e.currentTarget, v.version) }, 'Shadow'),
      ];
      return h('tr', { testid: 'version-row', dataset: { version: v.version } },
        cell(v.version, { class: 'mono' }),
        cell(v.stage, { testid: 'version-stage', class: ['stage', `stage-${String(v.stage).toLowerCase()}`] }),
        cell(orDash(v.algorithm)),
        cell(metricsSummary(v.metrics), { class: 'metrics-summary', title: metricsTitle(v.metrics) }),
        cell(fmtTime(v.created_at)),
        cell(v.job_id ? h('a', { href: `#/jobs?series=${encodeURIComponent(id)}`, title: v.job_id }, v.job_id.slice(0, 8)) : '—', { class: 'mono' }),
        ctx.can('promote') ? cell(actions, { class: 'row-actions' }) : null);
    });
    return table({
      testid: 'versions-table',
      headers: ['Version', 'Stage', 'Algorithm', 'Metrics', 'Created (UTC)', 'Job',
        ...(ctx.can('promote') ? ['Actions'] : [])],
      rows,
      empty: 'No versions.',
    });
  }

  function canaryForm(version) {
    const number = (testid, label, value, min, max) => h('label', {}, label,
      h('input', { type: 'number', testid, value: String(value), min: String(min), max: max ? String(max) : null, step: 'any', required: true }));
    const form = h('form', { testid: 'canary-form', class: 'inline-form', novalidate: true },
      h('strong', {}, `Canary of ${version}`),
      number('canary-initial', 'Initial %', 10, 0.1, 100),
      number('canary-increment', 'Step %', 30, 0.1, 100),
      number('canary-interval-hours', 'Hours per step', 1, 0.001),
      h('button', { type: 'submit', testid: 'canary-start', class: 'primary' }, 'Start canary'),
      h('button', { type: 'button', onclick: () => { state.canaryFor = null; replace(canaryHolder); } }, 'Cancel'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const value = (testid) => Number(form.querySelector(`[data-testid="${testid}"]`).value);
      const config = {
        initial_percentage: value('canary-initial'),
        increment_percentage: value('canary-increment'),
        increment_interval_hours: value('canary-interval-hours'),
      };
      const started = await act(form.querySelector('[data-testid="canary-start"]'),
        () => api(`${base}/versions/${seg(version)}/promote`, { method: 'POST', body: { strategy: 'canary', canary_config: config } }),
        (r) => `Canary of ${version} started at ${r.current_percentage}% of traffic.`);
      if (started) { state.canaryFor = null; replace(canaryHolder); refresh(); }
    });
    return form;
  }

  function openCanary(version) {
    state.canaryFor = version;
    replace(canaryHolder, canaryForm(version));
    canaryHolder.querySelector('input')?.focus();
  }

  async function promote(button, version) {
    const current = state.detail.production_version;
    const ok = await confirmDialog(`Promote ${version} of ${id} to Production now?${current ? ` ${current} is archived.` : ''}`, { ok: 'Promote' });
    if (!ok) return;
    const done = await act(button, () => api(`${base}/versions/${seg(version)}/promote`, { method: 'POST', body: { strategy: 'direct' } }),
      (r) => `${r.version} of ${id} is Production${r.previous_version ? ` (was ${r.previous_version})` : ''}.`);
    if (done) refresh();
  }

  async function shadow(button, version) {
    const ok = await confirmDialog(`Start a shadow of ${version}: it answers every request beside Production, unseen, until its verdict.`, { ok: 'Start shadow' });
    if (!ok) return;
    const done = await act(button, () => api(`${base}/versions/${seg(version)}/promote`, { method: 'POST', body: { strategy: 'shadow' } }),
      `Shadow of ${version} started.`);
    if (done) refresh();
  }

  async function rollbackSeries(button) {
    const current = state.detail.production_version;
    const ok = await confirmDialog(`Roll back ${id}? ${current} is archived and the newest archived version serves again, at once.`, { ok: 'Roll back', danger: true });
    if (!ok) return;
    const done = await act(button, () => api(`${base}/rollback`, { method: 'POST', body: {} }),
      (r) => `${id} serves ${r.version} again (was ${orDash(r.previous_version)}).`);
    if (done) refresh();
  }

  function rolloutActions(p) {
    const call = (verb) => (event) => act(event.currentTarget,
      () => api(`api/v1/promotions/${seg(p.promotion_id)}/${verb}`, { method: 'POST', body: {} }),
      (r) => `Rollout ${r.state.replace(/_/g, ' ')}.`).then((r) => r && refresh());
    return {
      pause: ctx.can('promote') ? call('pause') : null,
      resume: ctx.can('promote') ? call('resume') : null,
      rollback: ctx.can('rollback') ? async (event) => {
        const button = event.currentTarget;
        const ok = await confirmDialog(`Roll back the ${p.strategy} of ${p.version}? The champion ${orDash(p.champion_version)} alone serves again.`, { ok: 'Roll back', danger: true });
        if (!ok) return;
        state.ending = true;
        call('rollback')({ currentTarget: button });
      } : null,
    };
  }

  function refresh() {
    state.detailKey = null;
    return Promise.allSettled([loadDetail(), loadMetrics()]);
  }

  Promise.allSettled([
    loadDetail().catch((error) => {
      replace(header, h('h2', { testid: 'series-title', class: 'mono' }, id), errorNote(error));
      replace(versions, error.status === 404 ? h('p', { class: 'note' }, 'No such series.') : null);
    }),
    loadMetrics(),
    loadPlot(),
  ]).then(() => ctx.ready());

  return { destroy: () => plot?.destroy() };
}

// The figures that tell versions apart first; every metric is in the cell's title.
const KEY_METRICS = ['threshold', 'mean', 'std', 'training_points', 'anomaly_rate'];

function metricsSummary(metrics) {
  const all = metrics || {};
  const keys = [...KEY_METRICS.filter((k) => k in all), ...Object.keys(all)];
  const shown = [...new Set(keys)].slice(0, 3);
  return shown.length ? shown.map((k) => `${k} ${fmtNum(all[k])}`).join(' · ') : '—';
}

function metricsTitle(metrics) {
  return Object.entries(metrics || {}).map(([k, v]) => `${k} ${v}`).join('\n') || null;
}
