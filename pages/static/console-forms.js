// The console's forms (an expert's page, a contact's, the skills and organisations pages): each form (class expertline-api-form)
// sends one change to the JSON API with the session cookie and the page's CSRF token. The API checks it, records it in the
// audit log and tells the routing engine; this script only shows what the API answered: its
// error message in the error summary and next to the field, or, after a reload that shows the
// saved state, a success banner.
//
// A form says what it sends: data-method, data-url (with {field} replaced by that field's value),
// data-body ("level", "languages", "accreditation", "fields" — see fields() below — or none),
// data-done (the success message, {field} replaced by the field's shown value) and, optionally,
// data-next (where to go after success, {field} replaced as in data-url; else the page reloads).

const NOTICE_KEY = "expertline.console.notice";
const $ = (id) => document.getElementById(id);
const csrf = document.querySelector('meta[name="csrf-token"]').content;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// -- what a form sends -------------------------------------------------------------------------
class Problem extends Error {
  constructor(message, field, element) { super(message); this.field = field; this.element = element; }
}

function value(form, name) {
  const field = form.elements.namedItem(name);
  return field ? field.value.trim() : "";
}

function shown(form, name) {
  const field = form.elements.namedItem(name);
  if (!field) return "";
  if (field.tagName === "SELECT") return field.options[field.selectedIndex].text;
  return field.value.trim();
}

function expiry(form) {
  const [day, month, year] = ["day", "month", "year"].map((name) => value(form, name));
  if (!day && !month && !year) return null;
  if (!day || !month || !year || !/^\d{1,2}$/.test(day) || !/^\d{1,2}$/.test(month) || !/^\d{4}$/.test(year)) {
    throw new Problem("Enter the expiry date as a day, month and year, like 27 3 2027, or leave it empty", "expires_on");
  }
  return `${year}-${month.padStart(2, "0")}-${day.padStart(2, "0")}`;
}

const labelOf = (control) => control.labels?.[0]?.textContent.trim().replace(/\s+/g, " ") || control.name;

// A [data-field][data-date] group: its [data-part="day|month|year"] inputs as YYYY-MM-DD, or null
// when all three are empty; data-date names the date in the error message.
function dateOf(group) {
  const [day, month, year] = ["day", "month", "year"].map((part) => group.querySelector(`[data-part="${part}"]`).value.trim());
  if (!day && !month && !year) return null;
  if (!/^\d{1,2}$/.test(day) || !/^\d{1,2}$/.test(month) || !/^\d{4}$/.test(year)) {
    throw new Problem(`Enter ${group.dataset.date || "the date"} as a day, month and year, like 27 3 2027, or leave it empty`, group.dataset.field);
  }
  return `${year}-${month.padStart(2, "0")}-${day.padStart(2, "0")}`;
}

// "fields": every [data-field] control by its name, left out when empty — unless it has
// data-empty, which sends "" (or null, with data-empty="null") — as a number with data-number,
// as a list of strings with data-list (split at commas and line breaks); a [data-date] group as
// a date (see dateOf). Each element with data-entry="NAME" is one entry of the map NAME (always
// sent, so removing every entry sends {}): its [data-key] control names the entry, its
// [data-value] control holds the value (a number with data-number), a ticked [data-drop]
// checkbox leaves it out, and so does leaving both key and value empty.
function fields(form) {
  const body = {};
  for (const field of form.querySelectorAll("[data-field]")) {
    if ("date" in field.dataset) {
      const day = dateOf(field);
      if (day) body[field.dataset.field] = day;
      continue;
    }
    if (!field.name) continue;
    const text = field.value.trim();
    if ("list" in field.dataset) body[field.name] = text.split(/[,\n]/).map((item) => item.trim()).filter(Boolean);
    else if (text !== "") body[field.name] = "number" in field.dataset ? Number(text) : text;
    else if ("empty" in field.dataset) body[field.name] = field.dataset.empty === "null" ? null : "";
  }
  for (const entry of form.querySelectorAll("[data-entry]")) {
    const map = body[entry.dataset.entry] ??= {};
    const [key, val, drop] = ["[data-key]", "[data-value]", "[data-drop]"].map((s) => entry.querySelector(s));
    const [k, v] = [key.value.trim(), val.value.trim()];
    if (drop?.checked || (!k && !v)) continue;
    if (!k) throw new Problem(`Choose “${labelOf(key)}” for the value you entered, or clear “${labelOf(val)}”`, entry.dataset.entry, key);
    if (!v) throw new Problem(`Enter “${labelOf(val)}”${drop ? `, or tick “${labelOf(drop)}”` : ""}`, entry.dataset.entry, val);
    map[k] = "number" in val.dataset ? Number(v) : v;
  }
  return body;
}

