// Runs across every job (`GET /v1/executions`, newest first, filtered by state), and
// "running now" (`GET /v1/busy`: this node's running executions, each with a kill
// button). Both refresh every two seconds while the page is visible.

import { api, get, jobPath, query } from '../api.js';
import { h, replace, notice, say, field } from '../dom.js';
import { every } from '../poll.js';
import { runTable } from '../run_table.js';

const PAGE = 50;
const STATES = [['', 'Any state'], ['scheduled', 'Scheduled'], ['running', 'Running'],
  ['succeeded', 'Succeeded'], ['failed', 'Failed']];

export function render(main, { args: [which], params }) {
  return which === 'running' ? running(main) : all(main, params);
}

function all(main, params) {
  document.title = 'Runs · Sandcron';
  let page = Math.max(Number(params.get('page')) || 0, 0);
  const state = h('select', {}, STATES.map(([value, label]) =>
    h('option', { value, selected: value === (params.get('state') || '') }, label)));
  const status = notice('error');
  const list = h('div', { class: 'scroll' });
  const newer = h('button', { type: 'button' }, '← Newer');
  const older = h('button', { type: 'button' }, 'Older →');
  replace(main, h('h1', {}, 'Runs'),
    h('p', { class: 'lede' }, 'Every job\'s runs, newest first.'),
    h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter runs', onsubmit: (e) => e.preventDefault() },
      field('State', state, { name: 'state' })),
    status, list, h('nav', { class: 'pager', 'aria-label': 'Pages of runs' }, newer, older));

  function changed() {
    history.replaceState(null, '', `#/runs${query({ state: state.value, page: page || '' })}`);
    poll.now();
  }
  state.addEventListener('change', () => { page = 0; changed(); });
  newer.addEventListener('click', () => { page -= 1; changed(); });
  older.addEventListener('click', () => { page += 1; changed(); });

  async function load() {
    try {
      const runs = await get(`/v1/executions${query({
        state: state.value, _start: page * PAGE, _end: (page + 1) * PAGE, output_size_limit: 0,
      })}`);
      say(status, '');
      replace(list, runTable('Runs of every job', runs, { withJob: true }));
      newer.disabled = page === 0;
      older.disabled = runs.length < PAGE;
    } catch (error) {
      say(status, error.message, 'error');
    }
  }
  const poll = every(2000, load);
  return () => poll.stop();
}

function running(main) {
  document.title = 'Running now · Sandcron';
  const status = notice();
  const list = h('div', { class: 'scroll' });
  replace(main, h('h1', {}, 'Running now'),
    h('p', { class: 'lede' }, 'The executions running on this node.'), status, list);

  async function kill(execution) {
    try {
      await api('POST', jobPath(execution.job_name, 'executions', execution.id, 'kill'));
      say(status, `Kill sent to run #${execution.id} of ${execution.job_name}.`, 'info');
      poll.now();
    } catch (error) {
      say(status, `Kill refused: ${error.message}`, 'error');
    }
  }

  async function load() {
    const busy = await get('/v1/busy');
    replace(list, runTable('Running executions', busy, {
      withJob: true,
      actions: (execution) => h('button', {
        type: 'button', class: 'danger small', onclick: () => kill(execution),
        'aria-label': `Kill run ${execution.id} of ${execution.job_name}`,
      }, 'Kill'),
    }));
  }
  const poll = every(2000, load);
  return () => poll.stop();
}
