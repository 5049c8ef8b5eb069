// The expert desk: one WebSocket to /ws/expert (the session cookie signs it in), the page kept
// in step with what the server pushes: the expert's status, offers that ring with a countdown,
// conversations in tabs with their whole transcript, wrap-up, today's figures, next shifts.
// A dropped connection reconnects by itself; the server's hello then restates everything.

const root = document.getElementById("desk");
const expertId = root.dataset.expert;
const $ = (id) => document.getElementById(id);

const state = { offers: new Map(), sessions: new Map(), wrapups: new Map(), current: null,
                socket: null, retry: 0, ringing: null, audio: null, closedByUs: false,
                sent: new Set() };  // refs of lines this page wrote (shown already)

// -- small DOM helpers -------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}
function seconds(s) {
  const n = Math.round(s); // rounded first: 359.6 s is "6 min 0 s", never "5 min 60 s"
  if (n >= 60) return `${Math.floor(n / 60)} min ${n % 60} s`;
  return n === 1 ? "1 second" : `${n} seconds`;
}
const CHANNEL = { voice: "Call", chat: "Chat" };
const MEDIUM = { phone: "by phone", sms: "by text message", whatsapp: "on WhatsApp", web: "on the web" };
const LANGUAGE = { en: "English", cy: "Welsh" };
const skillName = (id) => id.replaceAll("-", " ");

