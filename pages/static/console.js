// The wallboard: one WebSocket to /ws/console (the session cookie signs it in). Each frame
// carries the same figures as GET /api/v1/stats, the contacts not yet finished and the skills
// heading for a breach (GET /api/v1/alerts); the page redraws its tables and a banner per
// alert from it. A dropped connection reconnects by itself.

const $ = (id) => document.getElementById(id);
const state = { retry: 0, alerts: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}
const cell = (text, numeric = false) =>
  el("td", { class: numeric ? "govuk-table__cell govuk-table__cell--numeric" : "govuk-table__cell", text: String(text) });
const percent = (share) => (share === null || share === undefined ? "none settled" : `${(share * 100).toFixed(1)}%`);
// A skill's service level, with its own goal and target when it falls short of the goal.
function level(summary) {
  const shown = percent(summary.service_level);
  if (summary.service_level === null || summary.service_level >= summary.goal) return shown;
  return `${shown}, below its goal of ${percent(summary.goal)} in ${summary.target_s} s`;
}
function seconds(s) {
  if (s >= 60) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.round(s)} s`;
}
const skillName = (id) => id.replaceAll("-", " ");
const CHANNEL = { voice: "calls", chat: "chats" };
const MEDIUM = { phone: "Phone", sms: "Text message", whatsapp: "WhatsApp", web: "Web chat" };

// -- the figures --------------------------------------------------------------------------------
function skillRows(stats) {
  const rows = new Map();
  const row = (skill) => {
    if (!rows.has(skill)) rows.set(skill, { skill, waiting: 0, longest: 0, eligible: 0, free: [], today: null, recent: null });
    return rows.get(skill);
  };
  for (const q of stats.queues) {
    const r = row(q.skill);
    r.waiting += q.waiting;
    r.longest = Math.max(r.longest, q.longest_wait_s);
    r.eligible = Math.max(r.eligible, q.eligible_experts);
    r.free.push(`${q.available_experts} for ${CHANNEL[q.channel] || q.channel}`);
  }
  for (const [skill, figures] of Object.entries(stats.by_skill)) {
    const r = row(skill);
    r.today = figures.today;
    r.recent = figures.last_30_min;
  }
  return [...rows.values()].sort((a, b) => b.waiting - a.waiting || a.skill.localeCompare(b.skill));
}

function drawSkills(stats) {
  const body = $("skills");
  const rows = skillRows(stats);
  if (rows.length === 0) {
    body.replaceChildren(el("tr", { class: "govuk-table__row" },
      el("td", { class: "govuk-table__cell", colspan: "9", text: "Nobody is waiting and no contact has come in today." })));
    return;
  }
  body.replaceChildren(...rows.map((r) => el("tr", { class: "govuk-table__row", "data-skill": r.skill },
    el("th", { scope: "row", class: "govuk-table__header", text: skillName(r.skill) }),
    cell(r.waiting, true), cell(r.waiting ? seconds(r.longest) : "–", true),
    cell(r.waiting ? r.eligible : "–", true), cell(r.free.length ? r.free.join(", ") : "–"),
    cell(r.today ? level(r.today) : "–", true),
    cell(r.recent ? level(r.recent) : "–", true),
    cell(r.today ? r.today.abandoned : 0, true), cell(r.recent ? r.recent.abandoned : 0, true))));
}

function drawContacts(contacts) {
  const body = $("contacts");
  if (contacts.length === 0) {
    body.replaceChildren(el("tr", { class: "govuk-table__row" },
      el("td", { class: "govuk-table__cell", colspan: "7", text: "None." })));
    return;
  }
  body.replaceChildren(...contacts.map((c) => el("tr", { class: "govuk-table__row", "data-contact": c.id },
    el("td", { class: "govuk-table__cell" },
      el("a", { class: "govuk-link", href: `/console/contacts/${encodeURIComponent(c.id)}`, text: c.id })),
    cell(skillName(c.skill)), cell(MEDIUM[c.medium] || c.medium), cell(c.priority, true),
    cell(c.state), cell(seconds(c.waited_s), true), cell(c.expert_id || "–"))));
}

// -- the breach alerts: worded as pages/wallboard.py words them on the server ----------------------
function alertWords(alert) {
  const predicted = [...alert.outlook].sort((a, b) => a.horizon_min - b.horizon_min)
    .map((o) => `${percent(o.service_level)} in the next ${o.horizon_min} minutes`).join(" and ");
  const name = skillName(alert.skill);
  return {
    heading: `${name.charAt(0).toUpperCase()}${name.slice(1)} is heading for a breach`,
    outlook: `Predicted service level: ${predicted}, against a promise of ${percent(alert.service_level_target)} answered within ${alert.target_s} s.`,
    suggestion: `Suggestion: ${alert.suggestion || "call in cover"}.`,
  };
}

function drawAlerts(alerts) {
  const seen = JSON.stringify(alerts);
  if (seen === state.alerts) return; // unchanged: leave the live region quiet
  state.alerts = seen;
  $("alerts").replaceChildren(...alerts.map((alert, i) => {
    const words = alertWords(alert);
    return el("div", { class: "govuk-notification-banner", role: "region", "aria-labelledby": `alert-title-${i + 1}`, "data-skill": alert.skill },
      el("div", { class: "govuk-notification-banner__header" },
        el("h2", { class: "govuk-notification-banner__title", id: `alert-title-${i + 1}`, text: "Service level at risk" })),
      el("div", { class: "govuk-notification-banner__content" },
        el("p", { class: "govuk-notification-banner__heading", text: words.heading }),
        el("p", { class: "govuk-body", text: words.outlook }),
        el("p", { class: "govuk-body", text: words.suggestion })));
  }));
}

function draw(frame) {
  const { stats, contacts } = frame;
  drawAlerts(frame.alerts || []);
  $("waiting").textContent = String(stats.waiting);
  $("sl-today").textContent = `${percent(stats.today.service_level)} answered in time, goal ${percent(stats.today.goal)} (${stats.today.answered} answered, ${stats.today.abandoned} abandoned; in time is within ${stats.today.target_s} s, or the skill's own target)`;
  $("sl-recent").textContent = `${percent(stats.last_30_min.service_level)} (${stats.last_30_min.answered} answered, ${stats.last_30_min.abandoned} abandoned)`;
  $("abandoned-today").textContent = `${stats.today.abandoned} (${percent(stats.today.abandon_rate)})`;
  $("experts").textContent = Object.entries(stats.experts).filter(([, n]) => n > 0)
    .map(([name, n]) => `${n} ${name}`).join(", ") || "none signed in";
  drawSkills(stats);
  drawContacts(contacts);
  const at = new Date(stats.at);
  $("as-at").textContent = `Figures as at ${at.toLocaleTimeString("en-GB")}.`;
}

// -- the connection -----------------------------------------------------------------------------
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/console`);
  socket.addEventListener("open", () => {
    state.retry = 0;
    $("connection").textContent = "Live: the figures change as routing does.";
  });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "wallboard") draw(frame);
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4401) { if (!leaving) location.reload(); return; } // signed out: the page says so
    const wait = Math.min(1000 * 2 ** state.retry, 10000);
    state.retry += 1;
    $("connection").textContent = `Connection lost. Trying again in ${Math.round(wait / 1000)} s…`;
    setTimeout(connect, wait);
  });
}

let leaving = false; // a sign-out or a link followed: its page comes next, not a reload
window.addEventListener("beforeunload", () => { leaving = true; });
connect();
