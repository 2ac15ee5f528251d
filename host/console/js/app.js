// The console's frame: sign-in, the navigation, and a router on the URL's fragment
// (`#/jobs/backup`), so that every page has an address to bookmark or share. The token
// is never part of it.

import { api, session, ApiError } from './api.js';
import { h, replace, field, notice, say } from './dom.js';
import * as overview from './pages/overview.js';
import * as jobs from './pages/jobs.js';
import * as job from './pages/job.js';
import * as jobForm from './pages/job_form.js';
import * as runs from './pages/runs.js';
import * as run from './pages/run.js';
import * as executors from './pages/executors.js';
import * as secrets from './pages/secrets.js';
import * as tenants from './pages/tenants.js';

/** [section, label, shown to tenants too]. */
const SECTIONS = [
  ['overview', 'Overview', true],
  ['jobs', 'Jobs', true],
  ['runs', 'Runs', true],
  ['running', 'Running now', true],
  ['executors', 'Executors', true],
  ['secrets', 'Secrets', true],
  ['tenants', 'Tenants', false],
];

/** [pattern of the path, page module, the arguments the pattern captures]. */
const ROUTES = [
  [/^\/overview$/, overview],
  [/^\/jobs$/, jobs],
  [/^\/jobs\/new$/, jobForm],
  [/^\/jobs\/([^/]+)\/edit$/, jobForm],
  [/^\/jobs\/([^/]+)\/runs\/(\d+)$/, run],
  [/^\/jobs\/([^/]+)$/, job],
  [/^\/runs$/, runs, ['all']],
  [/^\/running$/, runs, ['running']],
  [/^\/executors$/, executors],
  [/^\/secrets$/, secrets],
  [/^\/tenants$/, tenants],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const whoami = document.getElementById('whoami');
let leave = null;

/** The fragment as a path and its parameters: `#/jobs?q=a` is ('/jobs', {q: 'a'}). */
function location() {
  const fragment = window.location.hash.replace(/^#/, '') || '/overview';
  const [path, search = ''] = fragment.split('?');
  return { path, params: new URLSearchParams(search) };
}

/** Goes to `fragment` (`/jobs/backup`). */
export function navigate(fragment) {
  window.location.hash = `#${fragment}`;
}

function showNav() {
  const { path } = location();
  const section = path.split('/')[1];
  const items = SECTIONS.filter(([, , tenantsToo]) => tenantsToo || session.caller.admin)
    .map(([name, label]) => h('a', {
      href: `#/${name}`,
      'aria-current': name === section ? 'page' : null,
    }, label));
  replace(nav, items);
  nav.hidden = false;
  replace(whoami,
    h('span', { title: 'The tenant this token acts as' },
      session.caller.tenant, session.caller.admin ? h('span', { class: 'badge badge-admin' }, 'admin') : null),
    h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'));
  whoami.hidden = false;
}

async function route() {
  if (leave) {
    leave();
    leave = null;
  }
  if (!session.token || !session.caller) {
    signInPage();
    return;
  }
  showNav();
  const { path, params } = location();
  for (const [pattern, page, fixed = []] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    const args = [...fixed, ...match.slice(1).map(decodeURIComponent)];
    replace(main);
    try {
      leave = page.render(main, { args, params, navigate, caller: session.caller }) || null;
    } catch (error) {
      replace(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'notice error' }, String(error)));
    }
    return;
  }
  document.title = 'Not found · Sandcron';
  replace(main, h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('code', {}, path), '. ',
    h('a', { href: '#/overview' }, 'Go to the overview.')));
}

function signInPage(message) {
  nav.hidden = true;
  whoami.hidden = true;
  document.title = 'Sign in · Sandcron';
  const token = h('input', {
    type: 'password', name: 'token', autocomplete: 'current-password', required: true,
    spellcheck: 'false', autocapitalize: 'off',
  });
  const status = notice('error');
  const form = h('form', { class: 'card sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('p', {}, 'Use an API token: the admin token ', h('code', {}, 'sandcron serve'),
      ' printed on its first start (also in ', h('code', {}, '~/.local/share/sandcron/admin-token'),
      '), or a tenant token an admin made for you.'),
    field('API token', token, { name: 'token' }),
    status,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    session.token = token.value.trim();
    try {
      await identify();
      route();
    } catch (error) {
      session.token = null;
      say(status, error instanceof ApiError && error.status === 401
        ? 'The server does not know this token.' : error.message, 'error');
      token.select();
    }
  });
  replace(main, form);
  if (message) say(status, message, 'error');
  token.focus();
}

/** Asks the server whom the token stands for. */
async function identify() {
  const { data } = await api('GET', '/v1');
  session.caller = { tenant: data.caller.tenant, admin: data.caller.admin, node: data.agent.name };
}

function signOut() {
  session.token = null;
  session.caller = null;
  if (leave) leave();
  leave = null;
  signInPage();
}

session.onUnauthorized = (message) => {
  if (!session.caller) return; // signing in: the form says why
  session.token = null;
  session.caller = null;
  signInPage(`Signed out: ${message}`);
};

window.addEventListener('hashchange', () => {
  route();
  main.focus({ preventScroll: true });
});

(async () => {
  if (session.token) {
    try {
      await identify();
    } catch {
      session.token = null;
    }
  }
  route();
})();