const BODIES = {
  fields,
  level: (form) => ({ level: Number(value(form, "level")) }),
  languages: (form) => ({ languages: value(form, "languages").split(/[\s,]+/).filter(Boolean) }),
  accreditation: (form) => {
    if (!value(form, "name")) throw new Problem("Enter the accreditation's short name, like enhanced-dbs", "name");
    return { name: value(form, "name"), reference: value(form, "reference"), expires_on: expiry(form) };
  },
};

const fill = (template, form, how) => template.replace(/\{(\w+)\}/g, (_, name) => how(form, name));

// -- sending -----------------------------------------------------------------------------------
async function send(form) {
  const maker = BODIES[form.dataset.body];
  const body = maker ? JSON.stringify(maker(form)) : undefined;
  const url = fill(form.dataset.url, form, (f, name) => encodeURIComponent(value(f, name)));
  let response;
  try {
    response = await fetch(url, {
      method: form.dataset.method,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, ...(body ? { "Content-Type": "application/json" } : {}) },
      body,
    });
  } catch {
    throw new Problem("Expertline could not be reached, so nothing was changed. Try again.");
  }
  if (response.ok) return;
  if (response.status === 401) throw new Problem("Your session has ended: sign in again to make changes.");
  let error = {};
  try { error = (await response.json()).error || {}; } catch { /* not JSON: say what we know */ }
  throw new Problem(error.message || `The change was refused (HTTP ${response.status}).`, error.details?.field);
}

async function submitted(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button[type=submit]");
  clearErrors();
  button.disabled = true;
  try {
    await send(form);
    sessionStorage.setItem(NOTICE_KEY, fill(form.dataset.done, form, shown));
    if (form.dataset.next) location.assign(fill(form.dataset.next, form, (f, name) => encodeURIComponent(value(f, name))));
    else location.reload();
  } catch (problem) {
    button.disabled = false;
    showError(form, problem instanceof Problem ? problem : new Problem(String(problem)));
  }
}

// -- showing what happened ---------------------------------------------------------------------
function clearErrors() {
  $("error-summary").hidden = true;
  $("error-list").replaceChildren();
  for (const message of document.querySelectorAll(".expertline-js-error")) message.remove();
  for (const group of document.querySelectorAll(".govuk-form-group--error")) group.classList.remove("govuk-form-group--error");
  for (const field of document.querySelectorAll(".govuk-input--error, .govuk-select--error, .govuk-textarea--error")) {
    field.classList.remove("govuk-input--error", "govuk-select--error", "govuk-textarea--error");
  }
  for (const field of document.querySelectorAll("[data-error-described]")) {
    field.setAttribute("aria-describedby", field.dataset.errorDescribed);
    if (!field.dataset.errorDescribed) field.removeAttribute("aria-describedby");
    delete field.dataset.errorDescribed;
  }
}

// The field the API (or our own check) named, else the form's only field, else its button.
function target(form, field) {
  const named = field && form.querySelector(`[data-field="${CSS.escape(field)}"]`);
  if (named) return named;
  const fields = form.querySelectorAll("[data-field]");
  return fields.length === 1 ? fields[0] : form.querySelector("button[type=submit]");
}

function showError(form, problem) {
  const place = problem.element || target(form, problem.field);
  const focusable = place.matches("input, select, textarea, button") ? place : place.querySelector("input, select, textarea");
  if (!focusable.id) focusable.id = `field-${Math.random().toString(36).slice(2)}`;
  const link = el("a", { href: `#${focusable.id}`, text: problem.message });
  link.addEventListener("click", (event) => { event.preventDefault(); focusable.focus(); });
  $("error-list").append(el("li", {}, link));
  const summary = $("error-summary");
  const group = place.closest(".govuk-form-group");
  if (group && !place.matches("button")) {
    const id = `${focusable.id}-error`;
    const message = el("p", { class: "govuk-error-message expertline-js-error", id },
                       el("span", { class: "govuk-visually-hidden", text: "Error: " }), problem.message);
    group.classList.add("govuk-form-group--error");
    place.before(message);
    for (const field of place.matches("input, select, textarea") ? [place] : place.querySelectorAll("input")) {
      field.classList.add({ SELECT: "govuk-select--error", TEXTAREA: "govuk-textarea--error" }[field.tagName] || "govuk-input--error");
    }
    focusable.dataset.errorDescribed = focusable.getAttribute("aria-describedby") || "";
    focusable.setAttribute("aria-describedby", `${focusable.dataset.errorDescribed} ${id}`.trim());
  }
  summary.hidden = false;
  summary.focus();
}

function showNotice() {
  const text = sessionStorage.getItem(NOTICE_KEY);
  if (!text) return;
  sessionStorage.removeItem(NOTICE_KEY);
  $("notice-text").textContent = text;
  const banner = $("notice");
  banner.hidden = false;
  banner.focus();
}

for (const form of document.querySelectorAll("form.expertline-api-form")) form.addEventListener("submit", submitted);
showNotice();
