// Small bar charts in SVG: one bar per minute of the last hour, the peak labelled, each
// bar's value in its tooltip. No library: a few rectangles.

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 360;
const HEIGHT = 110;
const TOP = 20;
const BOTTOM = 20;

function svg(tag, attrs = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * A chart of `points` ({label, value}, value null for no data), titled `title`, values
 * shown with `format`. `kind` picks the colour (`ok`, `bad`, `late`).
 */
export function barChart(title, points, format, kind = 'ok') {
  const values = points.map((point) => point.value ?? 0);
  const peak = Math.max(...values, 0);
  const latest = points.length ? points[points.length - 1].value : null;
  const summary = `${title}: ${latest === null ? 'no data' : format(latest)} in the last minute, `
    + `peak ${format(peak)} in the last hour`;
  const chart = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: `chart chart-${kind}`, role: 'img',
    'aria-label': summary,
  });
  const plot = HEIGHT - TOP - BOTTOM;
  const step = WIDTH / Math.max(points.length, 1);
  chart.append(svg('line', { x1: 0, x2: WIDTH, y1: HEIGHT - BOTTOM, y2: HEIGHT - BOTTOM, class: 'axis' }));
  points.forEach((point, index) => {
    const value = point.value ?? 0;
    const height = peak > 0 ? Math.max((value / peak) * plot, value > 0 ? 1.5 : 0) : 0;
    const bar = svg('rect', {
      x: index * step + 0.5, y: HEIGHT - BOTTOM - height, width: Math.max(step - 1, 1), height,
      class: 'bar',
    });
    bar.append(svg('title', {}, `${point.label}: ${point.value === null ? 'no data' : format(value)}`));
    chart.append(bar);
  });
  chart.append(svg('text', { x: 2, y: 14, class: 'label' }, `peak ${format(peak)}`));
  chart.append(svg('text', { x: 2, y: HEIGHT - 4, class: 'label' }, '60 min ago'));
  chart.append(svg('text', { x: WIDTH - 2, y: HEIGHT - 4, class: 'label end' }, 'now'));
  return { chart, summary, latest };
}
