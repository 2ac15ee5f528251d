// Tenants (admin only): every tenant with its grants and quotas; create a tenant, make
// a token for one (shown once, only its hash is kept), replace its grants or quotas as
// JSON, each refusal shown next to what it names.

import { api, get } from '../api.js';
import { h, replace, field, notice, say, showFieldError, clearFieldErrors } from '../dom.js';
import { when } from '../format.js';

export function render(main, { caller }) {
  document.title = 'Tenants · Sandcron';
  if (!caller.admin) {
    replace(main, h('h1', {}, 'Tenants'), h('p', { class: 'notice error', role: 'alert' }, 'This page needs an admin token.'));
    return null;
  }
  const status = notice();
  const list = h('div', { class: 'tenants' });
  const name = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', required: true });
  const createStatus = notice();
  const create = h('form', { class: 'card', 'aria-labelledby': 'create-title' },
    h('h2', { id: 'create-title' }, 'New tenant'),
    field('Name', name, { name: 'name', hint: 'A slug: lower-case letters, digits, - and _. It starts with no grant at all.' }),
    createStatus,
    h('button', { type: 'submit', class: 'primary' }, 'Create'));
  replace(main, h('h1', {}, 'Tenants'), status, list, create);

  create.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors(create);
    try {
      await api('POST', '/v1/tenants', { body: { name: name.value.trim() } });
      say(createStatus, `Created ${name.value.trim()}.`, 'success');
      create.reset();
      load();
    } catch (error) {
      if (!showFieldError(create, error.field, error.message)) say(createStatus, error.message, 'error');
    }
  });

  function jsonEditor(tenant, what, current) {
    const text = h('textarea', { rows: 4, spellcheck: 'false', class: 'json' });
    text.value = JSON.stringify(current, null, 2);
    const saved = notice();
    const form = h('form', { class: 'inline-json' },
      field(what === 'grants' ? `Grants of ${tenant}` : `Quotas of ${tenant}`, text, {
        name: what,
        hint: what === 'grants'
          ? '{"http": ["https://api.example.com"], "process": ["pg_dump"], "secrets": ["API_KEY"]}'
          : '{"max_jobs": 100, "max_concurrent_executions": 5}',
      }),
      saved,
      h('button', { type: 'submit' }, `Save ${what}`));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      let body;
      try {
        body = JSON.parse(text.value || '{}');
      } catch (error) {
        showFieldError(form, what, `Not JSON: ${error.message}`);
        return;
      }
      try {
        await api('PUT', `/v1/tenants/${encodeURIComponent(tenant)}/${what}`, { body });
        say(saved, 'Saved.', 'success');
      } catch (error) {
        showFieldError(form, what, error.message);
      }
    });
    return form;
  }

  async function token(tenant, box) {
    try {
      const { data } = await api('POST', `/v1/tenants/${encodeURIComponent(tenant)}/tokens`);
      const shown = h('input', { type: 'text', readonly: true, value: data.token, class: 'token', 'aria-label': `New token of ${tenant}` });
      replace(box, h('div', { class: 'notice success', role: 'status' },
        h('p', {}, `A token for ${tenant}, shown this once (only its SHA-256 is kept):`), shown,
        h('button', { type: 'button', class: 'small', onclick: () => navigator.clipboard?.writeText(data.token) }, 'Copy')));
      shown.select();
    } catch (error) {
      replace(box, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  async function load() {
    try {
      const tenants = await get('/v1/tenants');
      replace(list, tenants.map((tenant) => {
        const tokenBox = h('div');
        const isDefault = tenant.name === 'default';
        return h('article', { class: 'card tenant', 'aria-labelledby': `tenant-${tenant.name}` },
          h('div', { class: 'title-row' },
            h('h2', { id: `tenant-${tenant.name}` }, tenant.name, tenant.name === caller.tenant ? h('span', { class: 'muted small' }, ' (yours)') : null),
            h('button', { type: 'button', onclick: () => token(tenant.name, tokenBox) }, 'New token')),
          h('p', { class: 'muted small' }, 'Created ', when(tenant.created_at)),
          tokenBox,
          isDefault
            ? h('p', { class: 'hint' }, 'The default tenant gets the server\'s grants (serve --allow).')
            : jsonEditor(tenant.name, 'grants', tenant.grants || {}),
          jsonEditor(tenant.name, 'quotas', tenant.quotas || {}));
      }));
    } catch (error) {
      say(status, error.message, 'error');
    }
  }
  load();
  return null;
}