// -- the connection ----------------------------------------------------------------------------
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/expert`);
  state.socket = socket;
  socket.addEventListener("open", () => { state.retry = 0; setConnection("Connected. Offers reach you here as they are made."); });
  socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
  socket.addEventListener("close", (event) => {
    setButtons(false);
    if (state.closedByUs) return;
    if (event.code === 4401) { location.reload(); return; } // signed out: the page says so
    const wait = Math.min(1000 * 2 ** state.retry, 10000);
    state.retry += 1;
    setConnection(`Connection lost. Reconnecting in ${Math.round(wait / 1000)} s… Your offers are kept for you meanwhile.`);
    setTimeout(connect, wait);
  });
}

function send(action, fields = {}) {
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
    setConnection("Not connected: your last action was not sent. Reconnecting…");
    return;
  }
  state.socket.send(JSON.stringify({ action, ...fields }));
}

function setConnection(text) { $("connection").textContent = text; }
function setButtons(enabled) { for (const id of ["go-available", "go-away", "go-offline"]) $(id).disabled = !enabled; }

// -- what the server says ----------------------------------------------------------------------
function handle(event) {
  switch (event.type) {
    case "hello": return hello(event);
    case "state": return showState(event.state, event.reason);
    case "offer": return addOffer(event);
    case "rescind": return removeOffer(event.offer_id, event.reason === "expired" ? "expired" : "withdrawn");
    case "session": return openSession(event);
    case "session_ended": return endSession(event);
    case "message": return addLine(event.session_id, "citizen", event.text);
    case "sent":  // the expert wrote, here or on another of their desks
      if (state.sent.delete(event.ref)) return undefined;
      return addLine(event.session_id, "expert", event.text);
    case "result": return result(event);
    case "error": return setConnection(`The desk could not do that: ${event.message}`);
    default: return undefined;
  }
}

function hello(desk) {
  setButtons(true);
  if (desk.name) $("desk-name").textContent = desk.name;
  showStatus(desk);
  for (const id of [...state.offers.keys()]) removeOffer(id, null);
  for (const offer of desk.offers || []) addOffer({ offer_id: offer.id, expires_at: offer.expires_at, contact: offer.contact });
  for (const session of desk.sessions || []) {
    openSession({ session_id: session.id, contact: session.contact, transcript: session.transcript });
  }
  for (const wrapup of desk.wrapups || []) {
    const id = typeof wrapup === "string" ? wrapup : wrapup.session_id;
    startWrapup(id, typeof wrapup === "string" ? null : wrapup.ends_at);
  }
  showToday(desk.today);
}

function result(event) {
  const value = event.result || {};
  if (event.action === "status") showStatus(value);
  if (event.action === "decline") removeOffer(value.id, null);
  if (event.action === "complete") {
    if (value.session_id && value.wrapup_ends_at) startWrapup(value.session_id, value.wrapup_ends_at);
    refreshDesk();
  }
}

// The desk's own state as the API has it now: today's figures and when each wrap-up ends.
async function refreshDesk() {
  const response = await fetch("/api/v1/me", { credentials: "same-origin" });
  if (!response.ok) return;
  const desk = await response.json();
  showStatus(desk);
  showToday(desk.today);
  const wrapping = new Set();
  for (const wrapup of desk.wrapups || []) {
    const id = typeof wrapup === "string" ? wrapup : wrapup.session_id;
    wrapping.add(id);
    startWrapup(id, typeof wrapup === "string" ? null : wrapup.ends_at);
  }
  for (const id of [...state.sessions.keys()]) {
    const session = state.sessions.get(id);
    const open = (desk.sessions || []).some((s) => s.id === id);
    if (!open && !wrapping.has(id) && session.ended) closeSession(id);
  }
}

function closeSession(id) {
  const session = state.sessions.get(id);
  if (!session) return;
  session.tab.remove();
  session.panel.remove();
  state.sessions.delete(id);
  state.wrapups.delete(id);
  const next = state.sessions.keys().next();
  if (!next.done) select(next.value);
  $("no-sessions").hidden = state.sessions.size > 0;
  if (focusLost()) { // "End wrap-up now" is gone with its conversation: say where they are
    $("status-now").setAttribute("tabindex", "-1");
    $("status-now").focus();
  }
}

function showStatus(desk) {
  const state_ = desk.state || desk.presence;
  let words = { available: "You are available: offers will ring here.", away: "You are away: no offers.",
                offline: "You are offline: no offers.", offered: "An offer is ringing.",
                busy: "You are in a conversation.", wrapup: "You are wrapping up." }[state_] || `State: ${state_}`;
  if (desk.requested === "available" && desk.presence === "away" && desk.reason) {
    words = `You asked to be available, but you are away: ${desk.reason}. No offers come until that changes.`;
  } else if (desk.reason) {
    words += ` (${desk.reason})`;
  }
  $("status-now").textContent = words;
  if (Array.isArray(desk.takes)) {
    $("takes-voice").checked = desk.takes.includes("voice");
    $("takes-chat").checked = desk.takes.includes("chat");
  }
  const asked = desk.requested || desk.presence;
  if (asked) {
    for (const [id, value] of [["go-available", "available"], ["go-away", "away"], ["go-offline", "offline"]]) {
      $(id).setAttribute("aria-pressed", asked === value ? "true" : "false");
    }
  }
}
function showState(value, reason) { showStatus({ state: value, reason }); }

function showToday(today) {
  if (!today) return;
  $("today-sessions").textContent = String(today.sessions);
  $("today-handle").textContent = seconds(today.handle_s || 0);
}

// -- offers ring -------------------------------------------------------------------------------
function addOffer(offer) {
  const id = offer.offer_id;
  if (state.offers.has(id)) return;
  const contact = offer.contact || {};
  const headingId = `offer-${id}-heading`;
  const countdown = el("p", { class: "govuk-body govuk-!-font-weight-bold", id: `offer-${id}-left` });
  const words = contact.first_words
    ? el("blockquote", { class: "govuk-inset-text" },
        el("span", { class: "govuk-visually-hidden", text: "The citizen said: " }), contact.first_words)
    : el("p", { class: "govuk-body", text: contact.channel === "voice" ? "The caller chose from the menu." : "" });
  const card = el("div", { class: "govuk-notification-banner govuk-notification-banner--success", role: "alert",
                           "aria-labelledby": headingId, id: `offer-${id}` },
    el("div", { class: "govuk-notification-banner__header" },
      el("h3", { class: "govuk-notification-banner__title", id: headingId,
                 text: `${CHANNEL[contact.channel] || "Contact"} offered: ${skillName(contact.skill || "")}` })),
    el("div", { class: "govuk-notification-banner__content" },
      el("p", { class: "govuk-body",
                text: `${CHANNEL[contact.channel] || "Contact"} ${MEDIUM[contact.medium] || ""}, in ${LANGUAGE[contact.language] || contact.language}. The citizen has waited ${seconds(contact.waited_s || 0)}.` }),
      words, countdown,
      el("div", { class: "govuk-button-group" },
        el("button", { type: "button", class: "govuk-button", text: "Accept", "aria-describedby": headingId,
                       onclick: () => send("accept", { id }) }),
        el("button", { type: "button", class: "govuk-button govuk-button--warning", text: "Decline",
                       "aria-describedby": headingId, onclick: () => send("decline", { id }) }))));
  $("offers").append(card);
  state.offers.set(id, { card, expires: offer.expires_at, countdown });
  tick();
  ring();
}

function removeOffer(id, why) {
  const offer = state.offers.get(id);
  if (!offer) return;
  offer.card.remove();
  state.offers.delete(id);
  if (why) setConnection(`${why === "expired" ? "An offer ran out of time" : "An offer was withdrawn"}; the citizen keeps their place for the next expert.`);
  ring();
}

function tick() {
  const now = Date.now() / 1000;
  for (const { expires, countdown } of state.offers.values()) {
    countdown.textContent = `Answer within ${Math.max(0, Math.round(expires - now))} seconds`;
  }
  for (const [id, wrap] of state.wrapups) {
    if (wrap.ends && wrap.left) wrap.left.textContent = `Wrap-up: ${seconds(Math.max(0, wrap.ends - now))} left`;
    if (!state.sessions.has(id)) state.wrapups.delete(id);
    if (wrap.ends && wrap.ends <= now && state.sessions.get(id)?.ended) refreshDesk();
  }
  $("no-offers").hidden = state.offers.size > 0;
  document.title = state.offers.size ? `(${state.offers.size}) Offer – Expert desk – Expertline` : "Expert desk – Expertline";
}
setInterval(tick, 1000);

function ring() {
  const wanted = state.offers.size > 0 && $("sound").checked;
  if (wanted && !state.ringing) {
    state.ringing = setInterval(beep, 2500);
    beep();
  } else if (!wanted && state.ringing) {
    clearInterval(state.ringing);
    state.ringing = null;
  }
}
function beep() {
  try {
    state.audio = state.audio || new AudioContext();
    const tone = state.audio.createOscillator();
    const gain = state.audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.15;
    tone.connect(gain).connect(state.audio.destination);
    tone.start();
    tone.stop(state.audio.currentTime + 0.4);
  } catch (_error) { /* no sound on this browser: the banner and the title still show */ }
}
$("sound").addEventListener("change", ring);

// -- conversations -----------------------------------------------------------------------------
function openSession(event) {
  const id = event.session_id;
  const contact = event.contact || {};
  if (event.offer_id) removeOffer(event.offer_id, null);
  if (state.sessions.has(id)) return;
  const n = state.sessions.size + 1;
  const label = `${CHANNEL[contact.channel] || "Contact"} ${n}: ${skillName(contact.skill || "")}`;
  const tab = el("button", { type: "button", role: "tab", id: `tab-${id}`, "aria-controls": `panel-${id}`,
                             class: "govuk-button govuk-button--secondary expertline-tab", text: label,
                             onclick: () => select(id) });
  const log = el("div", { role: "log", "aria-live": "polite", tabindex: "0", class: "expertline-log",
                          "aria-label": `Transcript of ${label}` });
  const panel = el("div", { role: "tabpanel", id: `panel-${id}`, "aria-labelledby": `tab-${id}`, class: "expertline-panel" },
    el("h3", { class: "govuk-heading-s", text: label }),
    el("p", { class: "govuk-body", text: describeContact(contact) }),
    log,
    contact.channel === "chat" ? messageForm(id, label) : el("p", { class: "govuk-body", text: "You are connected by phone: the call rings on the number, app or SIP address on your profile." }),
    endControls(id, label));
  $("session-tabs").append(tab);
  $("sessions").append(panel);
  state.sessions.set(id, { tab, panel, log, contact, label });
  if (Array.isArray(event.transcript)) showTranscript(id, event.transcript);
  else loadTranscript(id);  // the server could not read it just now: ask again
  select(id);
  $("no-sessions").hidden = true;
  // Accept was pressed and is gone with its offer: a keyboard user goes on in the conversation
  if (focusLost()) (panel.querySelector("textarea") || tab).focus();
}

// The focused control was removed from the page (focus fell back to the body).
function focusLost() { return !document.activeElement || document.activeElement === document.body; }

function describeContact(contact) {
  return `${CHANNEL[contact.channel] || "Contact"} ${MEDIUM[contact.medium] || ""} about ${skillName(contact.skill || "")}, in ${LANGUAGE[contact.language] || contact.language}.`;
}

async function loadTranscript(id) {
  const response = await fetch(`/api/v1/me/sessions/${encodeURIComponent(id)}/messages`, { credentials: "same-origin" });
  if (response.ok) showTranscript(id, (await response.json()).items || []);
}

// The whole chat so far, the citizen's first words first (from the server: a reload, a
// second device or a restart all see the same).
function showTranscript(id, lines) {
  const session = state.sessions.get(id);
  if (!session) return;
  session.log.replaceChildren();
  for (const line of lines) addLine(id, line.sender, line.text);
}

const SPEAKER = { citizen: ["Citizen", "Citizen said:"], expert: ["You", "You said:"], system: ["System", "System message:"] };
function addLine(id, sender, text) {
  const session = state.sessions.get(id);
  if (!session || !text) return;
  const [shown, spoken] = SPEAKER[sender] || SPEAKER.system;
  session.log.append(el("p", { class: `govuk-body expertline-line expertline-line--${sender}` },
    el("span", { class: "govuk-visually-hidden", text: `${spoken} ` }),
    el("strong", { "aria-hidden": "true", text: `${shown}: ` }), text));
  session.log.scrollTop = session.log.scrollHeight;
}

function messageForm(id, label) {
  const inputId = `say-${id}`;
  const input = el("textarea", { class: "govuk-textarea", id: inputId, rows: "2", maxlength: "2000" });
  const form = el("form", { class: "govuk-form-group", novalidate: true, onsubmit: (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      const ref = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
      state.sent.add(ref);
      send("message", { id, text, ref });
      addLine(id, "expert", text);
      input.value = "";
    } },
    el("label", { class: "govuk-label", for: inputId, text: `Your message (${label})` }),
    input,
    el("button", { type: "submit", class: "govuk-button", text: "Send" }));
  return form;
}

function endControls(id, label) {
  const boxId = `distressing-${id}`;
  const box = el("input", { class: "govuk-checkboxes__input", id: boxId, type: "checkbox" });
  const left = el("p", { class: "govuk-body", id: `wrapup-${id}` });
  const finish = el("button", { type: "button", class: "govuk-button govuk-button--secondary", text: "Complete",
                                "aria-describedby": `tab-${id}`,
                                onclick: () => send("complete", { id, distressing: box.checked }) });
  const controls = el("div", { class: "govuk-form-group" },
    el("div", { class: "govuk-checkboxes govuk-checkboxes--small" },
      el("div", { class: "govuk-checkboxes__item" }, box,
        el("label", { class: "govuk-label govuk-checkboxes__label", for: boxId,
                      text: "This conversation was distressing (you get recovery time after wrap-up)" }))),
    finish, left);
  state.wrapups.set(id, { left, ends: null, finish, label });
  return controls;
}

function select(id) {
  state.current = id;
  for (const [other, session] of state.sessions) {
    const on = other === id;
    session.tab.setAttribute("aria-selected", on ? "true" : "false");
    session.panel.hidden = !on;
  }
}

function endSession(event) {
  const id = event.session_id;
  addLine(id, "system", event.by === "citizen" ? "The citizen has left the conversation." : "The conversation has ended.");
  startWrapup(id, event.wrapup_ends_at || null);
  refreshDesk();
}

function startWrapup(id, endsAt) {
  const wrap = state.wrapups.get(id);
  const session = state.sessions.get(id);
  if (!wrap || !session) return;
  session.ended = true;
  wrap.ends = endsAt;
  wrap.finish.textContent = "End wrap-up now";
  wrap.left.textContent = endsAt ? "" : "Wrap-up: write your notes, then end wrap-up.";
  session.tab.textContent = `${session.label} (wrap-up)`;
  const form = session.panel.querySelector("form");
  if (form) form.hidden = true;  // the citizen has gone: nothing more to send
  tick();
}

// -- next shifts -------------------------------------------------------------------------------
async function loadShifts() {
  const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
  const list = $("shifts");
  try {
    const response = await fetch(`/api/v1/experts/${encodeURIComponent(expertId)}/rota?from=${day(0)}&to=${day(6)}`, { credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    const { shifts } = await response.json();
    const coming = shifts.filter((s) => new Date(s.end) > new Date()).slice(0, 3);
    list.replaceChildren(...(coming.length ? coming.map((s) => el("li", { text: shiftText(s) })) : [el("li", { text: "No shifts in the next 7 days." })]));
  } catch (_error) {
    list.replaceChildren(el("li", { text: "Your shifts could not be read just now." }));
  }
}
function shiftText(shift) {
  const start = new Date(shift.start);
  const end = new Date(shift.end);
  const fmt = { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  return `${start.toLocaleString("en-GB", fmt)} to ${end.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })}`;
}

// -- status buttons ----------------------------------------------------------------------------
// What the expert takes; null (and the error shown by the boxes) when they ticked neither.
function takes() {
  const chosen = ["takes-voice", "takes-chat"].filter((id) => $(id).checked).map((id) => $(id).value);
  $("takes-group").classList.toggle("govuk-form-group--error", !chosen.length);
  $("takes-error").hidden = chosen.length > 0;
  if (!chosen.length) $("takes-voice").focus();
  return chosen.length ? chosen : null;
}
for (const id of ["takes-voice", "takes-chat"]) {
  $(id).addEventListener("change", () => {
    if ($("takes-voice").checked || $("takes-chat").checked) takes(); // clears the error
  });
}
$("go-available").addEventListener("click", () => {
  const chosen = takes();
  if (!chosen) return;
  send("status", { status: "available", takes: chosen });
  if (state.audio) state.audio.resume();
});
$("go-away").addEventListener("click", () => {
  const chosen = takes();
  if (chosen) send("status", { status: "away", reason: $("away-reason").value, takes: chosen });
});
$("go-offline").addEventListener("click", () => send("status", { status: "offline" }));
window.addEventListener("beforeunload", () => { state.closedByUs = true; });

connect();
loadShifts();
