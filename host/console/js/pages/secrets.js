// Secrets: names and dates only. Set a new one, replace or delete one; a value goes to
// the server and is never shown again (no route answers it).

import { api, get } from '../api.js';
import { h, replace, field, notice, say, table, showFieldError, clearFieldErrors } from '../dom.js';
import { when } from '../format.js';

export function render(main) {
  document.title = 'Secrets · Sandcron';
  const status = notice();
  const list = h('section', { 'aria-labelledby': 'secrets-title' });
  const name = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', required: true });
  const value = h('input', { type: 'password', autocomplete: 'new-password', required: true });
  const formStatus = notice();
  const form = h('form', { class: 'card', 'aria-labelledby': 'set-title' },
    h('h2', { id: 'set-title' }, 'Set a secret'),
    h('p', { class: 'hint' }, 'A job uses it as {{secret:NAME}} in its executor config; the value is masked in stored output.'),
    field('Name', name, { name: 'name', hint: 'Letters, digits, -, _ and .' }),
    field('Value', value, { name: 'value', hint: 'Sent once; never shown again.' }),
    formStatus,
    h('button', { type: 'submit', class: 'primary' }, 'Save'));
  replace(main, h('h1', {}, 'Secrets'), status, list, form);

  /** Says what the last action did, in the notice beside it, and clears the other. */
  function tell(where, text, kind) {
    say(where === status ? formStatus : status, '');
    say(where, text, kind);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    try {
      const { response } = await api('PUT', `/v1/secrets/${encodeURIComponent(name.value.trim())}`, { body: { value: value.value } });
      tell(formStatus, `${response.status === 201 ? 'Set' : 'Replaced'} ${name.value.trim()}.`, 'success');
      form.reset();
      load();
    } catch (error) {
      if (!showFieldError(form, error.field, error.message)) tell(formStatus, error.message, 'error');
    }
  });

  function replaceValue(secret) {
    name.value = secret;
    value.value = '';
    value.focus();
    tell(formStatus, `Type the new value of ${secret}.`, 'info');
  }

  async function remove(secret) {
    if (!window.confirm(`Delete secret ${secret}? Jobs that use it will fail.`)) return;
    try {
      await api('DELETE', `/v1/secrets/${encodeURIComponent(secret)}`);
      tell(status, `Deleted ${secret}.`, 'info');
      load();
    } catch (error) {
      tell(status, error.message, 'error');
    }
  }

  async function load() {
    try {
      const secrets = await get('/v1/secrets');
      const { element, body } = table('Secrets', ['Name', 'Created', 'Updated',
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions'))]);
      for (const secret of secrets) {
        body.append(h('tr', {},
          h('td', {}, h('code', {}, secret.name)),
          h('td', {}, when(secret.created_at)),
          h('td', {}, when(secret.updated_at)),
          h('td', { class: 'row-actions' },
            h('button', { type: 'button', class: 'small', onclick: () => replaceValue(secret.name), 'aria-label': `Replace ${secret.name}` }, 'Replace'),
            h('button', { type: 'button', class: 'danger small', onclick: () => remove(secret.name), 'aria-label': `Delete ${secret.name}` }, 'Delete'))));
      }
      if (!secrets.length) body.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No secret yet.')));
      replace(list, h('h2', { id: 'secrets-title', class: 'visually-hidden' }, 'Your secrets'), h('div', { class: 'scroll' }, element));
    } catch (error) {
      say(status, error.message, 'error');
    }
  }
  load();
  return null;
}
