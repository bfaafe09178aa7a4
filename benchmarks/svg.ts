// Hand-written SVG bar charts for the benchmark report: one horizontal bar
// per side (its median), a mark at its fastest trial, a linear time axis
// from zero with ticks and a label, a legend, and each bar's figures written
// beside it, so the chart reads without the table.

export interface ChartBar {
  /** The side, bold at the left. */
  label: string;
  /** Small under the label (a version), or ''. */
  sublabel: string;
  /** What it calls, small under the bar. */
  note: string;
  /** ns/op. */
  median: number;
  /** ns/op, the fastest trial. */
  min: number;
  /** The side the chart is about (drawn in colour). */
  highlight: boolean;
  /** Appended to the figures, e.g. "daxfs 12.30× faster". */
  annotation: string;
}

export interface Chart {
  title: string;
  subtitle: string;
  axisLabel: string;
  bars: ChartBar[];
}

const W = 860;
const LEFT = 150;
const RIGHT = 30;
const PLOT = W - LEFT - RIGHT;
const TOP = 96;
const BAND = 58;
const BAR = 22;
const FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\"";
const HIGHLIGHT = '#1565c0';
const OTHER = '#90a4ae';
const MARK = '#212121';

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A step of 1, 2, 2.5 or 5 × 10^k giving about `count` ticks up to `max`. */
export function niceStep(max: number, count = 5): number {
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
}

/** The unit the axis speaks in, for a scale running to `max` ns. */
function unitFor(max: number): [string, number] {
  if (max >= 2e6) return ['ms', 1e6];
  if (max >= 2e3) return ['µs', 1e3];
  return ['ns', 1];
}

/** A time in ns with a unit that keeps 3 significant digits. */
export function formatTime(ns: number): string {
  const [unit, div] = ns >= 1e6 ? ['ms', 1e6] : ns >= 1e3 ? ['µs', 1e3] : ['ns', 1];
  const v = ns / div;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;
}

/** Rough width of a text in px at `size` (for placing labels; no font metrics here). */
function textWidth(text: string, size: number): number {
  return text.length * size * 0.56;
}

export function barChart(chart: Chart): string {
  const n = chart.bars.length;
  const top = Math.max(...chart.bars.map((b) => Math.max(b.median, b.min)), 1);
  const step = niceStep(top);
  const max = Math.ceil(top / step) * step;
  const x = (ns: number) => LEFT + (ns / max) * PLOT;
  const axisY = TOP + n * BAND;
  const H = axisY + 56;
  const [unit, div] = unitFor(max);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(chart.title)}">`,
    `<title>${escapeXml(`${chart.title}: ${chart.subtitle}`)}</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<g ${FONT} fill="#212121">`,
    `<text x="16" y="28" font-size="18" font-weight="bold">${escapeXml(chart.title)}</text>`,
    `<text x="16" y="49" font-size="12" fill="#555555">${escapeXml(chart.subtitle)}</text>`,
  );
  // legend
  const ly = 72;
  out.push(
    `<rect x="16" y="${ly - 10}" width="14" height="12" fill="${HIGHLIGHT}"/>`,
    `<text x="36" y="${ly}" font-size="12">daxfs: median</text>`,
    `<rect x="140" y="${ly - 10}" width="14" height="12" fill="${OTHER}"/>`,
    `<text x="160" y="${ly}" font-size="12">other stores: median</text>`,
    `<line x1="310" y1="${ly - 12}" x2="310" y2="${ly + 3}" stroke="${MARK}" stroke-width="2.5"/>`,
    `<text x="318" y="${ly}" font-size="12">fastest trial (min)</text>`,
    `<text x="460" y="${ly}" font-size="12" fill="#555555">shorter is faster</text>`,
  );
  // grid and ticks
  for (let v = 0; v <= max + step / 1e6; v += step) {
    const tx = x(v).toFixed(1);
    const label = v === 0 ? '0' : `${Number((v / div).toFixed(2))} ${unit}`;
    out.push(
      `<line x1="${tx}" y1="${TOP - 8}" x2="${tx}" y2="${axisY}" stroke="#e3e3e3" stroke-width="1"/>`,
      `<line x1="${tx}" y1="${axisY}" x2="${tx}" y2="${axisY + 5}" stroke="#555555" stroke-width="1"/>`,
      `<text x="${tx}" y="${axisY + 19}" font-size="11" text-anchor="middle" fill="#555555">${escapeXml(label)}</text>`,
    );
  }
  out.push(
    `<line x1="${LEFT}" y1="${axisY}" x2="${LEFT + PLOT}" y2="${axisY}" stroke="#555555" stroke-width="1"/>`,
    `<line x1="${LEFT}" y1="${TOP - 8}" x2="${LEFT}" y2="${axisY}" stroke="#555555" stroke-width="1"/>`,
    `<text x="${LEFT + PLOT / 2}" y="${axisY + 42}" font-size="12" text-anchor="middle">${escapeXml(chart.axisLabel)}</text>`,
  );
  chart.bars.forEach((b, i) => {
    const y = TOP + i * BAND;
    const end = x(b.median);
    const mid = y + BAR / 2 + 4;
    out.push(
      `<text x="${LEFT - 10}" y="${mid}" font-size="13" font-weight="bold" text-anchor="end">${escapeXml(b.label)}</text>`,
      `<text x="${LEFT - 10}" y="${y + BAR + 17}" font-size="11" text-anchor="end" fill="#555555">${escapeXml(b.sublabel)}</text>`,
      `<rect x="${LEFT}" y="${y}" width="${Math.max(end - LEFT, 1).toFixed(1)}" height="${BAR}" fill="${b.highlight ? HIGHLIGHT : OTHER}"/>`,
      `<line x1="${x(b.min).toFixed(1)}" y1="${y - 4}" x2="${x(b.min).toFixed(1)}" y2="${y + BAR + 4}" stroke="${MARK}" stroke-width="2.5"/>`,
    );
    // The figures go right of the bar where they fit, else on the line
    // under it, before the note (never over the bar and its mark).
    const figures = `${formatTime(b.median)} median, ${formatTime(b.min)} min${b.annotation ? ` · ${b.annotation}` : ''}`;
    const outside = Math.max(end, x(b.min)) + 8;
    if (outside + textWidth(figures, 12) <= W - 4) {
      out.push(`<text x="${outside.toFixed(1)}" y="${mid}" font-size="12">${escapeXml(figures)}</text>`);
      out.push(`<text x="${LEFT}" y="${y + BAR + 17}" font-size="11" fill="#555555">${escapeXml(b.note)}</text>`);
    } else {
      out.push(
        `<text x="${LEFT}" y="${y + BAR + 17}" font-size="11" fill="#555555"><tspan font-size="12" fill="#212121">${escapeXml(figures)}</tspan> — ${escapeXml(b.note)}</text>`,
      );
    }
  });
  out.push('</g>', '</svg>');
  return `${out.join('\n')}\n`;
}
