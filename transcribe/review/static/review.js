// The review page: shows the transcript as the exports number it, plays the recording from any
// word, and sends every correction to the server at once (which saves it in session.json).
"use strict";

const CHUNK = 60;  // seconds of audio fetched per request; the next stretch follows when one ends
const BACK = 3;    // seconds the left arrow goes back
const RATES = [0.75, 0.9, 1, 1.1, 1.25, 1.5];

const state = {
  revision: null, turns: [], byId: new Map(), labels: [], doubt: 0.5, duration: 0,
  audio: { state: "loading" }, current: null, word: null, flat: [], stretch: null, stopAt: null,
  rate: 1, queue: Promise.resolve(), editing: null, playing: null,
};
const timing = { clicked: null, lastPlayMs: null, renderMs: null, readyMs: null, plays: [] };
window.reviewTiming = timing;  // read by scripts/bench_review.py

const $ = (id) => document.getElementById(id);
const player = $("player");

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

function say(message, error = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", error);
}

// -- loading and rendering --------------------------------------------------------------------

async function load() {
  const response = await fetch("/api/turns");
  const data = await response.json();
  if (!response.ok) { say(data.error, true); return; }
  const started = performance.now();
  state.revision = data.revision;
  state.labels = data.labels;
  state.doubt = data.doubtful_below;
  state.duration = data.session.duration;
  state.turns = data.turns;
  state.byId = new Map(data.turns.map((turn) => [turn.id, turn]));
  document.title = `Review ${data.session.name} – transcribe`;
  $("title").textContent = `Review: ${data.session.name}`;
  $("threshold").textContent = String(data.doubtful_below);
  $("turns").innerHTML = data.turns.map(turnHtml).join("");
  indexWords();
  showProgress(data.review, data.history);
  showAudio(data.audio);
  if (state.current !== null && state.byId.has(state.current)) select(state.current, state.word, false);
  timing.renderMs = performance.now() - started;
  timing.readyMs = performance.now();  // since the navigation began (the token redirect included)
  document.body.dataset.ready = "true";
}

function turnHtml(turn) {
  const classes = ["turn", turn.reviewed ? "reviewed" : "", turn.words.length ? "" : "deleted", turn.id === state.current ? "current" : ""];
  let lines = "";
  let index = 0;
  for (const line of turn.lines) {
    const words = turn.words.slice(index, index + line.words).map((word, k) => wordHtml(word, index + k)).join(" ");
    index += line.words;
    lines += `<div class="line"><span class="num" data-word="${index - line.words}">${line.number ?? ""}</span>` +
      `<span class="lab">${escapeHtml(line.label)}</span><span class="text">${words}</span></div>`;
  }
  if (!turn.words.length) lines = `<div class="line"><span class="num"></span><span class="lab"></span><span class="text">(turn deleted: Edit to give it text again, or Undo)</span></div>`;
  return `<section class="${classes.join(" ").trim()}" data-id="${turn.id}">` +
    `<div class="meta"><span class="time">${clock(turn.start)}</span>` +
    `<button type="button" class="label${turn.overridden ? " overridden" : ""}" title="Change this turn's label (L)">${escapeHtml(turn.label)}</button>` +
    `<span class="cluster">${escapeHtml(turn.cluster)}${turn.edited ? " · edited" : ""}</span>` +
    `<span class="mark">${turn.reviewed ? "✓ reviewed" : ""}</span></div>` +
    `<div class="lines">${lines}</div></section>`;
}

function isDoubtful(word) {
  return Boolean(word.suspect) || (word.probability !== null && word.probability < state.doubt);
}

function wordHtml(word, index) {
  const classes = ["w", isDoubtful(word) ? "doubtful" : "", word.suspect ? "suspect" : "", word.probability === null ? "written" : ""].join(" ").trim();
  let title = word.probability === null ? "written by a person" : `probability ${word.probability.toFixed(2)}`;
  if (word.suspect) title = `left out of the exports: suspected invented (${word.suspect}); Edit the turn and type it to keep it`;
  return `<span class="${classes}" data-i="${index}" title="${title}">${escapeHtml(word.text)}</span>`;
}

