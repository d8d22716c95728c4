// greatleap explorer: levers, state in the URL, runs through the API, headline and downloads.
"use strict";

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const monthIndex = (s) => { const [y, m] = String(s).split("-").map(Number); return y * 12 + m - 1; };
const monthLabel = (i) => `${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, "0")}`;
const monthPretty = (s) => { const i = monthIndex(s); return `${MONTHS[i % 12]} ${Math.floor(i / 12)}`; };
const millions = (v) => `${(v / 1e6).toFixed(1)} million`;

// E is the page's whole state; tests read it too.
const E = { meta: null, record: null, levers: {}, state: null, current: null, baseline: null, perSeed: {},
            inflight: false, pending: false, renders: 0, whyKey: null };
window.explorer = E;

// ------------------------------------------------------------------ API
async function api(path, body) {
  const opt = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" },
                                          body: JSON.stringify(body) };
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(path, opt);
    const data = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (r.status === 503 && data.busy && attempt < 20) {   // the queue is full: wait and try again
      status(`The server is busy; trying again (${attempt + 1})...`);
      await sleep(800 + 400 * attempt);
      continue;
    }
    if (!r.ok) { const e = new Error(data.error || `HTTP ${r.status}`); e.status = r.status; throw e; }
    return data;
  }
}

// a replicate is one run behind the interval: a seed, and with --posterior a parameter draw
const request = (st, rep) => ({ scenario: st.scenario, levers: st.levers, seed: rep.seed, scale: st.scale,
                                draw: rep.draw });
const repKey = (rep) => (rep.draw === null ? rep.seed : `${rep.draw}:${rep.seed}`);
function replicates(st) {   // the page's seed first; every draw runs with the same seeds (paired with history)
  const d = E.meta.defaults, out = [];
  for (let k = 0; k < Math.max(d.draws, 1); k++)
    for (let s = st.seed; s < st.seed + d.seeds; s++) out.push({ draw: d.draws ? k : null, seed: s });
  return out;
}
const historyOf = (st) => ({ scenario: "historical", levers: {}, seed: st.seed, scale: st.scale });
const keyOf = (st) => JSON.stringify([st.scenario, Object.entries(st.levers).sort(), st.scale]);

// ------------------------------------------------------------------ state <-> URL
function stateFromURL() {
  const q = new URLSearchParams(location.search), d = E.meta.defaults;
  const st = { scenario: q.get("scenario") || d.scenario, levers: {}, seed: Number(q.get("seed") || d.seed),
               scale: Number(q.get("scale") || d.scale) };
  for (const [k, v] of q.entries()) {
    if (["scenario", "seed", "scale"].includes(k)) continue;
    const lv = E.levers[k];
    if (!lv) st.levers[k] = v;                                    // unknown: the server will say so
    else if (lv.kind === "toggle") st.levers[k] = v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v;
    else if (lv.kind === "range") st.levers[k] = Number.isFinite(Number(v)) && v !== "" ? Number(v) : v;
    else st.levers[k] = v;
  }
  return st;
}

function query(st, withRun) {
  const q = new URLSearchParams();
  if (st.scenario !== "historical" || !withRun) q.set("scenario", st.scenario);
  for (const [k, v] of Object.entries(st.levers)) q.set(k, String(v));
  if (withRun && st.seed !== E.meta.defaults.seed) q.set("seed", st.seed);
  if (withRun && st.scale !== E.meta.defaults.scale) q.set("scale", st.scale);
  return q.toString();
}

function writeURL() {
  const q = query(E.state, true);
  history.replaceState(null, "", q ? `?${q}` : location.pathname);
}

// ------------------------------------------------------------------ levers
function fmt(lv, v) {
  if (lv.kind === "toggle") return v === true ? "on" : v === false ? "off" : String(v);
  if (lv.kind === "month") return typeof v === "string" && /^\d{4}-\d{2}$/.test(v) ? monthPretty(v) : String(v);
  if (typeof v !== "number") return String(v);
  if (lv.percent) return `${Math.round(v * 100)}%`;
  const digits = lv.step >= 1 ? 0 : lv.step >= 0.1 ? 1 : 2;
  return v.toFixed(digits);
}

function valueOf(name) {
  return name in E.state.levers ? E.state.levers[name] : E.levers[name].historical;
}

