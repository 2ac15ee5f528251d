// Building the page: elements are made with h(), and text always goes in as text (never
// as HTML), so a job's name or output can never become markup.

/** An element: h('a', {href: '#/jobs', class: 'x', onclick: fn}, 'text', child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (key === 'value' || key === 'checked' || key === 'selected') {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends children: strings become text, arrays are flattened, null is skipped. */
export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Replaces every child of `element`. */
export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

/** A <label> with its control inside a field row, and a place for the field's error. */
export function field(label, control, { hint, name } = {}) {
  const id = control.id || `f-${name || Math.random().toString(36).slice(2)}`;
  control.id = id;
  const error = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  control.setAttribute('aria-describedby', [hintEl && hintEl.id, error.id].filter(Boolean).join(' '));
  const row = h('div', { class: 'field', dataset: name ? { field: name } : {} },
    h('label', { for: id }, label), control, hintEl, error);
  return row;
}

/** Shows `message` as the error of the field row named `name` inside `form`; true when found. */
export function showFieldError(form, name, message) {
  const row = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (!row) return false;
  row.classList.add('invalid');
  const error = row.querySelector('.field-error');
  if (error) error.textContent = message;
  const control = row.querySelector('input, select, textarea');
  if (control) control.setAttribute('aria-invalid', 'true');
  return true;
}

/** Clears every field error of `form`. */
export function clearFieldErrors(form) {
  for (const row of form.querySelectorAll('.field.invalid')) {
    row.classList.remove('invalid');
    row.querySelector('.field-error').textContent = '';
    row.querySelector('[aria-invalid]')?.removeAttribute('aria-invalid');
  }
}

/** A notice (role=status, or alert for errors) that can be filled later. */
export function notice(kind = 'info') {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', hidden: true });
}

/** Fills a notice made by notice(), or hides it when `text` is empty. */
export function say(element, text, kind) {
  if (kind) element.className = `notice ${kind}`;
  if (kind === 'error') element.setAttribute('role', 'alert');
  element.hidden = !text;
  replace(element, text || '');
}

/** A table with a caption (for screen readers), a head and a body to fill. */
export function table(caption, headers) {
  const body = h('tbody');
  const element = h('table', {},
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, headers.map((header) =>
      header instanceof Node ? header : h('th', { scope: 'col' }, header)))),
    body);
  return { element, body };
}

/** A badge for a state or status (`succeeded`, `failed`, `running`…). */
export function badge(text, kind = text) {
  return h('span', { class: `badge badge-${kind || 'none'}` }, text || 'never run');
}