function indexWords() {
  // Every word in transcript order, for following playback and finding doubtful words.
  state.flat = [];
  for (const section of $("turns").children) {
    const turn = state.byId.get(Number(section.dataset.id));
    if (!turn) continue;
    const spans = section.querySelectorAll(".w");
    turn.words.forEach((word, index) => state.flat.push({ turn: turn.id, index, start: word.start, end: word.end, word, el: spans[index] }));
  }
}

function section(id) {
  return $("turns").querySelector(`section[data-id="${id}"]`);
}

function showProgress(review, history) {
  $("progress").textContent = `${review.reviewed} of ${review.turns} turns reviewed · ${review.edited} edited`;
  $("undo").disabled = !history;
}

function showAudio(audio) {
  state.audio = audio;
  const notice = $("notice");
  if (audio.state === "ready") { notice.hidden = true; $("play").disabled = false; return; }
  notice.hidden = false;
  $("play").disabled = true;
  if (audio.state === "loading") {
    notice.textContent = "Decoding the recordings… the text can be corrected already; listening starts when they are ready.";
    setTimeout(pollAudio, 1000);
  } else {
    notice.textContent = `Text only: ${audio.reason}`;
  }
}

async function pollAudio() {
  const response = await fetch("/api/status");
  if (response.ok) showAudio((await response.json()).audio);
}

// Apply a change's answer: re-render the turns that look different, put every turn in order,
// and move the line numbers of the others.
function apply(data) {
  state.revision = data.revision;
  state.labels = data.labels;
  const main = $("turns");
  const elements = new Map([...main.children].map((element) => [Number(element.dataset.id), element]));
  for (const id of data.removed) { state.byId.delete(id); elements.get(id)?.remove(); elements.delete(id); }
  const fresh = new Set();
  for (const turn of data.turns) {
    state.byId.set(turn.id, turn);
    const holder = document.createElement("div");
    holder.innerHTML = turnHtml(turn);
    const element = holder.firstElementChild;
    if (elements.has(turn.id)) elements.get(turn.id).replaceWith(element);
    elements.set(turn.id, element);
    fresh.add(turn.id);
  }
  let cursor = main.firstElementChild;
  for (const id of data.order) {
    const element = elements.get(id);
    if (element === cursor) cursor = cursor.nextElementSibling;
    else main.insertBefore(element, cursor);
    const [first, shown] = data.layout[id];
    if (first !== null && !fresh.has(id)) {
      element.querySelectorAll(".num").forEach((num, k) => { num.textContent = String(first + k); });
      element.querySelector(".lab").textContent = shown;
    }
  }
  state.turns = data.order.map((id) => state.byId.get(id));
  indexWords();
  showProgress(data.review, data.history);
  if (state.current !== null && !state.byId.has(state.current)) state.current = null;
  if (state.current !== null) select(state.current, state.word, false);
}

// Changes go one after the other, each with the revision the one before answered.
function send(method, url, body = {}) {
  state.queue = state.queue.then(async () => {
    const response = await fetch(url, {
      method, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ...body, revision: state.revision }),
    });
    const data = await response.json();
    if (!response.ok) {
      say(data.error, true);
      if (response.status === 409) await load();
      return null;
    }
    apply(data);
    say(`Saved (revision ${data.revision}).`);
    return data;
  }).catch((error) => say(`Not saved: ${error}. Is 'transcribe review' still running?`, true));
  return state.queue;
}

// -- selection --------------------------------------------------------------------------------

function select(id, word = null, scroll = true) {
  const previous = state.current !== null ? section(state.current) : null;
  previous?.classList.remove("current");
  document.querySelectorAll(".w.selected").forEach((el) => el.classList.remove("selected"));
  state.current = id;
  state.word = word;
  const element = section(id);
  if (!element) return;
  element.classList.add("current");
  const turn = state.byId.get(id);
  if (word !== null) element.querySelector(`.w[data-i="${word}"]`)?.classList.add("selected");
  $("selected").textContent = `Turn ${clock(turn.start)} · ${turn.label}` + (word !== null && turn.words[word] ? ` · “${turn.words[word].text}”` : "");
  $("reviewed").textContent = turn.reviewed ? "Not reviewed" : "Reviewed";
  if (scroll) element.scrollIntoView({ block: "nearest" });
}

