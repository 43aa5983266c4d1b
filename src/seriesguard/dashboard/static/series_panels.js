// The side panels of #/series/<id>: the rollout in progress, serving metrics, quality
// against ground truth, and the drift verdicts with their evidence.
import { h } from './dom.js';
import {
  DASH, fmtAge, fmtInt, fmtMs, fmtNum, fmtPercent, fmtRate, fmtTime, missing, orDash,
} from './format.js';
import { rolloutProgress } from './fleet.js';
import { badge, cell, progress, table } from './ui.js';

function figure(label, value, testid) {
  return [h('dt', {}, label), h('dd', { testid }, value)];
}

// actions: {pause, resume, rollback} click handlers, or null where the caller may not.
export function rolloutPanel(p, actions) {
  const paused = p.state === 'paused';
  const running = p.state === 'canary' || p.state === 'shadow';
  const gate = p.last_gate || null;
  const reasons = gate && Array.isArray(gate.reasons) ? gate.reasons.join('; ') : null;
  const due = p.next_increment_at || p.verdict_at;
  const buttons = [
    actions.pause && running ? h('button', { type: 'button', testid: 'rollout-pause', onclick: actions.pause }, 'Pause') : null,
    actions.resume && paused ? h('button', { type: 'button', testid: 'rollout-resume', onclick: actions.resume }, 'Resume') : null,
    actions.rollback ? h('button', { type: 'button', testid: 'rollout-rollback', class: 'danger', onclick: actions.rollback }, 'Roll back') : null,
  ];
  return h('section', { class: 'panel rollout', testid: 'rollout-panel', dataset: { promotionId: p.promotion_id } },
    h('h2', {}, `${p.strategy === 'shadow' ? 'Shadow' : 'Canary'} rollout of ${orDash(p.version)}`),
    h('dl', { class: 'figures wide' },
      figure('State', badge(p.state), 'rollout-state'),
      figure('Progress', progress(rolloutProgress(p), 'rollout-progress')),
      figure('Traffic to new version', fmtPercent(p.current_percentage), 'rollout-percentage'),
      figure('Champion', orDash(p.champion_version)),
      figure(p.verdict_at ? 'Verdict' : 'Next step', due ? `${fmtAge(due)} (${fmtTime(due)} UTC)` : DASH),
      figure('Started', `${fmtTime(p.created_at)} UTC by ${orDash(p.created_by)}`),
      figure('Last gate', gate ? `${orDash(gate.outcome)}${reasons ? `: ${reasons}` : ''}` : DASH),
      p.reason ? figure('Reason', p.reason) : null),
    h('div', { class: 'actions' }, buttons,
      h('a', { href: `#/promotions?series=${encodeURIComponent(p.series_id)}` }, 'history')));
}

export function metricsPanel(metrics, failure) {
  const m = metrics || {};
  const latency = m.latency_ms || {};
  const versions = (m.versions || []).map((v) => h('tr', {},
    cell(`v${v.version}`), cell(fmtInt(v.requests), { class: 'num' }),
    cell(fmtRate(v.error_rate), { class: 'num' }), cell(fmtRate(v.anomaly_rate), { class: 'num' }),
    cell(fmtMs((v.latency_ms || {}).p99), { class: 'num' })));
  return h('section', { class: 'panel', testid: 'metrics-panel' },
    h('h2', {}, `Serving (${m.window || '24h'})`),
    failure ? h('p', { class: 'note' }, failure.message) : null,
    h('dl', { class: 'figures' },
      figure('Requests', fmtInt(m.requests), 'metric-requests'),
      figure('Request rate', missing(m.request_rate) ? DASH : `${fmtNum(m.request_rate, 3)}/s`, 'metric-request-rate'),
      figure('Error rate', fmtRate(m.error_rate), 'metric-error-rate'),
      figure('Latency p50 / p99', `${fmtMs(latency.p50)} / ${fmtMs(latency.p99)}`, 'metric-latency'),
      figure('Anomaly rate', fmtRate(m.anomaly_rate), 'metric-anomaly-rate')),
    versions.length > 1 ? table({
      headers: ['Version', 'Requests', 'Errors', 'Anomalies', 'p99'], rows: versions, className: 'compact',
    }) : null);
}

export function qualityPanel(metrics) {
  const q = (metrics && metrics.quality) || {};
  const labelled = q.labelled || 0;
  return h('section', { class: 'panel', testid: 'quality-panel' },
    h('h2', {}, 'Quality against ground truth'),
    h('dl', { class: 'figures' },
      figure('Precision', labelled ? fmtRate(q.precision) : DASH, 'quality-precision'),
      figure('Recall', labelled ? fmtRate(q.recall) : DASH, 'quality-recall'),
      figure('Labelled points', fmtInt(labelled)),
      figure('TP / FP / FN', labelled ? `${fmtInt(q.tp)} / ${fmtInt(q.fp)} / ${fmtInt(q.fn)}` : DASH)),
    labelled ? null : h('p', { class: 'note' }, 'No ground truth in this window (POST api/v1/feedback/<series>).'));
}

function verdict(v) {
  if (!v) return badge(null);
  const text = v.reason ? v.reason.replace(/_/g, ' ') : v.detected ? 'drift' : DASH;
  return badge(text, 'verdict');
}

function evidence(v, statisticName) {
  if (!v) return DASH;
  const parts = [`${statisticName} ${fmtNum(v.statistic)}`, `threshold ${fmtNum(v.threshold)}`,
    `${fmtInt(v.sample_size)} recent`, `${fmtInt(v.reference_size)} reference`];
  for (const [key, label] of [['baseline_rate', 'reference rate'], ['current_rate', 'rate now'],
    ['baseline_precision', 'precision before'], ['current_precision', 'precision now']]) {
    if (!missing(v[key])) parts.push(`${label} ${fmtRate(v[key])}`);
  }
  if (!missing(v.p_value)) parts.push(`p ${fmtNum(v.p_value, 2)}`);
  return parts.join(' · ');
}

export function driftPanel(metrics) {
  const d = (metrics && metrics.drift_detection) || null;
  const rows = d ? [
    ['Data (PSI)', d.data_drift, 'PSI', 'drift-data'],
    ['Concept (anomaly rate)', d.concept_drift, 'z', 'drift-concept'],
    ['Precision drop', d.precision_drop, 'drop', 'drift-precision'],
  ].map(([label, v, statistic, testid]) => h('tr', { testid },
    cell(label), cell(verdict(v), { class: 'verdict' }), cell(evidence(v, statistic)))) : [];
  return h('section', { class: 'panel', testid: 'drift-panel' },
    h('h2', {}, `Drift${d && d.version ? ` of v${d.version}` : ''}`),
    table({ headers: ['Test', 'Verdict', 'Evidence'], rows, empty: 'No drift figures yet.', className: 'compact' }));
}
