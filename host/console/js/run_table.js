// The table of runs that the job page, the runs page and "running now" share: state,
// trigger, node, scheduled vs started (lateness), duration and reason.

import { h, badge, table } from './dom.js';
import { when, duration, between } from './format.js';

/** `/jobs/NAME/runs/ID` for an execution. */
export function runLink(execution) {
  return `#/jobs/${encodeURIComponent(execution.job_name)}/runs/${execution.id}`;
}

/** How long after its scheduled instant it started, or null (manual, not started). */
export function lateness(execution) {
  return between(execution.scheduled_at, execution.started_at);
}

/** How long it ran (so far, while it runs). */
export function ranFor(execution) {
  if (!execution.started_at) return null;
  return between(execution.started_at, execution.finished_at || undefined);
}

/**
 * A table of `executions`; with `withJob` a job column; `actions(execution)` gives the
 * last cell (a kill button, say).
 */
export function runTable(caption, executions, { withJob = false, actions } = {}) {
  const headers = ['Run', withJob && 'Job', 'State', 'Trigger', 'Node', 'Scheduled', 'Started',
    'Duration', 'Reason', actions && h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions'))]
    .filter(Boolean);
  const { element, body } = table(caption, headers);
  for (const execution of executions) {
    const late = lateness(execution);
    body.append(h('tr', {},
      h('td', {}, h('a', { href: runLink(execution), 'aria-label': `Run ${execution.id} of ${execution.job_name}` }, `#${execution.id}`)),
      withJob ? h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(execution.job_name)}` }, execution.job_name)) : null,
      h('td', {}, badge(execution.state), execution.attempt > 1 ? h('span', { class: 'muted small' }, ` attempt ${execution.attempt}`) : null),
      h('td', {}, execution.trigger),
      h('td', {}, execution.node_name),
      h('td', {}, when(execution.scheduled_at, 'by hand')),
      h('td', {}, when(execution.started_at, 'not yet'),
        late !== null ? h('div', { class: `small ${late > 1000 ? 'bad' : 'muted'}` }, `${duration(late)} late`) : null),
      h('td', { class: 'number' }, duration(ranFor(execution))),
      h('td', { class: 'reason' }, execution.reason),
      actions ? h('td', {}, actions(execution)) : null));
  }
  if (!executions.length) {
    body.append(h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'None.')));
  }
  return element;
}