function currentTurn() {
  return state.current !== null ? state.byId.get(state.current) : null;
}

function moveTurn(step) {
  const index = state.turns.findIndex((turn) => turn.id === state.current);
  const next = state.turns[Math.min(Math.max(index + step, 0), state.turns.length - 1)];
  if (!next) return;
  select(next.id, next.words.length ? 0 : null);
  if (!player.paused && next.words.length) playFrom(next.words[0].start);
}

function nextDoubtful() {
  const position = state.stretch && !player.paused ? now() : (currentTurn()?.words[state.word ?? -1]?.end ?? -1);
  const found = state.flat.find((item) => item.start > position + 1e-6 && isDoubtful(item.word));
  if (!found) { say("No doubtful word after this one."); return; }
  select(found.turn, found.index);
  playFrom(found.start);
}

// -- playback ---------------------------------------------------------------------------------

function now() {
  return state.stretch ? state.stretch.start + player.currentTime : 0;
}

function playFrom(seconds, stopAt = null) {
  if (state.audio.state !== "ready") { say(state.audio.state === "loading" ? "The recordings are still being decoded." : "Text only: no audio to play.", true); return; }
  const start = Math.min(Math.max(0, seconds), Math.max(0, state.duration - 0.05));
  const end = Math.min(state.duration, start + CHUNK);
  state.stretch = { start, end };
  state.stopAt = stopAt;
  timing.clicked = performance.now();
  player.src = `/api/audio?start=${start.toFixed(3)}&end=${end.toFixed(3)}`;
  player.defaultPlaybackRate = state.rate;
  player.playbackRate = state.rate;
  player.play().catch((error) => say(`Cannot play: ${error.message}`, true));
}

function togglePlay() {
  if (!state.stretch) {
    const turn = currentTurn() || state.turns.find((t) => t.words.length);
    if (turn) playFrom(turn.words[state.word ?? 0]?.start ?? turn.start);
  } else if (player.paused) player.play();
  else player.pause();
}

function back() {
  if (!state.stretch) return;
  const target = now() - BACK;
  if (target >= state.stretch.start) player.currentTime -= BACK;
  else playFrom(target);
}

function ahead() {
  if (!state.stretch) return;
  const target = now() + BACK;
  if (target < state.stretch.end) player.currentTime += BACK;
  else playFrom(target);
}

function changeRate(step) {
  const index = RATES.indexOf(state.rate);
  state.rate = RATES[Math.min(Math.max(index + step, 0), RATES.length - 1)];
  player.playbackRate = state.rate;
  player.defaultPlaybackRate = state.rate;
  $("rate").textContent = `${state.rate}×`;
}

function follow() {
  // Mark the word being played; scroll it into view when it moves to another turn.
  const position = now();
  $("clock").textContent = clock(position);
  if (state.stopAt !== null && position >= state.stopAt) { player.pause(); state.stopAt = null; }
  let low = 0, high = state.flat.length - 1, found = null;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (state.flat[middle].start <= position) { found = state.flat[middle]; low = middle + 1; } else high = middle - 1;
  }
  if (found && position > found.end + 0.5) found = null;
  if (found?.el === state.playing?.el) return;
  state.playing?.el?.classList.remove("playing");
  state.playing = found;
  if (found?.el) {
    found.el.classList.add("playing");
    if (found.turn !== state.current) { select(found.turn, null, false); found.el.scrollIntoView({ block: "nearest" }); }
  }
}

function tick() {
  follow();
  if (!player.paused) requestAnimationFrame(tick);
}

