// #/login: paste a bearer token; it is checked against api/v1/me before it is kept.
import { api, clearToken, setToken } from './api.js';
import { h } from './dom.js';

export const loginView = { title: () => 'Log in', mount };

function mount(ctx) {
  const next = safeNext(ctx.route.query.next);
  const error = h('p', { testid: 'login-error', class: 'login-error', role: 'alert' });
  const showError = (message) => {
    error.textContent = message;
    error.hidden = !message;
  };
  showError(ctx.loginMessage());
  const field = h('textarea', {
    testid: 'login-token', id: 'login-token', rows: '5', required: true,
    spellcheck: 'false', autocomplete: 'off', placeholder: 'eyJhbGciOi…',
  });
  const submit = h('button', { type: 'submit', testid: 'login-submit', class: 'primary' }, 'Log in');
  const form = h('form', { testid: 'login-form', class: 'login-form', novalidate: true },
    h('label', { for: 'login-token' }, 'Bearer token (JWT) from your identity provider'),
    field, error, h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = field.value.trim().replace(/^Bearer\s+/i, '');
    if (!value) {
      showError('Paste a token first.');
      return;
    }
    submit.disabled = true;
    ctx.loading();
    setToken(value);
    try {
      const me = await api('api/v1/me', { quiet401: true });
      if (me && me.auth_enabled && !me.authenticated) throw new Error('the server did not accept the token');
      showError('');
      await ctx.loggedIn();
      ctx.navigate(next);
    } catch (failure) {
      clearToken();
      showError(`Not logged in: ${failure.message}`);
      await ctx.loggedIn();
      ctx.ready();
    } finally {
      submit.disabled = false;
    }
  });

  const notes = [];
  if (ctx.me && ctx.me.auth_enabled === false) {
    notes.push(h('p', { class: 'note' }, 'Authentication is off on this server: no token is needed. ',
      h('a', { href: '#/fleet' }, 'Go to the fleet')));
  }
  ctx.root.append(h('section', { class: 'panel login' }, h('h2', {}, 'Log in'), notes, form));
  field.focus();
  ctx.ready();
}

// Only a hash route of this page: never a URL elsewhere.
function safeNext(value) {
  return typeof value === 'string' && value.startsWith('#/') && !value.startsWith('#/login')
    ? value : '#/fleet';
}
