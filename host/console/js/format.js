// Times and sizes for people: instants in the browser's zone (UTC on hover, in the
// title), durations and ages in the largest sensible unit.

import { h } from './dom.js';

const localFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric',
  hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/** `2026-11-27T03:03:48.027Z` as UTC text. */
export function utcText(iso) {
  return new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

/** A <time> in the browser's zone, with UTC in its title; a dash when there is none. */
export function when(iso, empty = '—') {
  if (!iso) return h('span', { class: 'muted' }, empty);
  return h('time', { datetime: iso, title: utcText(iso) }, localFormat.format(new Date(iso)));
}

/** A <time> in `zone`, with UTC in its title. */
export function whenIn(iso, zone) {
  const format = new Intl.DateTimeFormat(undefined, {
    weekday: 'short', year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: zone, timeZoneName: 'short',
  });
  return h('time', { datetime: iso, title: utcText(iso) }, format.format(new Date(iso)));
}

/** 1234 ms as `1.2 s`, 95000 as `1 min 35 s`. */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const sign = ms < 0 ? '−' : '';
  ms = Math.abs(ms);
  if (ms < 1000) return `${sign}${Math.round(ms)} ms`;
  if (ms < 60000) return `${sign}${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60000);
  if (minutes < 60) return `${sign}${minutes} min ${Math.round((ms % 60000) / 1000)} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${sign}${hours} h ${minutes % 60} min`;
  return `${sign}${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** Milliseconds between two instants (or from one to now); null when one is missing. */
export function between(from, to = new Date().toISOString()) {
  if (!from || !to) return null;
  return new Date(to) - new Date(from);
}

/** How long ago: `3 s ago`. */
export function ago(iso) {
  const ms = between(iso);
  return ms === null ? '—' : `${duration(Math.max(ms, 0))} ago`;
}

/** 74215 bytes as `72.5 KiB`. */
export function bytes(size) {
  if (size === null || size === undefined) return '—';
  const units = ['bytes', 'KiB', 'MiB', 'GiB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/** 1234567 as `1,234,567` in the browser's locale. */
export function count(n) {
  return new Intl.NumberFormat().format(n);
}

/** `1 key`, `2 keys`: `n` (as `count` writes it) and the noun, plural unless one. */
export function plural(n, noun) {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
}
