// A line chart of counts over time, drawn as SVG: no library, nothing inline that the page's
// Content-Security-Policy would refuse (colours come from classes in style.css). A pointer or
// the arrow keys move a cursor that reads out every series at that moment. Time runs left to
// right in Arabic too, as charts do.
import { svg, h } from './dom.js';
import { t, num, shortTime, time } from './i18n.js';

const W = 1000, H = 220, PAD = { left: 44, right: 12, top: 10, bottom: 26 };

function niceMax(value) {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

// points: [{at, ...}], series: [{key, label}] (class "s0", "s1"… picks the colour).
export function lineChart(points, series, from, to, label) {
  const span = Math.max(1, to - from);
  const max = niceMax(Math.max(1, ...points.flatMap((p) => series.map((s) => p[s.key] || 0))));
  const x = (at) => PAD.left + ((at - from) / span) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const grid = [];
  for (let i = 0; i <= 4; i++) {
    const value = (max / 4) * i;
    grid.push(svg('line', { class: 'gridline', x1: PAD.left, x2: W - PAD.right, y1: y(value), y2: y(value) }),
      svg('text', { class: 'tick', x: PAD.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, num(value)));
  }
  for (let i = 0; i <= 4; i++) {
    const at = from + (span / 4) * i;
    grid.push(svg('text', { class: 'tick', x: x(at), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' }, shortTime(at, span)));
  }
  const lines = series.map((s, i) => {
    const d = points.map((p, j) => `${j ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p[s.key] || 0).toFixed(1)}`).join('');
    const last = points[points.length - 1];
    return [svg('path', { class: `line s${i}`, d: d || 'M0,0' }),
      last ? svg('circle', { class: `s${i}`, cx: x(last.at), cy: y(last[s.key] || 0), r: 3.5 }) : null];
  });
  const cursor = svg('line', { class: 'cursor', y1: PAD.top, y2: H - PAD.bottom, x1: -10, x2: -10 });
  const readout = h('p', { class: 'readout small', 'aria-live': 'polite' });
  let index = points.length - 1;
  const show = (i) => {
    if (!points.length) return;
    index = Math.max(0, Math.min(points.length - 1, i));
    const p = points[index];
    cursor.setAttribute('x1', x(p.at));
    cursor.setAttribute('x2', x(p.at));
    readout.textContent = `${time(p.at)} — ${series.map((s) => `${s.label}: ${num(p[s.key] || 0)}`).join(', ')}`;
  };
  const plot = svg('svg', {
    class: 'chart', dir: 'ltr', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, tabindex: points.length ? 0 : -1,
    onpointermove: (event) => {
      const box = plot.getBoundingClientRect();
      const at = from + (((event.clientX - box.left) / box.width) * W - PAD.left) / (W - PAD.left - PAD.right) * span;
      let best = 0;
      points.forEach((p, i) => { if (Math.abs(p.at - at) < Math.abs(points[best].at - at)) best = i; });
      show(best);
    },
    onkeydown: (event) => {
      const step = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity }[event.key];
      if (step === undefined) return;
      event.preventDefault();
      show(Number.isFinite(step) ? index + step : step < 0 ? 0 : points.length - 1);
    },
  }, grid, lines, cursor);
  const legend = h('ul', { class: 'legend' }, series.map((s, i) => h('li', { class: `s${i}` }, s.label)));
  show(index);
  return h('figure', { class: 'chart-box' }, plot, legend, points.length ? readout : h('p', { class: 'muted small' }, t('chart.empty')));
}