function leverElement(lv) {
  const box = document.createElement("div");
  box.className = "lever";
  box.id = `lever-${lv.name}`;
  const unit = lv.unit ? ` (${lv.unit})` : "";
  box.innerHTML = `<div class="top"><label for="in-${lv.name}">${lv.label}</label>
    <span><span class="value"></span> <button class="reset" type="button" title="back to history">&#8634;</button></span></div>
    <div class="control"></div>
    <p class="why"></p><p class="src"></p>
    <div class="hist-note">History: ${fmt(lv, lv.historical)}${unit}</div>`;
  box.querySelector(".why").textContent = lv.explanation;
  box.querySelector(".src").textContent = `Source: ${lv.source}`;
  const control = box.querySelector(".control");
  let input;
  if (lv.kind === "toggle") {
    control.innerHTML = `<div class="switch"><input type="checkbox" id="in-${lv.name}"><span>${lv.label.toLowerCase()}</span></div>`;
    input = control.querySelector("input");
    input.addEventListener("change", () => setLever(lv.name, input.checked, true));
  } else {
    const month = lv.kind === "month";
    const lo = month ? monthIndex(lv.min) : lv.min, hi = month ? monthIndex(lv.max) : lv.max;
    const hist = month ? monthIndex(lv.historical) : lv.historical;
    control.innerHTML = `<div class="track"><input type="range" id="in-${lv.name}" min="${lo}" max="${hi}"
      step="${month ? 1 : lv.step}"><span class="mark" title="history"></span></div>`;
    input = control.querySelector("input");
    control.querySelector(".mark").style.left = `calc(${((hist - lo) / (hi - lo)) * 100}% + ${8 - 16 * (hist - lo) / (hi - lo)}px)`;
    const read = () => {
      let v = Number(input.value);
      if (month) return monthLabel(v);
      if (Math.abs(v - lv.historical) < lv.step / 2) v = lv.historical;      // snap onto history
      return v;
    };
    input.addEventListener("input", () => setLever(lv.name, read(), false));
    input.addEventListener("change", () => setLever(lv.name, read(), true));
  }
  box.querySelector(".reset").addEventListener("click", () => setLever(lv.name, lv.historical, true));
  return box;
}

function showLever(name) {
  const lv = E.levers[name], box = $(`lever-${name}`), v = valueOf(name);
  const input = $(`in-${name}`);
  if (lv.kind === "toggle") input.checked = v === true;
  else if (lv.kind === "month") { if (/^\d{4}-\d{2}$/.test(String(v))) input.value = monthIndex(v); }
  else if (typeof v === "number") input.value = v;
  box.querySelector(".value").textContent = fmt(lv, v);
  box.classList.toggle("moved", name in E.state.levers);
}

let timer = null;
function setLever(name, value, now) {
  if (value === E.levers[name].historical) delete E.state.levers[name];
  else E.state.levers[name] = value;
  showLever(name);
  changed(now ? 0 : 150);
}

function showAll() {
  Object.keys(E.levers).forEach(showLever);
  $("preset").value = E.state.scenario;
  const p = E.meta.presets.find((x) => x.name === E.state.scenario);
  $("preset-desc").textContent = p ? `${p.name === "historical" ? "History" : p.name.replace(/_/g, " ")}: ${p.description}` : "";
}

function changed(delay) {
  writeURL();
  document.body.dataset.ready = "0";
  clearTimeout(timer);
  timer = setTimeout(refresh, delay);
}

// ------------------------------------------------------------------ runs
function status(text) { $("status").textContent = text; }
function showError(text) { const e = $("error"); e.textContent = text; e.hidden = !text; document.body.dataset.error = text || ""; }

async function refresh() {
  if (E.inflight) { E.pending = true; return; }
  E.inflight = true;
  E.pending = false;
  const st = JSON.parse(JSON.stringify(E.state));
  const t0 = performance.now();
  status("Running the model...");
  try {
    const first = replicates(st)[0];
    const [now, base] = await Promise.all([api("/api/run", request(st, first)),
                                           api("/api/run", request(historyOf(st), first))]);
    showError("");
    E.current = now;
    E.baseline = base;
    E.shownKey = keyOf(st);
    record(st, first, now, base);
    const t1 = performance.now();
    draw();
    E.drawMs = Math.round(performance.now() - t1);
    E.lastMs = Math.round(performance.now() - t0);
    status(`Updated in ${(E.lastMs / 1000).toFixed(2)} s${now.meta.cached ? " (from the cache)" : ""}.`);
    $("dl-csv").href = `/api/runs/${now.meta.key}/tables.zip?format=csv`;
    $("dl-parquet").href = `/api/runs/${now.meta.key}/tables.zip?format=parquet`;
    $("dl-toml").href = `/api/scenario.toml?${query(st, false)}`;
    E.renders += 1;
    document.body.dataset.renders = E.renders;
    whyFor(st);
    if (!E.pending) moreSeeds(st);
  } catch (err) {
    showError(err.message);
    status("");
    document.body.dataset.ready = "1";
  } finally {
    E.inflight = false;
    if (E.pending) refresh();
  }
}

