// One job: its definition, its schedule in words with the next five fire times in its
// own time zone, counters, parent and children, tags; run now, enable/disable, edit,
// delete; and its runs, refreshed while the page is visible.

import { api, get, jobPath, query, ApiError } from '../api.js';
import { h, replace, notice, say, badge } from '../dom.js';
import { when, whenIn, count } from '../format.js';
import { every } from '../poll.js';
import { runTable } from '../run_table.js';

const RUNS_PAGE = 20;

function pairs(object) {
  const entries = Object.entries(object || {});
  if (!entries.length) return h('span', { class: 'muted' }, 'none');
  return entries.map(([key, value]) => h('span', { class: 'tag' }, `${key}=${value}`));
}

function definitionList(rows) {
  return h('dl', { class: 'facts' }, rows.filter(Boolean).map(([term, detail]) =>
    [h('dt', {}, term), h('dd', {}, detail)]));
}

export function render(main, { args: [name], navigate }) {
  document.title = `${name} · Sandcron`;
  const status = notice();
  const header = h('div', { class: 'title-row' });
  const facts = h('section', { class: 'card', 'aria-labelledby': 'facts-title' });
  const schedule = h('section', { class: 'card', 'aria-labelledby': 'schedule-title' });
  const runs = h('section', { 'aria-labelledby': 'runs-title' });
  const definition = h('details', { class: 'card' }, h('summary', {}, 'Definition (JSON)'));
  let job = null;
  let runsPage = 0;
  let shownSchedule = null;
  replace(main, header, status, h('div', { class: 'columns' }, facts, schedule), runs, definition);

  async function act(label, request) {
    say(status, `${label}…`, 'info');
    try {
      const answer = await request();
      return answer;
    } catch (error) {
      say(status, `${label} refused: ${error.message}`, 'error');
      return null;
    }
  }

  async function runNow() {
    const answer = await act('Starting a run', () => api('POST', jobPath(name, 'run')));
    if (answer) {
      say(status, '', 'info');
      navigate(`/jobs/${encodeURIComponent(name)}/runs/${answer.data.id}`);
    }
  }

  async function toggle() {
    const answer = await act(job.disabled ? 'Enabling' : 'Disabling', () => api('POST', jobPath(name, 'toggle')));
    if (answer) {
      say(status, answer.data.disabled ? 'Disabled: it will not run by its schedule.' : 'Enabled.', 'info');
      poll.now();
    }
  }

  async function remove() {
    if (!window.confirm(`Delete job ${name} and its runs?`)) return;
    const answer = await act('Deleting', () => api('DELETE', jobPath(name)));
    if (answer) navigate('/jobs');
  }

  function showJob() {
    replace(header,
      h('div', {},
        h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' /'),
        h('h1', {}, job.name, ' ', badge(job.status), job.disabled ? badge('disabled') : null),
        job.displayname ? h('p', { class: 'lede' }, job.displayname) : null),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', onclick: runNow }, 'Run now'),
        h('button', { type: 'button', onclick: toggle }, job.disabled ? 'Enable' : 'Disable'),
        h('a', { class: 'button', href: `#/jobs/${encodeURIComponent(name)}/edit` }, 'Edit'),
        h('button', { type: 'button', class: 'danger', onclick: remove }, 'Delete')));
    replace(facts, h('h2', { id: 'facts-title' }, 'Job'), definitionList([
      ['Executor', h('code', {}, job.executor)],
      ['Successes', count(job.success_count)],
      ['Errors', count(job.error_count)],
      ['Last success', when(job.last_success)],
      ['Last error', when(job.last_error)],
      ['Parent', job.parent_job
        ? h('a', { href: `#/jobs/${encodeURIComponent(job.parent_job)}` }, job.parent_job)
        : h('span', { class: 'muted' }, 'none')],
      ['Children', job.dependent_jobs.length
        ? job.dependent_jobs.map((child) => h('a', { class: 'tag', href: `#/jobs/${encodeURIComponent(child)}` }, child))
        : h('span', { class: 'muted' }, 'none')],
      ['Tags', pairs(job.tags)],
      ['Metadata', pairs(job.metadata)],
      ['Concurrency', job.concurrency],
      ['Retries', String(job.retries)],
      job.owner && ['Owner', job.owner_email ? `${job.owner} <${job.owner_email}>` : job.owner],
    ]));
    replace(definition, h('summary', {}, 'Definition (JSON)'),
      h('pre', { class: 'json' }, JSON.stringify(job, null, 2)));
    const key = `${job.schedule}|${job.timezone}|${job.next}`;
    if (key !== shownSchedule) {
      shownSchedule = key;
      showSchedule();
    }
  }

  async function showSchedule() {
    const rows = [['Schedule', h('code', {}, job.schedule)]];
    let zone = job.timezone || 'UTC';
    let times = [];
    try {
      // The job's own next tick first, then the ones the schedule gives after it.
      const preview = await get(`/v1/schedule/preview${query({
        schedule: job.schedule, timezone: job.timezone, name: job.name,
        count: job.next ? 4 : 5, after: job.next || '',
      })}`);
      zone = preview.timezone;
      rows.push(['In words', preview.description]);
      times = preview.next.map((fire) => fire.at);
    } catch (error) {
      rows.push(['In words', h('span', { class: 'bad' }, error.message)]);
    }
    if (job.next) times.unshift(job.next);
    if (job.expires_at) times = times.filter((at) => at <= job.expires_at);
    rows.push(['Time zone', zone]);
    replace(schedule, h('h2', { id: 'schedule-title' }, 'Schedule'), definitionList(rows),
      h('h3', {}, `Next fire times (${zone})`),
      job.disabled ? h('p', { class: 'muted' }, 'Disabled: these come only once it is enabled.') : null,
      times.length
        ? h('ol', { class: 'fire-times' }, times.slice(0, 5).map((at) => h('li', {}, whenIn(at, zone))))
        : h('p', { class: 'muted' }, 'It does not fire by itself.'));
  }

  async function load() {
    try {
      job = (await api('GET', jobPath(name))).data;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        document.title = 'Not found · Sandcron';
        replace(main, h('h1', {}, 'Not found'),
          h('p', { class: 'notice error', role: 'alert' }, error.message), h('a', { href: '#/jobs' }, 'All jobs'));
        poll.stop();
        return;
      }
      say(status, error.message, 'error');
      return;
    }
    showJob();
    const { data, total } = await api('GET', `${jobPath(name, 'executions')}${query({
      _start: runsPage * RUNS_PAGE, _end: (runsPage + 1) * RUNS_PAGE, output_size_limit: 0,
    })}`);
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of runs' },
      h('button', { type: 'button', disabled: runsPage === 0, onclick: () => { runsPage -= 1; poll.now(); } }, '← Newer'),
      h('span', { class: 'muted' }, total ? `${count(runsPage * RUNS_PAGE + 1)}–${count(runsPage * RUNS_PAGE + data.length)} of ${count(total)}` : ''),
      h('button', { type: 'button', disabled: (runsPage + 1) * RUNS_PAGE >= total, onclick: () => { runsPage += 1; poll.now(); } }, 'Older →'));
    replace(runs, h('h2', { id: 'runs-title' }, 'Runs'), h('div', { class: 'scroll' }, runTable(`Runs of ${name}`, data)), pager);
  }

  const poll = every(2000, load);
  return () => poll.stop();
}
