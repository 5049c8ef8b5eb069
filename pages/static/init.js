// Every page: mark the body as able to run GOV.UK Frontend, then start its components.
// (GOV.UK's own template does this with an inline script; ours must not have one.)
import { initAll, isSupported } from "./govuk/govuk-frontend.min.js";

if (isSupported()) {
  document.body.classList.add("govuk-frontend-supported");
  initAll();
}