player.addEventListener("playing", () => {
  if (timing.clicked !== null) {
    timing.lastPlayMs = performance.now() - timing.clicked;
    timing.plays.push(timing.lastPlayMs);
    timing.clicked = null;
  }
  $("play").textContent = "Pause";
  requestAnimationFrame(tick);
});
player.addEventListener("pause", () => { $("play").textContent = "Play"; });
player.addEventListener("ended", () => {
  if (state.stretch && state.stretch.end < state.duration - 0.05 && state.stopAt === null) playFrom(state.stretch.end);
  else $("play").textContent = "Play";
});
player.addEventListener("error", () => {
  if (player.src) say("The audio could not be played (has the session been purged, or the server stopped?).", true);
});

// -- corrections ------------------------------------------------------------------------------

function edit() {
  const turn = currentTurn();
  if (!turn || state.editing !== null) return;
  state.editing = turn.id;
  const lines = section(turn.id).querySelector(".lines");
  lines.innerHTML = `<div class="editor"><textarea aria-label="Text of the turn"></textarea>` +
    `<div class="buttons"><button type="button" class="save">Save (Ctrl+Enter)</button><button type="button" class="cancel">Cancel (Esc)</button></div></div>`;
  const area = lines.querySelector("textarea");
  area.value = turn.text;
  area.focus();
  lines.querySelector(".save").addEventListener("click", () => saveEdit(area.value));
  lines.querySelector(".cancel").addEventListener("click", cancelEdit);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); saveEdit(area.value); }
    if (event.key === "Escape") { event.preventDefault(); cancelEdit(); }
  });
}

function saveEdit(text) {
  const id = state.editing;
  state.editing = null;
  send("PATCH", `/api/turns/${id}`, { text }).then((data) => { if (!data) rerender(id); });
}

function cancelEdit() {
  const id = state.editing;
  state.editing = null;
  rerender(id);
}

function rerender(id) {
  const turn = state.byId.get(id);
  if (!turn) return;
  const holder = document.createElement("div");
  holder.innerHTML = turnHtml(turn);
  section(id).replaceWith(holder.firstElementChild);
  indexWords();
  select(id, null, false);
}

function chooseLabel(id) {
  const turn = state.byId.get(id);
  const button = section(id)?.querySelector(".label");
  if (!turn || !button) return;
  select(id, state.current === id ? state.word : null, false);
  const picker = document.createElement("select");
  picker.className = "picker";
  picker.setAttribute("aria-label", "Label of this turn");
  picker.innerHTML = state.labels.map((label) =>
    `<option value="${escapeHtml(label)}"${String(label) === String(turn.label) ? " selected" : ""}>${escapeHtml(label)}</option>`).join("");
  button.replaceWith(picker);
  picker.focus();
  let done = false;
  const finish = (save) => {
    if (done) return;
    done = true;
    const chosen = state.labels.find((label) => String(label) === picker.value);
    if (save && String(chosen) !== String(turn.label)) send("PATCH", `/api/turns/${id}`, { label: chosen }).then((data) => { if (!data) rerender(id); });
    else rerender(id);
  };
  picker.addEventListener("change", () => finish(true));
  picker.addEventListener("blur", () => finish(false));
  picker.addEventListener("keydown", (event) => { if (event.key === "Escape") finish(false); if (event.key === "Enter") finish(true); });
}

function split() {
  const turn = currentTurn();
  if (!turn) return;
  if (!state.word) { say("Click the word that should begin the new turn first (not the turn's first word).", true); return; }
  send("POST", `/api/turns/${turn.id}/split`, { word: state.word });
}

function merge() {
  const turn = currentTurn();
  if (turn) send("POST", `/api/turns/${turn.id}/merge`);
}

function toggleReviewed() {
  const turn = currentTurn();
  if (turn) send("PATCH", `/api/turns/${turn.id}`, { reviewed: !turn.reviewed });
}

function undo() {
  send("POST", "/api/undo").then(() => { if (!$("speakers").hidden) loadSpeakers(); });
}

// -- speakers ---------------------------------------------------------------------------------

