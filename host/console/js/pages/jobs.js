// Jobs: the paged list, filtered, searched and sorted by the server (`GET /v1/jobs`
// with `q`, `status`, `disabled`, `executor`, `metadata[KEY]`, `_sort`, `_order`,
// `_start`, `_end`), with the count of matches. The filters live in the page's address.

import { api, get, query } from '../api.js';
import { h, replace, field, notice, say, badge } from '../dom.js';
import { when, count, plural } from '../format.js';
import { every } from '../poll.js';

const PAGE = 50;

/** [sort key, column title]; null key: not sortable. */
const COLUMNS = [
  ['name', 'Name'],
  ['schedule', 'Schedule'],
  [null, 'Executor'],
  [null, 'Status'],
  ['next', 'Next run'],
  ['last_success', 'Last success'],
  ['last_error', 'Last error'],
  ['success_count', 'Successes'],
  ['error_count', 'Errors'],
];

const STATUSES = [['', 'Any status'], ['success', 'Success'], ['failed', 'Failed'],
  ['partially_failed', 'Partly failed'], ['untriggered', 'Never run']];

/** `team=ops, env=prod` as metadata pairs; the text that is not `k=v` is ignored. */
function metadataPairs(text) {
  return (text || '').split(',').map((pair) => pair.split('=').map((s) => s.trim()))
    .filter(([key, value]) => key && value !== undefined);
}

export function render(main, { params }) {
  document.title = 'Jobs · Sandcron';
  const state = {
    q: params.get('q') || '',
    status: params.get('status') || '',
    disabled: params.get('disabled') || '',
    executor: params.get('executor') || '',
    meta: params.get('meta') || '',
    sort: params.get('sort') || 'name',
    order: params.get('order') || 'asc',
    page: Math.max(Number(params.get('page')) || 0, 0),
  };

  const search = h('input', { type: 'search', value: state.q, placeholder: 'part of a name', autocomplete: 'off' });
  const status = h('select', {}, STATUSES.map(([value, label]) =>
    h('option', { value, selected: value === state.status }, label)));
  const disabled = h('select', {},
    h('option', { value: '' }, 'Enabled or not'),
    h('option', { value: 'false', selected: state.disabled === 'false' }, 'Enabled'),
    h('option', { value: 'true', selected: state.disabled === 'true' }, 'Disabled'));
  const executor = h('select', {}, h('option', { value: '' }, 'Any executor'));
  const meta = h('input', { type: 'text', value: state.meta, placeholder: 'team=ops, env=prod', autocomplete: 'off' });
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
    field('Search', search, { name: 'q' }),
    field('Status', status, { name: 'status' }),
    field('Enabled', disabled, { name: 'disabled' }),
    field('Executor', executor, { name: 'executor' }),
    field('Metadata', meta, { name: 'metadata' }));
  filters.addEventListener('submit', (event) => event.preventDefault());
  const summary = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' });
  const problem = notice('error');
  const head = h('tr');
  const body = h('tbody');
  const list = h('table', { class: 'jobs' }, h('caption', { class: 'visually-hidden' }, 'Jobs'),
    h('thead', {}, head), body);
  const previous = h('button', { type: 'button' }, '← Previous');
  const next = h('button', { type: 'button' }, 'Next →');
  replace(main,
    h('div', { class: 'title-row' }, h('h1', {}, 'Jobs'),
      h('a', { class: 'button primary', href: '#/jobs/new' }, 'New job')),
    filters, problem, summary, h('div', { class: 'scroll' }, list),
    h('nav', { class: 'pager', 'aria-label': 'Pages of jobs' }, previous, next));

  get('/v1/executors').then((all) => {
    for (const { name } of all) {
      executor.append(h('option', { value: name, selected: name === state.executor }, name));
    }
  }).catch(() => {});

  function headers() {
    replace(head, COLUMNS.map(([key, title]) => {
      if (!key) return h('th', { scope: 'col' }, title);
      const active = state.sort === key;
      const order = active ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none';
      return h('th', { scope: 'col', 'aria-sort': order },
        h('button', {
          type: 'button', class: 'sort',
          title: `Sort by ${title.toLowerCase()}`,
          onclick: () => {
            state.order = active && state.order === 'asc' ? 'desc' : 'asc';
            state.sort = key;
            changed(true);
          },
        }, title, h('span', { 'aria-hidden': 'true' }, active ? (state.order === 'asc' ? ' ▲' : ' ▼') : '')));
    }));
  }

  /** The filters changed: remember them in the address, go back to page one, reload. */
  function changed(keepPage = false) {
    if (!keepPage) state.page = 0;
    const fragment = `#/jobs${query({
      q: state.q, status: state.status, disabled: state.disabled, executor: state.executor,
      meta: state.meta, sort: state.sort === 'name' ? '' : state.sort,
      order: state.order === 'asc' ? '' : state.order, page: state.page || '',
    })}`;
    history.replaceState(null, '', fragment);
    headers();
    poll.now();
  }

  let typing = null;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.q = search.value.trim(); changed(); }, 250);
  });
  meta.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.meta = meta.value; changed(); }, 400);
  });
  status.addEventListener('change', () => { state.status = status.value; changed(); });
  disabled.addEventListener('change', () => { state.disabled = disabled.value; changed(); });
  executor.addEventListener('change', () => { state.executor = executor.value; changed(); });
  previous.addEventListener('click', () => { state.page -= 1; changed(true); });
  next.addEventListener('click', () => { state.page += 1; changed(true); });

  let loading = 0;
  async function load() {
    const ticket = ++loading;
    const params = {
      q: state.q, status: state.status, disabled: state.disabled, executor: state.executor,
      _sort: state.sort, _order: state.order.toUpperCase(),
      _start: state.page * PAGE, _end: (state.page + 1) * PAGE,
    };
    for (const [key, value] of metadataPairs(state.meta)) params[`metadata[${key}]`] = value;
    try {
      const { data, total } = await api('GET', `/v1/jobs${query(params)}`);
      if (ticket !== loading) return; // a newer request is on its way
      say(problem, '');
      show(data, total);
    } catch (error) {
      if (ticket === loading) say(problem, error.message, 'error');
    }
  }

  function show(jobs, total) {
    const first = state.page * PAGE;
    summary.textContent = total === 0
      ? 'No job matches.'
      : `${count(first + 1)}–${count(first + jobs.length)} of ${plural(total, 'job')}`;
    previous.disabled = state.page === 0;
    next.disabled = first + jobs.length >= total;
    replace(body, jobs.map((job) => h('tr', { class: job.disabled ? 'disabled' : '' },
      h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(job.name)}` }, job.name),
        job.displayname ? h('div', { class: 'muted small' }, job.displayname) : null),
      h('td', {}, h('code', {}, job.schedule)),
      h('td', {}, job.executor),
      h('td', {}, badge(job.status), job.disabled ? badge('disabled') : null),
      h('td', {}, when(job.next)),
      h('td', {}, when(job.last_success)),
      h('td', {}, when(job.last_error)),
      h('td', { class: 'number' }, count(job.success_count)),
      h('td', { class: 'number' }, count(job.error_count)))));
  }

  headers();
  const poll = every(3000, load);
  return () => {
    clearTimeout(typing);
    poll.stop();
  };
}
