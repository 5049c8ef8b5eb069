// Every page: mark the body as able to run GOV.UK Frontend, then start its components.
// GOV.UK's own template marks it with an inline script, which our content security policy
// forbids; a module script runs only in the browsers GOV.UK Frontend supports, so this one can
// mark it. (isSupported() only reads the mark, so it must be set first.)
import { initAll } from "./govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
