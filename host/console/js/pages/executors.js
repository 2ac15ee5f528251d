// Executors: the built-ins (with their documented keys) and the tenant's uploads with
// versions and sizes, each with the capabilities it asks for next to what is denied; uploading
// a component by file picker or drag and drop, the server's refusal shown as it gives
// it; deleting an upload.

import { api, get } from '../api.js';
import { h, replace, field, notice, say, table, badge } from '../dom.js';
import { when, bytes, plural } from '../format.js';

/** A name the API accepts, from a file name: `My Executor.wasm` → `my-executor`. */
function nameOf(fileName) {
  return fileName.replace(/\.wasm$/i, '').toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
}

export function render(main) {
  document.title = 'Executors · Sandcron';
  const status = notice();
  const uploads = h('section', { 'aria-labelledby': 'uploads-title' });
  const builtIns = h('section', { 'aria-labelledby': 'builtins-title' });
  const fileInput = h('input', { type: 'file', accept: '.wasm,application/wasm' });
  const nameInput = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', required: true });
  const chosen = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'No file chosen.');
  const uploadStatus = notice();
  let file = null;
  const drop = h('div', { class: 'drop', tabindex: '-1' },
    h('p', {}, 'Drop a component (.wasm) here, or choose one:'), field('Component file', fileInput, { name: 'file' }), chosen);
  const form = h('form', { class: 'card upload', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload a component'),
    h('p', { class: 'hint' }, 'Built with the SDK (docs/sdk.md). Each upload of a name adds a version; jobs name it as ',
      h('code', {}, 'name'), ' (latest) or ', h('code', {}, 'name@2'), '.'),
    drop,
    field('Executor name', nameInput, { name: 'name', hint: 'Lower-case letters, digits, - and _.' }),
    uploadStatus,
    h('button', { type: 'submit', class: 'primary' }, 'Upload'));
  replace(main, h('h1', {}, 'Executors'), status, uploads, form, builtIns);

  function choose(picked) {
    file = picked;
    chosen.textContent = file ? `${file.name}, ${bytes(file.size)}` : 'No file chosen.';
    if (file && !nameInput.value) nameInput.value = nameOf(file.name);
  }
  fileInput.addEventListener('change', () => choose(fileInput.files[0] || null));
  for (const type of ['dragenter', 'dragover']) {
    drop.addEventListener(type, (event) => { event.preventDefault(); drop.classList.add('over'); });
  }
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    if (event.dataTransfer.files.length) choose(event.dataTransfer.files[0]);
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!file) {
      say(uploadStatus, 'Choose a component file first.', 'error');
      return;
    }
    say(uploadStatus, `Uploading ${file.name}…`, 'info');
    try {
      const { data } = await api('PUT', `/v1/executors/${encodeURIComponent(nameInput.value.trim())}`,
        { body: file, contentType: 'application/wasm' });
      say(uploadStatus, [`Uploaded ${data.name} version ${data.version}.`, ...(data.warnings || [])].join(' '),
        data.warnings?.length ? 'warning' : 'success');
      file = null;
      form.reset();
      chosen.textContent = 'No file chosen.';
      load();
    } catch (error) {
      say(uploadStatus, `Refused: ${error.message}`, 'error');
    }
  });

  async function remove(name) {
    if (!window.confirm(`Delete executor ${name}, every version?`)) return;
    try {
      await api('DELETE', `/v1/executors/${encodeURIComponent(name)}`);
      say(status, `Deleted ${name}.`, 'info');
      load();
    } catch (error) {
      say(status, `Delete refused: ${error.message}`, 'error');
    }
  }

  async function versions(name, cell) {
    const all = await get(`/v1/executors/${encodeURIComponent(name)}`);
    replace(cell, h('ul', { class: 'versions' }, all.map((v) => h('li', {},
      `v${v.version} · ${bytes(v.size)} · `, h('code', { title: v.sha256 }, v.sha256.slice(0, 12)), ' · ', when(v.created_at)))));
  }

  function capabilities(executor) {
    const denied = executor.warnings || [];
    const asked = executor.capabilities || [];
    if (!asked.length) return h('span', { class: 'muted' }, 'none');
    return asked.map((capability) => {
      const why = denied.find((warning) => warning.startsWith(`${capability}:`));
      return h('span', { class: `tag ${why ? 'denied' : 'granted'}`, title: why || `${capability}: granted` },
        why ? `✗ ${capability}` : `✓ ${capability}`);
    });
  }

  async function load() {
    let all;
    try {
      all = await get('/v1/executors');
    } catch (error) {
      say(status, error.message, 'error');
      return;
    }
    const mine = all.filter((e) => !e.builtin);
    const up = table('Uploaded executors', ['Name', 'Latest', 'Size', 'Capabilities (✓ granted, ✗ denied)', 'Uploaded', 'Versions', h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions'))]);
    for (const executor of mine) {
      const versionsCell = h('td', {}, h('button', { type: 'button', class: 'link', onclick: (e) => versions(executor.name, e.target.parentNode) }, 'Show'));
      up.body.append(h('tr', {},
        h('td', {}, h('strong', {}, executor.name)),
        h('td', {}, `v${executor.version}`),
        h('td', {}, bytes(executor.size)),
        h('td', {}, capabilities(executor)),
        h('td', {}, when(executor.created_at)),
        versionsCell,
        h('td', {}, h('button', { type: 'button', class: 'danger small', onclick: () => remove(executor.name), 'aria-label': `Delete ${executor.name}` }, 'Delete'))));
    }
    if (!mine.length) up.body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No upload yet.')));
    replace(uploads, h('h2', { id: 'uploads-title' }, 'Uploads'), h('div', { class: 'scroll' }, up.element));

    const builtIn = table('Built-in executors', ['Name', 'What it does', 'Capabilities (✓ granted, ✗ denied)', 'Config keys']);
    for (const executor of all.filter((e) => e.builtin)) {
      builtIn.body.append(h('tr', {},
        h('td', {}, h('strong', {}, executor.name), ' ', badge('built-in', 'builtin')),
        h('td', {}, executor.summary),
        h('td', {}, capabilities(executor)),
        h('td', {}, h('details', {}, h('summary', {}, plural((executor.keys || []).length, 'key')),
          h('dl', { class: 'keys' }, (executor.keys || []).map((key) => [
            h('dt', {}, h('code', {}, key.name), h('span', { class: 'muted small' }, ` default ${key.default}`)),
            h('dd', {}, key.description)]))))));
    }
    replace(builtIns, h('h2', { id: 'builtins-title' }, 'Built in'), h('div', { class: 'scroll' }, builtIn.element));
  }
  load();
  return null;
}
