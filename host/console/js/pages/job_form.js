// Creating or editing a job: a form for the fields people change most, the executor
// picked from the server's list with its documented config keys offered, a JSON view
// for everything else, the schedule checked and previewed as it is typed, and each of
// the API's refusals shown next to the field it names.

import { api, get, jobPath, query, ApiError } from '../api.js';
import { h, replace, field, notice, say, showFieldError, clearFieldErrors } from '../dom.js';
import { whenIn } from '../format.js';

/** What the API adds to a job on output; never sent back. */
const READ_ONLY = ['id', 'status', 'next', 'success_count', 'error_count', 'last_success',
  'last_error', 'dependent_jobs'];

const NEW_JOB = {
  name: '', schedule: '@every 1m', timezone: '', executor: 'shell', executor_config: {},
  disabled: false, concurrency: 'allow', retries: 0,
};

function pairsText(object) {
  return Object.entries(object || {}).map(([key, value]) => `${key}=${value}`).join(', ');
}

function textPairs(text) {
  const object = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) object[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return object;
}

export function render(main, { args: [editing], navigate }) {
  document.title = `${editing ? `Edit ${editing}` : 'New job'} · Sandcron`;
  let base = { ...NEW_JOB };
  let executors = [];
  const inputs = {
    name: h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', pattern: '[a-z0-9_\\-]+' }),
    displayname: h('input', { type: 'text', autocomplete: 'off' }),
    schedule: h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' }),
    timezone: h('input', { type: 'text', list: 'zones', autocomplete: 'off', placeholder: 'UTC' }),
    executor: h('select', { required: true }),
    concurrency: h('select', {}, h('option', { value: 'allow' }, 'allow: runs may overlap'),
      h('option', { value: 'forbid' }, 'forbid: skip a tick while a run is going')),
    retries: h('input', { type: 'number', min: 0, step: 1, inputmode: 'numeric' }),
    timeout: h('input', { type: 'text', placeholder: 'none, or 30s, 5m, 1h', autocomplete: 'off' }),
    parent_job: h('input', { type: 'text', autocomplete: 'off', placeholder: 'none' }),
    tags: h('input', { type: 'text', autocomplete: 'off', placeholder: 'role=worker:2' }),
    metadata: h('input', { type: 'text', autocomplete: 'off', placeholder: 'team=ops, env=prod' }),
    disabled: h('input', { type: 'checkbox' }),
  };
  const zones = h('datalist', { id: 'zones' },
    (Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : []).map((zone) => h('option', { value: zone })));
  const keyNames = h('datalist', { id: 'config-keys' });
  const preview = h('div', { class: 'preview', 'aria-live': 'polite' });
  const configRows = h('div', { class: 'config-rows' });
  const configHelp = h('p', { class: 'hint' });
  const configSection = h('fieldset', { class: 'config', dataset: { field: 'executor_config' } },
    h('legend', {}, 'Executor config'), configHelp, configRows,
    h('p', { class: 'field-error', role: 'alert' }),
    h('button', { type: 'button', onclick: () => addRow('', '', true) }, 'Add a key'));
  configSection.classList.add('field');
  const json = h('textarea', { rows: 24, spellcheck: 'false', class: 'json' });
  const jsonRow = field('The job as JSON', json, { name: 'json', hint: 'Every field of the job: env, retry_backoff, grants, starts_at, expires_at, misfire, processors…' });
  jsonRow.hidden = true;
  const status = notice('error');
  const modeButton = h('button', { type: 'button', onclick: switchMode, 'aria-pressed': 'false' }, 'Edit as JSON');
  const formFields = h('div', { class: 'form-fields' },
    field('Name', inputs.name, { name: 'name', hint: 'Lower-case letters, digits, - and _.' }),
    field('Display name', inputs.displayname, { name: 'displayname' }),
    field('Schedule', inputs.schedule, { name: 'schedule', hint: 'Cron (5 or 6 fields), @daily, @every 10m, @at 2026-01-01T00:00:00Z, @manually.' }),
    preview,
    field('Time zone', inputs.timezone, { name: 'timezone', hint: 'An IANA zone such as Europe/Berlin; empty is UTC.' }),
    field('Executor', inputs.executor, { name: 'executor' }),
    configSection,
    field('Overlapping runs', inputs.concurrency, { name: 'concurrency' }),
    field('Retries', inputs.retries, { name: 'retries' }),
    field('Timeout', inputs.timeout, { name: 'timeout' }),
    field('Parent job', inputs.parent_job, { name: 'parent_job', hint: 'Runs after each success of this job instead of by its schedule alone.' }),
    field('Tags', inputs.tags, { name: 'tags', hint: 'Which nodes run it: key=value[:count], comma-separated.' }),
    field('Metadata', inputs.metadata, { name: 'metadata', hint: 'key=value, comma-separated.' }),
    h('div', { class: 'field checkbox', dataset: { field: 'disabled' } },
      h('label', {}, inputs.disabled, ' Disabled (does not run by its schedule)')));
  // Inert until the executors and the job are in it: typing before would be overwritten.
  const form = h('form', { class: 'card job-form', novalidate: true, inert: true },
    status, formFields, jsonRow, zones, keyNames,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, editing ? 'Save' : 'Create'),
      modeButton,
      h('a', { class: 'button', href: editing ? `#/jobs/${encodeURIComponent(editing)}` : '#/jobs' }, 'Cancel')));
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' /',
      editing ? [' ', h('a', { href: `#/jobs/${encodeURIComponent(editing)}` }, editing), ' /'] : null),
    h('h1', {}, editing ? `Edit ${editing}` : 'New job'), form);

  function addRow(key, value, focus = false) {
    const keyInput = h('input', { type: 'text', list: 'config-keys', value: key, 'aria-label': 'Key', autocomplete: 'off', spellcheck: 'false' });
    const valueInput = h('textarea', { rows: 1, 'aria-label': 'Value', spellcheck: 'false' });
    valueInput.value = value;
    const about = h('p', { class: 'hint' });
    const row = h('div', { class: 'config-row' }, keyInput, valueInput,
      h('button', { type: 'button', class: 'link', 'aria-label': 'Remove this key', onclick: () => row.remove() }, 'Remove'),
      about);
    const describe = () => {
      const documented = documentedKeys().find((k) => k.name === keyInput.value.trim());
      about.textContent = documented ? `${documented.description} Default: ${documented.default}.` : '';
      keyInput.setAttribute('aria-label', `Key${documented ? ` (${documented.name})` : ''}`);
    };
    keyInput.addEventListener('input', describe);
    describe();
    configRows.append(row);
    if (focus) keyInput.focus();
  }

  function documentedKeys() {
    return executors.find((e) => e.name === inputs.executor.value)?.keys || [];
  }

  function showExecutorKeys() {
    const keys = documentedKeys();
    replace(keyNames, keys.map((key) => h('option', { value: key.name }, key.default)));
    const executor = executors.find((e) => e.name === inputs.executor.value);
    configHelp.textContent = keys.length
      ? `Keys of ${executor.name}: ${keys.map((k) => k.name).join(', ')} (see docs/executors/${executor.name}.md).`
      : executor ? `${executor.name} is an upload: its keys are what its author documents.` : '';
    if (!configRows.children.length) {
      for (const key of keys.filter((k) => k.default === 'required')) addRow(key.name, '');
    }
    for (const row of configRows.querySelectorAll('input')) row.dispatchEvent(new Event('input'));
  }

  /** The job the form says, over everything the form does not show. */
  function fromForm() {
    const job = { ...base };
    for (const key of ['name', 'displayname', 'schedule', 'timezone', 'executor', 'concurrency', 'timeout', 'parent_job']) {
      job[key] = inputs[key].value.trim();
    }
    job.retries = Number(inputs.retries.value || 0);
    job.disabled = inputs.disabled.checked;
    job.tags = textPairs(inputs.tags.value);
    job.metadata = textPairs(inputs.metadata.value);
    job.executor_config = {};
    for (const row of configRows.children) {
      const [key, value] = row.querySelectorAll('input, textarea');
      if (key.value.trim()) job.executor_config[key.value.trim()] = value.value;
    }
    return job;
  }

  function toForm(job) {
    base = { ...job };
    for (const key of READ_ONLY) delete base[key];
    for (const key of ['name', 'displayname', 'schedule', 'timezone', 'concurrency', 'timeout', 'parent_job']) {
      inputs[key].value = job[key] ?? '';
    }
    inputs.concurrency.value = job.concurrency || 'allow';
    inputs.retries.value = job.retries ?? 0;
    inputs.disabled.checked = Boolean(job.disabled);
    inputs.tags.value = pairsText(job.tags);
    inputs.metadata.value = pairsText(job.metadata);
    if (job.executor && ![...inputs.executor.options].some((o) => o.value === job.executor)) {
      inputs.executor.append(h('option', { value: job.executor }, job.executor));
    }
    inputs.executor.value = job.executor || '';
    replace(configRows);
    for (const [key, value] of Object.entries(job.executor_config || {})) addRow(key, value);
    showExecutorKeys();
    schedulePreview();
  }

  let jsonMode = false;
  function switchMode() {
    clearFieldErrors(form);
    say(status, '');
    if (!jsonMode) {
      json.value = JSON.stringify(fromForm(), null, 2);
    } else {
      try {
        toForm(JSON.parse(json.value));
      } catch (error) {
        showFieldError(form, 'json', `Not JSON: ${error.message}`);
        return;
      }
    }
    jsonMode = !jsonMode;
    formFields.hidden = jsonMode;
    jsonRow.hidden = !jsonMode;
    modeButton.textContent = jsonMode ? 'Edit as form' : 'Edit as JSON';
    modeButton.setAttribute('aria-pressed', String(jsonMode));
    (jsonMode ? json : inputs.name).focus();
  }

  let previewTimer = null;
  let previewTicket = 0;
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      const ticket = ++previewTicket;
      for (const name of ['schedule', 'timezone']) {
        const row = form.querySelector(`[data-field="${name}"]`);
        row.classList.remove('invalid');
        row.querySelector('.field-error').textContent = '';
        row.querySelector('input').removeAttribute('aria-invalid');
      }
      if (!inputs.schedule.value.trim()) {
        replace(preview);
        return;
      }
      try {
        const answer = await get(`/v1/schedule/preview${query({
          schedule: inputs.schedule.value, timezone: inputs.timezone.value.trim(),
          name: inputs.name.value.trim(), count: 5,
        })}`);
        if (ticket !== previewTicket) return;
        replace(preview, h('p', {}, h('strong', {}, answer.description), ` (${answer.timezone}).`),
          answer.next.length
            ? [h('p', { class: 'muted small' }, 'Next fire times:'),
              h('ol', { class: 'fire-times' }, answer.next.map((fire) => h('li', {}, whenIn(fire.at, answer.timezone))))]
            : h('p', { class: 'muted small' }, 'It never fires by itself.'));
      } catch (error) {
        if (ticket !== previewTicket) return;
        replace(preview);
        if (!(error instanceof ApiError) || !showFieldError(form, error.field || 'schedule', error.message)) {
          say(status, error.message, 'error');
        }
      }
    }, 300);
  }
  inputs.schedule.addEventListener('input', schedulePreview);
  inputs.timezone.addEventListener('input', schedulePreview);
  inputs.executor.addEventListener('change', showExecutorKeys);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    say(status, '');
    let job;
    if (jsonMode) {
      try {
        job = JSON.parse(json.value);
      } catch (error) {
        showFieldError(form, 'json', `Not JSON: ${error.message}`);
        json.focus();
        return;
      }
    } else {
      job = fromForm();
    }
    for (const key of READ_ONLY) delete job[key];
    try {
      if (!editing) {
        const taken = await api('GET', jobPath(job.name || '-')).then(() => true, () => false);
        if (taken) throw new ApiError(409, `name: there is already a job called ${job.name}`, 'name');
      }
      const saved = await api('PUT', jobPath(editing || job.name || '-'), { body: job });
      navigate(`/jobs/${encodeURIComponent(saved.data.name)}`);
    } catch (error) {
      const shown = error instanceof ApiError && error.field && !jsonMode
        && showFieldError(form, error.field.split(/[.[]/)[0], error.message);
      if (shown) {
        form.querySelector('.field.invalid input, .field.invalid select, .field.invalid textarea')?.focus();
      } else {
        say(status, error.message, 'error');
      }
    }
  });

  (async () => {
    try {
      executors = await get('/v1/executors');
      replace(inputs.executor, executors.map((e) => h('option', { value: e.name },
        e.builtin ? `${e.name} (built-in)` : `${e.name} (upload, v${e.version})`)));
      toForm(editing ? (await api('GET', jobPath(editing))).data : NEW_JOB);
      form.inert = false;
      if (editing) {
        inputs.name.readOnly = true;
        inputs.schedule.focus();
      } else {
        inputs.name.focus();
      }
    } catch (error) {
      say(status, error.message, 'error');
    } finally {
      form.inert = false;
    }
  })();

  return () => clearTimeout(previewTimer);
}