async function loadSpeakers() {
  const response = await fetch("/api/speakers");
  const data = await response.json();
  if (!response.ok) { say(data.error, true); return; }
  $("speaker-rows").innerHTML = data.speakers.map((row) => {
    const options = state.labels.map((label) =>
      `<option value="${escapeHtml(label)}"${String(label) === String(row.label) ? " selected" : ""}>${escapeHtml(label)}</option>`).join("");
    const alike = row.alike.map((pair) => `${escapeHtml(pair.cluster)} (${pair.similarity.toFixed(2)})`).join(", ");
    const relabelled = row.relabelled ? ` (${row.relabelled} relabelled)` : "";
    return `<tr data-cluster="${escapeHtml(row.cluster)}"><td>${escapeHtml(row.cluster)}</td>` +
      `<td><select class="map" aria-label="Label of ${escapeHtml(row.cluster)}">${options}</select></td>` +
      `<td>${Math.round(row.talk_time)} s</td><td>${row.turns}${relabelled}</td>` +
      `<td><button type="button" class="listen" data-start="${row.sample.start}" data-end="${row.sample.end}">▶ ${Math.round(row.sample.end - row.sample.start)} s</button></td>` +
      `<td>${alike || "—"}</td></tr>`;
  }).join("");
}

$("speaker-rows").addEventListener("change", (event) => {
  const picker = event.target.closest("select.map");
  if (!picker) return;
  const cluster = picker.closest("tr").dataset.cluster;
  const label = state.labels.find((item) => String(item) === picker.value);
  send("PATCH", `/api/speakers/${encodeURIComponent(cluster)}`, { label }).then(loadSpeakers);
});

$("speaker-rows").addEventListener("click", (event) => {
  const button = event.target.closest("button.listen");
  if (button) playFrom(Number(button.dataset.start), Number(button.dataset.end));
});

$("speakers-toggle").addEventListener("click", () => {
  const panel = $("speakers");
  panel.hidden = !panel.hidden;
  $("speakers-toggle").setAttribute("aria-expanded", String(!panel.hidden));
  if (!panel.hidden) loadSpeakers();
});

// -- events -----------------------------------------------------------------------------------

$("turns").addEventListener("click", (event) => {
  const element = event.target.closest("section.turn");
  if (!element || state.editing !== null) return;
  const id = Number(element.dataset.id);
  const turn = state.byId.get(id);
  if (event.target.closest(".label")) { chooseLabel(id); return; }
  const word = event.target.closest(".w");
  if (word) {
    const index = Number(word.dataset.i);
    select(id, index, false);
    playFrom(turn.words[index].start);
    return;
  }
  const number = event.target.closest(".num");
  if (number && number.dataset.word !== undefined && turn.words.length) {
    const index = Number(number.dataset.word);
    select(id, index, false);
    playFrom(turn.words[index].start);
    return;
  }
  if (event.target.closest(".picker")) return;
  select(id, null, false);
});

$("turns").addEventListener("dblclick", (event) => {
  if (event.target.closest(".text")) edit();
});

$("play").addEventListener("click", togglePlay);
$("undo").addEventListener("click", undo);
$("edit").addEventListener("click", edit);
$("split").addEventListener("click", split);
$("merge").addEventListener("click", merge);
$("reviewed").addEventListener("click", toggleReviewed);

document.addEventListener("keydown", (event) => {
  if (event.target.closest("textarea, select, input") || event.ctrlKey || event.metaKey || event.altKey) return;
  const keys = {
    " ": togglePlay, ArrowLeft: back, ArrowRight: ahead, "-": () => changeRate(-1), "+": () => changeRate(1), "=": () => changeRate(1),
    ArrowDown: () => moveTurn(1), ArrowUp: () => moveTurn(-1), d: nextDoubtful, D: nextDoubtful, Enter: edit,
    l: () => state.current !== null && chooseLabel(state.current), L: () => state.current !== null && chooseLabel(state.current),
    s: split, S: split, m: merge, M: merge, r: toggleReviewed, R: toggleReviewed, z: undo, Z: undo,
  };
  const action = keys[event.key];
  if (!action) return;
  event.preventDefault();
  action();
});

load().catch((error) => say(`The transcript could not be loaded: ${error}`, true));
