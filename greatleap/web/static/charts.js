// greatleap explorer: the charts (Plotly, served from the plotly package; works offline).
// Every chart: this scenario in strong colours, the simulated history faint, the record as dots.
"use strict";

const COLORS = { now: "#b2182b", hist: "rgba(120,120,120,0.45)", rec: "#222", grain: "#1b7837",
                 reported: "#e08214", believed: "#762a83", taken: "#b2182b" };
const PLOT_CONFIG = { displaylogo: false, responsive: true,
                      modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"] };
const YEARS = [1957, 1966];

function baseLayout(ytitle, extra) {
  return Object.assign({
    margin: { l: 52, r: 10, t: 8, b: 34 }, hovermode: "x unified",
    xaxis: { range: [YEARS[0] - 0.4, YEARS[1] + 0.4], dtick: 1, tickformat: "d" },
    yaxis: { title: { text: ytitle, font: { size: 12 } }, rangemode: "tozero" },
    legend: { orientation: "h", y: -0.16, font: { size: 11 } },
    paper_bgcolor: "#fff", plot_bgcolor: "#fff", font: { family: "system-ui, sans-serif", size: 12 },
  }, extra || {});
}

function line(name, x, y, color, opts) {
  opts = opts || {};
  return { type: "scatter", mode: opts.mode || "lines+markers", name, x, y,
           line: { color, width: opts.width || 2.5, dash: opts.dash || "solid" },
           marker: { size: opts.size || 5, color, symbol: opts.symbol || "circle" },
           showlegend: opts.legend !== false, hovertemplate: opts.hover || "%{y:.1f}" };
}

function faint(name, x, y, opts) {
  return line(name, x, y, COLORS.hist, Object.assign({ width: 2, size: 3 }, opts || {}));
}

function dots(name, x, y, symbol) {
  return { type: "scatter", mode: "markers", name, x, y,
           marker: { size: 7, color: COLORS.rec, symbol: symbol || "circle" }, hovertemplate: "%{y:.1f}" };
}

// the range over the runs behind the interval (seeds, or draws x seeds), once there are two: the lowest run,
// then the highest filled down to it; band = {over: "3 seeds", lo: [...], hi: [...]} or null
function spread(name, x, band, color, legend) {
  if (!band) return [];
  const fill = `rgba(${[1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16)).join(",")},0.15)`;
  return [
    { type: "scatter", mode: "lines", name: `${name}: lowest of ${band.over}`, x, y: band.lo, line: { width: 0 },
      showlegend: false, hoverinfo: "skip" },
    { type: "scatter", mode: "lines", name: `${name}: range over ${band.over}`, x, y: band.hi, fill: "tonexty",
      fillcolor: fill, line: { width: 0 }, showlegend: legend !== false, hoverinfo: "skip" }];
}

// error bars from the range over the runs around the drawn values v (the first run), in the chart's unit
function whiskers(v, band, scale) {
  if (!band) return undefined;
  return { type: "data", symmetric: false, array: v.map((x, i) => band.hi[i] / scale - x),
           arrayminus: v.map((x, i) => x - band.lo[i] / scale), color: "#333", thickness: 1.2, width: 3 };
}

function drawRates(div, now, base, rec, kind, band) {
  const a = now.annual, b = base.annual, yrs = a.year;
  const k = kind === "deaths" ? "cdr" : "cbr";
  const traces = [
    ...spread("true", yrs, band, COLORS.now),
    faint("history: true", b.year, b[k + "_true"]),
    faint("history: registered", b.year, b[k + "_registered"], { dash: "dot" }),
    line("true", yrs, a[k + "_true"], COLORS.now),
    line("registered", yrs, a[k + "_registered"], COLORS.now, { dash: "dot" }),
    dots("official (registered)", rec.vital.year, rec.vital[k]),
    dots("Banister (reconstructed)", rec.banister.year, rec.banister[k], "diamond-open"),
  ];
  Plotly.react(div, traces, baseLayout("per 1,000 per year"), PLOT_CONFIG);
}

// the grain chart's simulated series: [legend name, annual column, colour, dash]; app.js records each per run
const GRAIN = [["grown", "grain_harvest_mt", COLORS.grain, "solid"],
               ["reported", "grain_reported_province_mt", COLORS.reported, "solid"],
               ["believed by the centre", "grain_believed_mt", COLORS.believed, "dash"],
               ["taken by the state", "procurement_mt", COLORS.taken, "dot"]];

function drawGrain(div, now, base, rec, bands) {   // bands: {column: band or null}; the page's note names them
  const a = now.annual, b = base.annual;
  const traces = [
    ...GRAIN.flatMap(([name, col, color]) => spread(name, a.year, bands && bands[col], color, false)),
    faint("history: grown", b.year, b.grain_harvest_mt),
    faint("history: taken", b.year, b.procurement_mt, { dash: "dot" }),
    ...GRAIN.map(([name, col, color, dash]) => line(name, a.year, a[col], color, { dash })),
    dots("official output", rec.grain.year, rec.grain.output_revised),
    dots("official procurement", rec.grain.year, rec.grain.procurement, "x"),
  ];
  Plotly.react(div, traces, baseLayout("million tonnes"), PLOT_CONFIG);
}

function drawRetention(div, now, base, rec, band) {
  const a = now.annual, b = base.annual, s = rec.survival_kg;
  const traces = [
    ...spread("this scenario", a.year, band, COLORS.now),
    faint("history", b.year, b.rural_retention_kg, { hover: "%{y:.0f}" }),
    line("this scenario", a.year, a.rural_retention_kg, COLORS.now, { hover: "%{y:.0f}" }),
    dots("official", rec.grain.year, rec.grain.rural_retention_kg),
    { type: "scatter", mode: "lines", name: `survival line (${Math.round(s)} kg)`, x: [YEARS[0] - 0.4, YEARS[1] + 0.4],
      y: [s, s], line: { color: "#000", dash: "dash", width: 1.5 }, hoverinfo: "skip" },
  ];
  Plotly.react(div, traces, baseLayout("kg per rural person per year"), PLOT_CONFIG);
}

function drawProvinces(div, now, base, band) {   // band: over the runs, in now.provinces' order
  const p = now.provinces, hb = {};
  base.provinces.province.forEach((name, i) => { hb[name] = base.provinces.excess_deaths[i]; });
  const order = p.province.slice().reverse();                 // largest at the top
  const val = p.excess_deaths.slice().reverse().map(v => v / 1e3);
  const rate = p.excess_per_1000.slice().reverse();
  const rev = band && { lo: band.lo.slice().reverse(), hi: band.hi.slice().reverse() };
  const range = rev ? `<br>range over ${band.over}: %{customdata[1]:,.0f} to %{customdata[2]:,.0f} thousand` : "";
  const traces = [
    { type: "bar", orientation: "h", name: "history", y: order, x: order.map(n => (hb[n] || 0) / 1e3),
      marker: { color: "rgba(150,150,150,0.35)" }, hovertemplate: "history: %{x:,.0f} thousand<extra></extra>" },
    { type: "bar", orientation: "h", name: "this scenario", y: order, x: val, marker: { color: COLORS.now },
      customdata: rate.map((r, i) => [r, rev && rev.lo[i] / 1e3, rev && rev.hi[i] / 1e3]),
      error_x: whiskers(val, rev, 1e3),
      hovertemplate: `%{y}: %{x:,.0f} thousand (%{customdata[0]:.0f} per 1,000 people)${range}<extra></extra>` },
  ];
  const layout = baseLayout("", { barmode: "group", bargap: 0.25, bargroupgap: 0.05, hovermode: "closest",
    margin: { l: 100, r: 10, t: 8, b: 34 }, xaxis: { title: { text: "thousand excess deaths", font: { size: 12 } } },
    yaxis: { automargin: true, tickfont: { size: 11 } }, legend: { orientation: "h", y: 1.04, x: 0.5 } });
  Plotly.react(div, traces, layout, PLOT_CONFIG);
}

const CLASS_LABEL = { ordinary: "ordinary", cadre: "cadres", black_element: "black elements" };
const CLASS_COLOR = { ordinary: "#d6604d", cadre: "#4393c3", black_element: "#333" };

const AGE_GROUPS = ["0", "1-4", "5-9", "10-14", "15-59", "60+"];
const ageSum = (d, g, c) => d.deaths.reduce((t, v, i) => t + ((d.age_group[i] === g && (!c || d.class[i] === c)) ? v : 0), 0);
// deaths from hunger and violence by age group, all classes (what app.js records per run for the range)
const ageTotals = (d) => AGE_GROUPS.map((g) => ageSum(d, g));

function drawAgeClass(div, now, base, band) {   // band: over the runs, of ageTotals
  const sum = ageSum, names = { "0": "infants", "60+": "60 and over" };  // the other groups by their own label
  const groups = AGE_GROUPS, label = Object.fromEntries(groups.map((g) => [g, names[g] || g]));
  const traces = Object.keys(CLASS_LABEL).map(c => ({
    type: "bar", name: CLASS_LABEL[c], x: groups.map(g => label[g]), y: groups.map(g => sum(now.age_class, g, c) / 1e6),
    marker: { color: CLASS_COLOR[c] }, hovertemplate: "%{y:.2f} M" }));
  traces.push({ type: "scatter", mode: "markers", name: "history (all classes)", x: groups.map(g => label[g]),
                y: groups.map(g => sum(base.age_class, g) / 1e6), hovertemplate: "%{y:.2f} M",
                marker: { symbol: "line-ew-open", size: 28, color: "#777", line: { width: 3, color: "#777" } } });
  if (band) {   // whiskers on each bar's top (all classes): the range of the total over the runs
    const total = ageTotals(now.age_class).map((v) => v / 1e6);
    traces.push({ type: "scatter", mode: "markers", name: `all classes: range over ${band.over}`,
                  x: groups.map(g => label[g]), y: total, marker: { size: 5, color: "#333" },
                  error_y: whiskers(total, band, 1e6), hovertemplate: "%{y:.2f} M" });
  }
  const layout = baseLayout("million deaths", { barmode: "stack", hovermode: "x unified",
                                                xaxis: { type: "category" } });
  Plotly.react(div, traces, layout, PLOT_CONFIG);
}

function drawWhy(div, result) {
  if (!result) { Plotly.purge(div); return; }
  const m = result.mechanisms, n = m.mechanism.length;
  const idx = [...Array(n).keys()].reverse();
  const err = idx.map(i => m.shapley_p95[i] - m.shapley[i]);
  const errMinus = idx.map(i => m.shapley[i] - m.shapley_p05[i]);
  const anyErr = err.some(v => v > 0) || errMinus.some(v => v > 0);
  const traces = [{ type: "bar", orientation: "h", y: idx.map(i => m.mechanism[i].replace(/_/g, " ")),
    x: idx.map(i => m.shapley[i] / 1e6), customdata: idx.map(i => m.switched_off_means[i]),
    marker: { color: idx.map(i => m.shapley[i] >= 0 ? COLORS.now : "#1a7f37") },
    error_x: anyErr ? { type: "data", array: err.map(v => v / 1e6), arrayminus: errMinus.map(v => v / 1e6) } : undefined,
    hovertemplate: "%{x:.2f} M<br>switched off = %{customdata}<extra></extra>" }];
  const layout = baseLayout("", { hovermode: "closest", margin: { l: 130, r: 10, t: 8, b: 34 },
    xaxis: { title: { text: "million excess deaths attributed", font: { size: 12 } } },
    yaxis: { automargin: true }, showlegend: false });
  Plotly.react(div, traces, layout, PLOT_CONFIG);
}

window.Charts = { GRAIN, ageTotals, drawRates, drawGrain, drawRetention, drawProvinces, drawAgeClass, drawWhy };
