// The citizen's web chat: one WebSocket to /ws/chat. The page works in the citizen's language
// (its words come with the page, as JSON in data-words); the server's own lines come translated.
// A reload or a dropped connection resumes the chat with its transcript: the resume token lives
// in this tab's session storage, and the server keeps the chat for a few minutes. Ending it is
// explicit ("End chat").

const root = document.getElementById("chat");
const words = JSON.parse(root.dataset.words);
let lang = root.dataset.lang;
const $ = (id) => document.getElementById(id);
const KEY = "expertline-chat";
const state = { socket: null, token: null, over: false, retry: 0, started: false, expertName: "", callback: false,
  resuming: false };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// -- the transcript: who said what, for eyes and for screen readers -----------------------------
const SPEAKERS = { you: ["you", "you_said"], expert: ["expert", "expert_said"], system: ["system", "system_said"] };
function addLine(from, text) {
  if (!text) return;
  const [shown, spoken] = SPEAKERS[from] || SPEAKERS.system;
  const cls = from === "you" ? "expert" : from === "expert" ? "citizen" : "system";
  const label = from === "expert" && state.expertName ? state.expertName : words[shown];
  $("transcript").append(el("p", { class: `govuk-body expertline-line expertline-line--${cls}` },
    el("span", { class: "govuk-visually-hidden", text: `${words[spoken]} ` }),
    el("strong", { "aria-hidden": "true", text: `${label}: ` }), text));
  $("transcript").scrollTop = $("transcript").scrollHeight;
  if (from === "expert" && $("chat-sound").checked) chime();
}

function setStatus(text) { $("chat-status").textContent = text; }

function showQueue(frame) {
  // the server words the place, the wait and "nobody on duty" in the chat's language
  if (frame.text) setStatus(frame.text);
}
function showExpert(frame) {
  if (frame.text) setStatus(frame.text);
  // the expert's lines carry the first name they agreed to show (spoken: "Expert said:")
  state.expertName = (frame.expert && frame.expert.name) || "";
  if (!state.expertName) return;
  for (const label of document.querySelectorAll("#transcript .expertline-line--citizen > strong")) {
    label.textContent = `${state.expertName}: `;
  }
}

// -- the connection --------------------------------------------------------------------------
function remember(token) {
  state.token = token;
  sessionStorage.setItem(KEY, JSON.stringify({ token, lang }));
}
function forget() { sessionStorage.removeItem(KEY); state.token = null; }

function connect(first) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/chat`);
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.retry = 0;
    if (first) {
      // /chat?org=ID opens the chat on that organisation's line (its local rules)
      const org = new URLSearchParams(location.search).get("org");
      socket.send(JSON.stringify({ type: "hello", text: first, language: lang, ...(org ? { org } : {}) }));
    } else {
      socket.send(JSON.stringify({ type: "resume", token: state.token, language: lang }));
      socket.send(JSON.stringify({ type: "language", language: lang }));  // this page's
    }
  });
  socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
  socket.addEventListener("close", (event) => {
    if (event.code === 4001) return finish(words.elsewhere);  // taken back in another window
    if (state.over || !state.token) return undefined;
    setStatus(words.reconnecting);
    const wait = Math.min(1000 * 2 ** state.retry, 8000);
    state.retry += 1;
    setTimeout(() => connect(null), wait);
    return undefined;
  });
}

function handle(frame) {
  switch (frame.type) {
    case "queued":
      if (frame.resume_token) remember(frame.resume_token);
      addLine("system", frame.text);
      return showQueue(frame);
    case "resumed": state.resuming = true; return undefined;
    case "transcript":
      $("transcript").replaceChildren();
      for (const line of frame.lines || []) addLine(line.from, line.text);
      return undefined;
    case "position": state.resuming = false; return showQueue(frame);
    case "closed":  // the line is closed: its message, and maybe "send us your number"
      addLine("system", frame.text);
      if (!frame.callback) return finish(frame.text);
      state.callback = true;
      return setStatus(frame.text);
    case "callback_booked": return finish(frame.text);
    case "connected":
      // after a resume it is the state now, not news: the status says it, and the log keeps
      // the conversation in the order it happened
      if (!state.resuming) addLine("system", frame.text);
      state.resuming = false;
      return showExpert(frame);
    case "message": return addLine("expert", frame.text);
    case "language": return undefined;
    case "system": return addLine("system", frame.text);
    case "ended": return finish(frame.text || words.ended);
    case "error":
      if (String(frame.code).startsWith("resume_")) return lost();
      return addLine("system", frame.message);
    default: return undefined;
  }
}

function finish(text) {
  state.over = true;
  forget();
  if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.close();
  $("say").hidden = true;
  $("finished-text").textContent = text;
  $("print-after").hidden = false; // the conversation stays on the page: it can still be kept
  $("finished").hidden = false;
  $("finished-text").focus(); // the buttons the citizen was on are gone
  setStatus(text);
}

function lost() {
  forget();
  $("conversation").hidden = true;
  $("start").hidden = false;
  $("finished-text").textContent = words.lost;
  $("print-after").hidden = true; // nothing is left on the page to print
  $("finished").hidden = false;
}

function chime() {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    tone.frequency.value = 660;
    tone.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.2);
  } catch (_error) { /* no sound here */ }
}

// -- what the citizen does -------------------------------------------------------------------------
function showConversation() {
  $("start").hidden = true;
  $("finished").hidden = true;
  $("conversation").hidden = false;
}

$("start").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("first-words").value.trim();
  $("first-words-error").hidden = Boolean(text);
  $("start-group").classList.toggle("govuk-form-group--error", !text);
  if (!text) { $("first-words").focus(); return; }
  showConversation();
  addLine("you", text);
  connect(text);
});

$("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("message").value.trim();
  if (!text || !state.socket || state.socket.readyState !== WebSocket.OPEN) return;
  // after "closed", what the citizen writes is the number to ring them on
  state.socket.send(JSON.stringify(state.callback ? { type: "callback", number: text } : { type: "message", text }));
  addLine("you", text);
  $("message").value = "";
});

$("end").addEventListener("click", () => {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify({ type: "end" }));
  finish(words.ended);
});

for (const id of ["print", "print-after"]) $(id).addEventListener("click", () => window.print());

$("switch-language").addEventListener("click", () => {
  // the chat carries on in the other language after the page reloads
  const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
  if (saved) sessionStorage.setItem(KEY, JSON.stringify({ ...saved, lang: $("switch-language").getAttribute("lang") }));
});

// -- a reload resumes ----------------------------------------------------------------------------
const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
if (saved && saved.token) {
  state.token = saved.token;
  showConversation();
  connect(null);
}
