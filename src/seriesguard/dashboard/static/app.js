// The shell: who is calling, hash routing (#/fleet, #/series/<id>, #/jobs, #/promotions,
// #/login, each with its query), the view's life cycle, and polling that stops while the
// tab is hidden.
import { api, clearToken, onUnauthorized, token } from './api.js';
import { byTestId, replace } from './dom.js';
import { toast } from './ui.js';
import { fleetView } from './fleet.js';
import { seriesView } from './series.js';
import { jobsView } from './jobs.js';
import { promotionsView } from './promotions.js';
import { loginView } from './login.js';

const VIEWS = {
  fleet: fleetView,
  series: seriesView,
  jobs: jobsView,
  promotions: promotionsView,
  login: loginView,
};
const NAV = { fleet: 'nav-fleet', series: 'nav-fleet', jobs: 'nav-jobs', promotions: 'nav-promotions' };
// An older server without api/v1/me: show everything; the API still decides.
const UNKNOWN_CALLER = {
  subject: null, roles: [], permissions: null, authenticated: false, auth_enabled: false,
};

const main = byTestId(document, 'view');
const state = { me: null, current: null, loginMessage: '' };

export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const mark = raw.indexOf('?');
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const query = Object.fromEntries(new URLSearchParams(mark < 0 ? '' : raw.slice(mark + 1)));
  const [name, ...rest] = path.split('/');
  let arg = rest.join('/');
  try { arg = decodeURIComponent(arg); } catch { /* keep it as typed */ }
  return { name: VIEWS[name] ? name : 'fleet', arg, query };
}

// Defaults (page 1, stage "all") stay out of the hash: links stay short and stable.
function isDefault(key, value) {
  return value === null || value === undefined || value === '' || value === 'all'
    || (key === 'page' && String(value) === '1');
}

export function hashOf(name, arg, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (!isDefault(key, value)) params.set(key, String(value));
  }
  const tail = params.toString();
  return `#/${name}${arg ? `/${encodeURIComponent(arg)}` : ''}${tail ? `?${tail}` : ''}`;
}

function needsLogin(me) {
  return Boolean(me && me.auth_enabled && !me.authenticated);
}

function can(permission) {
  const granted = state.me && state.me.permissions;
  return granted === null || granted === undefined || granted.includes(permission);
}

async function loadMe() {
  try {
    state.me = await api('api/v1/me', { quiet401: true });
  } catch (error) {
    if (error.status === 401) {
      clearToken();
      state.loginMessage = error.message;
      state.me = { ...UNKNOWN_CALLER, auth_enabled: true };
    } else {
      state.me = UNKNOWN_CALLER;
      if (error.status !== 404) toast(`Who am I: ${error.message}`, { error: true });
    }
  }
  renderWho();
}

function renderWho() {
  const me = state.me || UNKNOWN_CALLER;
  const roles = me.roles && me.roles.length ? me.roles.join(', ') : 'no role';
  const who = me.subject ? `${me.subject} (${roles})` : 'not logged in';
  const node = byTestId(document, 'whoami');
  replace(node, me.auth_enabled || !state.me ? who : `${who} · auth off`);
  byTestId(document, 'logout').hidden = !token();
}

function setTitle(text) {
  replace(byTestId(document, 'page-title'), text);
  document.title = `${text} · seriesguard`;
}

function markNav(name) {
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.testid === NAV[name]) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

// Repeats fn every ms while the view lives; skipped while the tab is hidden, and run at once
// when it shows again.
function makePoller(view) {
  const pollers = [];
  const poll = (fn, ms) => {
    const job = { fn, ms, timer: null, running: false, stopped: false };
    job.tick = async () => {
      job.timer = null;
      if (job.stopped || document.hidden) return;
      job.running = true;
      try { await fn(); } catch (error) { console.warn('poll failed', error); }
      job.running = false;
      if (!job.stopped) job.timer = setTimeout(job.tick, ms);
    };
    job.stop = () => { job.stopped = true; clearTimeout(job.timer); };
    job.timer = setTimeout(job.tick, ms);
    pollers.push(job);
    return job.stop;
  };
  view.resume = () => {
    for (const job of pollers) {
      if (!job.stopped && !job.running && job.timer === null) job.tick();
    }
  };
  view.stopPolling = () => pollers.forEach((job) => job.stop());
  return poll;
}

function mount(route) {
  if (state.current) {
    state.current.stopPolling();
    state.current.controller?.destroy?.();
  }
  const view = VIEWS[route.name];
  const record = { route, controller: null };
  const alive = () => state.current === record;
  const ctx = {
    root: main,
    route,
    me: state.me,
    can,
    alive,
    title: (text) => alive() && setTitle(text),
    loading: () => alive() && (main.dataset.ready = 'false'),
    ready: () => alive() && (main.dataset.ready = 'true'),
    poll: makePoller(record),
    // Query state goes into the hash: pushed (back works) or replaced (typing).
    setQuery: (query, { replace: quietly = false } = {}) => {
      const next = hashOf(route.name, route.arg, query);
      if (quietly) {
        history.replaceState(null, '', next);
        record.route = { ...route, query };
        record.controller?.update?.(query);
      } else {
        location.hash = next;
      }
    },
    navigate: (hash) => { location.hash = hash; },
    loggedIn: async () => { await loadMe(); },
    loginMessage: () => state.loginMessage,
  };
  state.current = record;
  main.dataset.ready = 'false';
  main.dataset.view = route.name;
  replace(main);
  markNav(route.name);
  setTitle(view.title(route));
  record.controller = view.mount(ctx) || null;
}

async function route() {
  const target = parseHash();
  if (state.me === null) await loadMe();
  if (target.name !== 'login' && needsLogin(state.me)) {
    location.replace(hashOf('login', '', { next: location.hash || '#/fleet' }));
    return;
  }
  const current = state.current;
  const same = current && current.route.name === target.name && current.route.arg === target.arg;
  if (same && current.controller?.update) {
    current.route = target;
    current.controller.update(target.query);
    return;
  }
  mount(target);
}

function logout(message = '') {
  clearToken();
  state.me = null;
  state.loginMessage = message;
  renderWho();
  if (parseHash().name === 'login') mount(parseHash());
  else location.hash = hashOf('login', '', { next: location.hash || '#/fleet' });
}

onUnauthorized((error) => {
  toast(`Log in again: ${error.message}`, { error: true });
  logout(error.message);
});

byTestId(document, 'logout').addEventListener('click', () => logout(''));
byTestId(document, 'toast').addEventListener('click', (event) => { event.currentTarget.hidden = true; });
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) state.current?.resume?.();
});
window.addEventListener('hashchange', () => { route(); });
route();
