// Overview: this node's last hour (executions per second, failures, start lateness
// p99) as charts, what runs now, and, for an admin, the cluster's members.

import { get } from '../api.js';
import { h, replace, table, badge, notice, say } from '../dom.js';
import { barChart } from '../chart.js';
import { ago, count, duration } from '../format.js';
import { every } from '../poll.js';

const minuteFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function render(main, { caller }) {
  document.title = 'Overview · Sandcron';
  const charts = h('div', { class: 'charts' });
  const totals = h('p', { class: 'totals' });
  const members = h('section', { 'aria-labelledby': 'members-title' });
  const status = notice('error');
  const scope = caller.admin ? 'node' : 'tenant';
  replace(main,
    h('h1', {}, 'Overview'),
    h('p', { class: 'lede' }, caller.admin
      ? 'The last hour on this node, every tenant together.'
      : `The last hour of tenant ${caller.tenant}'s executions on this node.`),
    status, totals, charts, members);

  async function load() {
    try {
      const [stats, busy] = await Promise.all([
        get(`/v1/stats?scope=${scope}`),
        get('/v1/busy'),
      ]);
      say(status, '');
      showStats(stats, busy.length);
      if (caller.admin) showMembers(await get('/v1/members'));
    } catch (error) {
      say(status, error.message, 'error');
    }
  }

  function showStats(stats, running) {
    const label = (minute) => minuteFormat.format(new Date(minute.minute));
    const perSecond = stats.minutes.map((m) => ({ label: label(m), value: m.started / 60 }));
    const failures = stats.minutes.map((m) => ({ label: label(m), value: m.failed }));
    const lateness = stats.minutes.map((m) => ({ label: label(m), value: m.lateness_p99_ms }));
    const sum = (key) => stats.minutes.reduce((total, m) => total + m[key], 0);
    const rate = (n) => `${n < 10 ? n.toFixed(2) : Math.round(n)}/s`;
    const charted = [
      ['Executions per second', perSecond, rate, 'ok'],
      ['Failures per minute', failures, (n) => count(n), 'bad'],
      ['Start lateness p99', lateness, (ms) => duration(ms), 'late'],
    ];
    replace(charts, charted.map(([title, points, format, kind]) => {
      const { chart } = barChart(title, points, format, kind);
      return h('figure', { class: 'card chart-card' }, h('figcaption', {}, title), chart);
    }));
    replace(totals,
      h('span', {}, h('strong', {}, count(sum('started'))), ' started'),
      h('span', {}, h('strong', {}, count(sum('succeeded'))), ' succeeded'),
      h('span', {}, h('strong', { class: sum('failed') ? 'bad' : '' }, count(sum('failed'))), ' failed'),
      h('span', {}, ' in the last hour · '),
      h('a', { href: '#/running' }, h('strong', {}, count(running)), ' running now'));
  }

  function showMembers(list) {
    const { element, body } = table('Members of the cluster',
      ['Node', 'Address', 'Tags', 'Status', 'Last heartbeat', 'Up since']);
    for (const member of list) {
      const tags = Object.entries(member.tags || {});
      body.append(h('tr', {},
        h('td', {}, member.name, member.name === caller.node ? h('span', { class: 'muted' }, ' (this node)') : null),
        h('td', {}, h('code', {}, member.address)),
        h('td', {}, tags.length ? tags.map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`)) : h('span', { class: 'muted' }, 'none')),
        h('td', {}, badge(member.status)),
        h('td', { title: member.last_heartbeat }, ago(member.last_heartbeat)),
        h('td', {}, ago(member.started_at))));
    }
    replace(members, h('h2', { id: 'members-title' }, 'Members'), h('div', { class: 'scroll' }, element));
  }

  const poll = every(5000, load);
  return () => poll.stop();
}