// one run's numbers behind the headline and every chart's range
function record(st, rep, now, base) {
  const k = keyOf(st), a = now.annual, prov = {};
  now.provinces.province.forEach((name, i) => { prov[name] = now.provinces.excess_deaths[i]; });
  const r = { now: now.metrics.excess_deaths_true, base: base.metrics.excess_deaths_true,
              cdr_true: a.cdr_true, cbr_true: a.cbr_true, rural_retention_kg: a.rural_retention_kg,
              provinces: prov, age_deaths: Charts.ageTotals(now.age_class) };
  Charts.GRAIN.forEach(([, col]) => { r[col] = a[col]; });
  (E.perSeed[k] = E.perSeed[k] || {})[repKey(rep)] = r;
}

async function moreSeeds(st) {
  const k = keyOf(st);
  for (const rep of replicates(st).slice(1)) {
    if (E.perSeed[k] && E.perSeed[k][repKey(rep)]) continue;
    try {
      const [now, base] = await Promise.all([api("/api/run", request(st, rep)),
                                             api("/api/run", request(historyOf(st), rep))]);
      record(st, rep, now, base);
    } catch (err) { status(`${rep.draw === null ? "" : `Draw ${rep.draw}, `}seed ${rep.seed}: ${err.message}`); }
    if (keyOf(E.state) !== k) return;                    // the page moved on
    draw();
  }
  if (keyOf(E.state) === k) document.body.dataset.ready = "1";
}

function headline() {
  const runs = Object.values(E.perSeed[E.shownKey] || {});
  const now = runs.map((r) => r.now), diff = runs.map((r) => r.now - r.base);
  const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
  const ex = $("excess"), ch = $("excess-change");
  ex.textContent = millions(mean(now));
  ex.dataset.value = mean(now);
  ex.dataset.seeds = runs.length;
  const range = (a) => `${(Math.min(...a) / 1e6).toFixed(1)} to ${(Math.max(...a) / 1e6).toFixed(1)} million`;
  $("excess-interval").textContent = runs.length > 1 ? `range over ${over(runs.length)}: ${range(now)}` :
    "one run so far; more are running for an interval";
  const d = mean(diff);
  ch.dataset.value = d;
  ch.className = "change" + (Math.abs(d) < 0.05e6 ? "" : d < 0 ? " better" : " worse");
  if (E.shownKey === keyOf(historyOf(E.state))) ch.textContent = "This is history as simulated. Move a lever to change it.";
  else ch.textContent = `${d < 0 ? "" : "+"}${millions(d)} compared with history` +
    (runs.length > 1 ? ` (range over ${E.meta.defaults.draws ? "runs" : "seeds"}: ${range(diff)})` : "");
}

// what a range is over, in the headline's words: "8 runs (parameter sets x seeds)" or "4 seeds"
const over = (n) => (E.meta.defaults.draws ? `${n} runs (parameter sets x seeds)` : `${n} seeds`);

// every chart draws the first run (E.current) and, once there are two runs, the range over all of them;
// redrawn as each further run arrives (moreSeeds)
function draw() {
  const now = E.current, base = E.baseline, rec = E.record, order = now.provinces.province;
  Charts.drawRates("chart-deaths", now, base, rec, "deaths", band("cdr_true"));
  Charts.drawRates("chart-births", now, base, rec, "births", band("cbr_true"));
  Charts.drawGrain("chart-grain", now, base, rec, Object.fromEntries(Charts.GRAIN.map(([, c]) => [c, band(c)])));
  Charts.drawRetention("chart-retention", now, base, rec, band("rural_retention_kg"));
  Charts.drawProvinces("chart-provinces", now, base, band((r) => order.map((name) => r.provinces[name] || 0)));
  Charts.drawAgeClass("chart-ageclass", now, base, band("age_deaths"));
  rangeNotes();
  headline();
}

// the lowest and highest value at each point over the runs behind the interval (seeds, or draws x seeds),
// once there are two; of a recorded column or of get(run), an array
function band(get) {
  const runs = Object.values(E.perSeed[E.shownKey] || {});
  if (runs.length < 2) return null;
  const rows = runs.map(typeof get === "string" ? (r) => r[get] : get);
  const at = (i, f) => f(...rows.map((r) => r[i]));
  return { n: runs.length, over: over(runs.length), lo: rows[0].map((_, i) => at(i, Math.min)),
           hi: rows[0].map((_, i) => at(i, Math.max)) };
}

