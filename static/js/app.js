// Behaviour shared by every page, bound by data- attributes instead of inline
// handlers (the Content-Security-Policy runs no onclick=/onchange= code).
// Delegated from the document, so content swapped in by htmx works too.
//   <select data-autosubmit>   submits its form when the choice changes
//   <button data-confirm="…">  asks before it acts; "Cancel" stops the click
//   <div hx-trigger="…" data-hold-while-focused>  skips a refresh while the focus is inside
//       it, so rows do not change under the person's hands (an htmx trigger filter would
//       do this with eval, which the policy forbids), and catches up once the focus leaves
//   <div hx-trigger="…" data-hold-while-open>  the same while a <details> inside is open
//   <div hx-trigger="…" data-hold-while-checked>  the same while a checkbox inside is ticked
//       (rows chosen for a bulk action stay chosen)
//   <input type="checkbox" data-check-all="FORM-ID">  ticks or clears every checkbox of that form
//   <body data-updates-url>  asks every 2 s whether anything on this person's screen
//       changed (leads/updates.py) and fires "revops:changed" on the body when it did
//   <span class="sla-badge" data-left data-runs-for>  counts down live between updates
//   <div data-undo-for="ms">  an "Undo" offer, whose button goes when its time is up
//   <button data-desktop-alerts>  turns desktop notifications (with a chime) on or off
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    const select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) select.form.submit();
  });

  document.addEventListener("click", function (event) {
    const control = event.target.closest("[data-confirm]");
    if (control && !window.confirm(control.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  });

  // An "Undo" offer (leads/_undo_offer.html) loses its button when its seconds are up;
  // the message itself stays.
  document.querySelectorAll("[data-undo-for]").forEach(function (offer) {
    setTimeout(function () {
      const form = offer.querySelector("form");
      if (form) form.remove();
    }, Number(offer.dataset.undoFor) || 0);
  });

  document.addEventListener("change", function (event) {
    const all = event.target.closest("input[data-check-all]");
    if (!all) return;
    document.querySelectorAll('input[type=checkbox][form="' + all.dataset.checkAll + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // --- refreshes that wait for the person -------------------------------------------
  const held = (element) =>
    (element.matches("[data-hold-while-focused]") && element.contains(document.activeElement)) ||
    (element.matches("[data-hold-while-open]") && element.querySelector("details[open]") !== null) ||
    (element.matches("[data-hold-while-checked]") && element.querySelector("input[type=checkbox]:checked") !== null);

  document.addEventListener("htmx:beforeRequest", function (event) {
    const element = event.detail.elt;
    if (held(element)) {
      event.preventDefault();
      element.dataset.stale = "1";  // refreshed as soon as the person lets go
    }
  });

  function catchUp() {
    document.querySelectorAll("[data-stale]").forEach(function (element) {
      if (!held(element)) {
        delete element.dataset.stale;
        window.htmx.trigger(element, "refresh");
      }
    });
  }
  document.addEventListener("focusout", () => window.setTimeout(catchUp, 0));
  document.addEventListener("change", () => window.setTimeout(catchUp, 0));  // a box unticked
  document.addEventListener("toggle", catchUp, true);  // a <details> closed (toggle does not bubble)

  // --- live updates -------------------------------------------------------------------
  const updatesUrl = document.body.dataset.updatesUrl;
  const VISIBLE_EVERY = 2000;  // ms; a new lead shows within about this long
  const HIDDEN_EVERY = 10000;  // a background tab still raises desktop alerts, less often
  let version = null;
  let timer = null;
  let asking = false;

  async function poll() {
    window.clearTimeout(timer);
    if (asking) return;
    asking = true;
    let again = document.hidden ? HIDDEN_EVERY : VISIBLE_EVERY;
    try {
      const headers = { Accept: "application/json" };
      if (version !== null) headers["If-None-Match"] = '"' + version + '"';
      const response = await fetch(updatesUrl, { headers: headers, cache: "no-store", credentials: "same-origin" });
      if (response.status === 200 && !response.redirected) {
        const body = await response.json();
        const first = version === null;
        version = body.version;
        if (!first) document.body.dispatchEvent(new CustomEvent("revops:changed", { detail: body }));
        alertDesktop(body.newest, first);
      } else if (response.status !== 304) {
        again = 60000;  // signed out or the server is in trouble: ask rarely
      }
    } catch (error) {
      again = 15000;  // offline for a moment
    }
    asking = false;
    timer = window.setTimeout(poll, again);
  }
  if (updatesUrl) {
    poll();
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) poll();  // back to the tab: ask now, not at the slow pace
    });
  }

  // --- desktop alerts (opt-in, remembered per browser) -----------------------------------
  const ALERTS_KEY = "revops.desktopAlerts";
  const SEEN_KEY = "revops.lastAlerted";
  const alertsOn = () => window.localStorage.getItem(ALERTS_KEY) === "on" && "Notification" in window &&
    window.Notification.permission === "granted";

  function chime() {
    try {
      const audio = new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.5);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.5);
    } catch (error) { /* no sound: the alert itself still shows */ }
  }

  function alertDesktop(newest, first) {
    if (!newest) return;
    const seen = Number(window.localStorage.getItem(SEEN_KEY) || 0);
    if (newest.id <= seen) return;
    window.localStorage.setItem(SEEN_KEY, String(newest.id));  // one alert across this person's tabs
    if (first || !alertsOn()) return;
    const alert = new window.Notification(newest.title, { tag: "revops-" + newest.id });
    alert.onclick = function () { window.focus(); window.location.assign(newest.url); };
    chime();
  }

  function showAlertsButton(root) {
    root.querySelectorAll("[data-desktop-alerts]").forEach(function (button) {
      if (!("Notification" in window) || window.Notification.permission === "denied") return;
      button.hidden = false;
      button.textContent = alertsOn() ? button.dataset.onText : button.dataset.offText;
      button.setAttribute("aria-pressed", String(alertsOn()));
    });
  }
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-desktop-alerts]");
    if (!button) return;
    if (alertsOn()) {
      window.localStorage.setItem(ALERTS_KEY, "off");
    } else if ((await window.Notification.requestPermission()) === "granted") {
      window.localStorage.setItem(ALERTS_KEY, "on");
      chime();
    }
    showAlertsButton(document);
  });
  document.addEventListener("htmx:afterSwap", (event) => showAlertsButton(event.detail.elt));

  // --- SLA badges count down between updates ---------------------------------------------
  const clockTexts = document.getElementById("clock-texts");
  const texts = clockTexts ? JSON.parse(clockTexts.textContent) : null;
  const fill = (format, values) =>
    format.replace(/%\((\w+)\)(02)?[sd]/g, (all, name, pad) => (pad ? String(values[name]).padStart(2, "0") : String(values[name])));

  function human(seconds) {
    const total = Math.floor(Math.abs(seconds) / 60);
    if (total === 0) return texts.under_minute;
    const days = Math.floor(total / 1440);
    const hours = Math.floor((total % 1440) / 60);
    const minutes = total % 60;
    if (days) return fill(texts.days, { d: days, h: hours });
    if (hours) return fill(texts.hours, { h: hours, m: minutes });
    return fill(texts.minutes, { m: minutes });
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll(".sla-badge[data-left]").forEach(function (badge) {
      if (!badge.dataset.since) badge.dataset.since = String(now);  // drawn (or swapped in) just now
      const elapsed = (now - Number(badge.dataset.since)) / 1000;
      const runsFor = Number(badge.dataset.runsFor);
      const left = Number(badge.dataset.left) - Math.min(elapsed, runsFor);
      let state;
      let text;
      if (left <= 0) {
        state = "overdue";
        text = fill(texts.missed, { t: human(left) });
      } else if (elapsed >= runsFor && badge.dataset.pausedText) {
        state = "paused";
        text = badge.dataset.pausedText;
      } else {
        state = left <= Number(badge.dataset.budget) / 3 ? "at_risk" : "ok";
        text = fill(texts.left, { t: human(left) });
      }
      badge.classList.remove("sla-ok", "sla-at_risk", "sla-overdue", "sla-paused");
      badge.classList.add("sla-" + state);
      if (badge.textContent !== text) badge.textContent = text;
    });
  }
  if (texts) {
    showAlertsButton(document);
    tick();
    window.setInterval(tick, 1000);
  }
})();
