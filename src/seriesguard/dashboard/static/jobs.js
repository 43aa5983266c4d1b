// #/jobs: training jobs, filtered by status and series, paged; queued and running jobs can be
// cancelled by whoever may (their own with cancel_own_job, any with cancel_any_job).
import { api, seg } from './api.js';
import { h, replace } from './dom.js';
import { fmtInt, fmtTime, orDash } from './format.js';
import { JOB_STATUSES, PAGE_SIZE } from './fleet.js';
import {
  act, badge, cell, confirmDialog, debounce, errorNote, pager, panel, seriesLink, table, toast,
} from './ui.js';

const POLL_MS = 5000;
const CANCELLABLE = new Set(['queued', 'processing']);

export const jobsView = { title: () => 'Jobs', mount };

function normalise(query) {
  const page = Number.parseInt(query.page, 10);
  return {
    status: JOB_STATUSES.includes(query.status) ? query.status : '',
    series: query.series || '',
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

function mount(ctx) {
  let query = normalise(ctx.route.query);
  let key = null;
  let request = 0;
  const status = h('select', { testid: 'jobs-status-filter', 'aria-label': 'Status' },
    h('option', { value: '' }, 'All statuses'),
    JOB_STATUSES.map((value) => h('option', { value, selected: value === query.status }, value)));
  const series = h('input', {
    type: 'search', testid: 'jobs-series-filter', placeholder: 'Series id (exact)',
    value: query.series, 'aria-label': 'Series id', autocomplete: 'off',
  });
  const total = h('span', { class: 'muted', testid: 'jobs-total' });
  const list = h('div');
  const pages = h('div');
  status.addEventListener('change', () => ctx.setQuery({ ...query, status: status.value, page: 1 }));
  series.addEventListener('input', debounce(() => {
    ctx.setQuery({ ...query, series: series.value.trim(), page: 1 }, { replace: true });
  }, 300));
  ctx.root.append(panel('Training jobs', h('div', { class: 'filters' }, status, series, total), list, pages));

  async function load({ quiet = false } = {}) {
    const mine = ++request;
    try {
      const page = await api('api/v1/training/jobs', {
        query: {
          status: query.status || null,
          series_id: query.series || null,
          limit: PAGE_SIZE,
          offset: (query.page - 1) * PAGE_SIZE,
        },
      });
      if (mine !== request || !ctx.alive()) return;
      const next = JSON.stringify([page, query]);
      if (next === key) return;
      key = next;
      render(page);
    } catch (error) {
      if (mine !== request || !ctx.alive() || quiet) return;
      key = null;
      replace(list, errorNote(error));
      replace(pages);
      toast(error.message, { error: true });
    }
  }

  function mayCancel(job) {
    if (!CANCELLABLE.has(job.status)) return false;
    if (ctx.can('cancel_any_job')) return true;
    const me = ctx.me || {};
    return ctx.can('cancel_own_job') && job.submitted_by !== null && job.submitted_by === me.subject;
  }

  async function cancel(button, job) {
    const ok = await confirmDialog(`Cancel job ${job.job_id} (${job.series_id}, ${job.status})?`, { ok: 'Cancel job', danger: true });
    if (!ok) return;
    const done = await act(button, () => api(`api/v1/training/jobs/${seg(job.job_id)}`, { method: 'DELETE' }),
      (r) => `Job ${r.job_id} is ${r.status}.`);
    if (done) { key = null; load(); }
  }

  function render(page) {
    replace(total, `${fmtInt(page.total)} jobs`);
    const rows = (page.items || []).map((job) => h('tr', { testid: 'job-row', dataset: { jobId: job.job_id, status: job.status } },
      cell(job.job_id, { class: 'mono', title: job.job_id }),
      cell(seriesLink(job.series_id)),
      cell(badge(job.status, 'job'), { testid: 'job-status' }),
      cell(orDash(job.algorithm)),
      cell(fmtInt(job.training_points), { class: 'num' }),
      cell(orDash(job.model_version)),
      cell(orDash(job.submitted_by)),
      cell(fmtTime(job.created_at)),
      cell(fmtTime(job.finished_at)),
      cell(orDash(job.error), { class: 'reason' }),
      cell(mayCancel(job) ? h('button', { type: 'button', testid: 'job-cancel', class: 'danger', onclick: (e) => cancel(e.currentTarget, job) }, 'Cancel') : null)));
    replace(list, table({
      testid: 'jobs-table',
      headers: ['Job', 'Series', 'Status', 'Algorithm', 'Points', 'Version', 'By', 'Created (UTC)', 'Finished (UTC)', 'Error', ''],
      rows,
      empty: 'No jobs match.',
    }));
    replace(pages, pager({
      page: query.page, size: PAGE_SIZE, total: page.total,
      onPage: (next) => ctx.setQuery({ ...query, page: next }),
    }));
  }

  load().finally(() => ctx.ready());
  ctx.poll(() => load({ quiet: true }), POLL_MS);
  return {
    update(next) {
      query = normalise(next);
      status.value = query.status;
      if (document.activeElement !== series) series.value = query.series;
      ctx.loading();
      load().finally(() => ctx.ready());
    },
  };
}