// under each chart's title: what its lines or bars are and what the shading or whiskers are a range over
function rangeNotes() {
  const n = Object.keys(E.perSeed[E.shownKey] || {}).length, total = replicates(E.state).length;
  const first = E.meta.defaults.draws ? "the first run (the page's seed, first parameter set)" : "the page's seed";
  document.querySelectorAll(".range-note").forEach((el) => {
    el.dataset.runs = n;
    el.textContent = n > 1 ? `${el.dataset.mark}: range over ${over(n)}; ${el.dataset.what}: ${first}.` :
      total > 1 ? `${el.dataset.what}: ${first}; the range over ${over(total)} fills in as they run.` : "";
  });
}

// ------------------------------------------------------------------ why (Shapley)
function whyFor(st) {
  const k = keyOf(st);
  if (E.whyKey === k) return;
  E.whyKey = k;
  Charts.drawWhy("chart-why", null);
  delete $("chart-why").dataset.total;
  $("why-progress").hidden = true;
  explain(false);                       // shows it if done (built-ins are precomputed) or under way
}

async function explain(start) {
  const st = JSON.parse(JSON.stringify(E.state)), k = keyOf(st), bar = $("why-progress"), txt = $("why-status");
  E.whyKey = k;
  try {
    let job = await api("/api/why", { scenario: st.scenario, levers: st.levers, start });
    if (job.status === "idle") {
      txt.textContent = Object.keys(st.levers).length ? "Not computed yet for these levers: about half a minute at a coarse scale."
        : "Not computed yet: a few minutes (exact, every combination of mechanisms).";
      return;
    }
    while (job.status === "queued" || job.status === "running") {
      if (E.whyKey !== k) return;
      bar.hidden = false;
      bar.value = job.total ? job.done / job.total : 0;
      txt.textContent = job.status === "queued" ? "Waiting for a free worker..." :
        `Running the model with mechanisms switched off: ${job.done} of ${job.total || "?"} runs`;
      await sleep(700);
      job = await api(`/api/why/${job.id}`);
    }
    if (E.whyKey !== k) return;
    bar.hidden = true;
    if (job.status === "error") { txt.textContent = `Could not explain: ${job.error}`; return; }
    const r = job.result;
    Charts.drawWhy("chart-why", r);
    txt.textContent = `${r.exact ? "Exact over all combinations" : `${r.permutations} sampled orderings`}, scale ` +
      `${r.scale.toLocaleString()}, seed ${r.seeds.join(", ")}: ${millions(r.total[0])} in all.`;
    $("chart-why").dataset.total = r.total[0];
  } catch (err) { txt.textContent = err.message; bar.hidden = true; }
}

// ------------------------------------------------------------------ start
async function start() {
  [E.meta, E.record] = await Promise.all([api("/api/levers"), api("/api/history")]);
  E.meta.levers.forEach((lv) => { E.levers[lv.name] = lv; });
  const aside = $("levers");
  for (const group of E.meta.groups) {
    const h = document.createElement("h3");
    h.textContent = group;
    aside.appendChild(h);
    E.meta.levers.filter((lv) => lv.group === group).forEach((lv) => aside.appendChild(leverElement(lv)));
  }
  const sel = $("preset");
  for (const p of E.meta.presets) {
    const o = document.createElement("option");
    o.value = p.name;
    o.textContent = p.name === "historical" ? "History (as it happened)" : p.name.replace(/_/g, " ");
    sel.appendChild(o);
  }
  sel.addEventListener("change", () => { E.state.scenario = sel.value; E.state.levers = {}; showAll(); changed(0); });
  $("reset").addEventListener("click", () => { E.state.scenario = "historical"; E.state.levers = {}; showAll(); changed(0); });
  $("share").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); status("Link copied: it reproduces this page."); }
    catch (e) { window.prompt("Copy this link:", location.href); }
  });
  $("why-run").addEventListener("click", () => explain(true));
  $("about").textContent = `Model version ${E.meta.version} (source ${E.meta.source_hash}).`;
  $("uncertainty").textContent = E.meta.defaults.uncertainty;
  $("interval-text").textContent = E.meta.defaults.uncertainty;
  if (E.meta.defaults.draws) $("why-point").textContent = " The breakdown is at the calibrated point (one " +
    "parameter set, not the posterior draws behind the other charts' intervals).";
  $("retention-caption").textContent += ` Dashed line: ${E.record.survival_source}.`;
  E.state = stateFromURL();
  $("scale-text").textContent = E.state.scale.toLocaleString();
  showAll();
  changed(0);
}

start().catch((err) => showError(`The explorer could not start: ${err.message}`));
