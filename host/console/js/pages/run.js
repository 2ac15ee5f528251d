// One run: when it was scheduled, started (how late) and ended, its state, trigger,
// node and reason, and its output. While it runs the output streams live from
// `GET …/executions/ID/output` (fetch with a reader: EventSource cannot send the
// token), and a kill button stops it; once it ends, the stored output (secrets masked)
// replaces what streamed.

import { api, jobPath } from '../api.js';
import { h, replace, notice, say, badge } from '../dom.js';
import { when, duration } from '../format.js';
import { every } from '../poll.js';
import { lateness, ranFor } from '../run_table.js';

const finished = (execution) => execution.state === 'succeeded' || execution.state === 'failed';

export function render(main, { args: [name, id] }) {
  document.title = `Run ${id} of ${name} · Sandcron`;
  const status = notice();
  const facts = h('section', { class: 'card', 'aria-label': 'About this run' });
  const actions = h('div', { class: 'actions' });
  const output = h('pre', { class: 'output', tabindex: '0', 'aria-label': 'Output', 'aria-live': 'off' });
  const outputNote = h('p', { class: 'muted small', 'aria-live': 'polite' });
  const path = jobPath(name, 'executions', id);
  const controller = new AbortController();
  let streaming = false;
  let ended = false;
  replace(main,
    h('div', { class: 'title-row' },
      h('div', {},
        h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / ',
          h('a', { href: `#/jobs/${encodeURIComponent(name)}` }, name), ' /'),
        h('h1', {}, `Run #${id}`)),
      actions),
    status, facts,
    h('section', { 'aria-labelledby': 'output-title' }, h('h2', { id: 'output-title' }, 'Output'), outputNote, output));

  async function kill() {
    try {
      await api('POST', `${path}/kill`);
      say(status, 'Kill sent: the run ends as failed, reason "killed".', 'info');
      poll.now();
    } catch (error) {
      say(status, `Kill refused: ${error.message}`, 'error');
    }
  }

  function showFacts(execution) {
    const late = lateness(execution);
    replace(facts, h('dl', { class: 'facts' },
      h('dt', {}, 'State'), h('dd', { id: 'run-state' }, badge(execution.state)),
      h('dt', {}, 'Trigger'), h('dd', {}, execution.trigger),
      h('dt', {}, 'Node'), h('dd', {}, execution.node_name),
      h('dt', {}, 'Attempt'), h('dd', {}, `${execution.attempt} (group ${execution.group})`),
      h('dt', {}, 'Scheduled for'), h('dd', {}, when(execution.scheduled_at, 'started by hand')),
      h('dt', {}, 'Started'), h('dd', {}, when(execution.started_at, 'not yet'),
        late !== null ? ` (${duration(late)} late)` : ''),
      h('dt', {}, 'Finished'), h('dd', {}, when(execution.finished_at, 'not yet')),
      h('dt', {}, 'Duration'), h('dd', {}, duration(ranFor(execution))),
      execution.reason ? [h('dt', {}, 'Reason'), h('dd', { class: 'reason' }, execution.reason)] : null));
    replace(actions, finished(execution) ? null
      : h('button', { type: 'button', class: 'danger', onclick: kill }, 'Kill'));
  }

  /** Appends `text` to the output, keeping the view at the bottom if it was there. */
  function write(text) {
    const atBottom = output.scrollHeight - output.scrollTop - output.clientHeight < 40;
    output.append(document.createTextNode(text));
    if (atBottom) output.scrollTop = output.scrollHeight;
  }

  async function stream() {
    streaming = true;
    outputNote.textContent = 'Live: the output appears as it is written.';
    replace(output);
    try {
      const { response } = await api('GET', `${path}/output`, { stream: true, signal: controller.signal });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        write(value);
      }
      outputNote.textContent = 'The run ended.';
    } catch (error) {
      if (error.name === 'AbortError') return;
      outputNote.textContent = `The live output stopped: ${error.message}`;
    }
    poll.now();
  }

  async function load() {
    if (ended) return;
    let execution;
    try {
      execution = (await api('GET', path)).data;
    } catch (error) {
      say(status, error.message, 'error');
      if (error.status === 404) {
        ended = true;
        replace(facts);
        replace(actions);
      }
      return;
    }
    showFacts(execution);
    if (finished(execution)) {
      ended = true;
      replace(output, execution.output);
      outputNote.textContent = execution.output
        ? (execution.output_truncated ? 'The kept tail of the output (older output was dropped).' : '')
        : 'No output.';
      poll.stop();
    } else if (!streaming) {
      stream();
    }
  }

  const poll = every(2000, load);
  return () => {
    poll.stop();
    controller.abort();
  };
}
