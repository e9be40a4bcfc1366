// The lead card: one key per outcome, "?" for the list, "n" for a note, and
// the timeline filter. Shortcuts are off while typing in a field.
(function () {
  "use strict";
  const typing = (el) => el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  const dialog = document.getElementById("shortcuts");

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(document.activeElement)) return;
    if (dialog && dialog.open && event.key !== "?") return;  // keys act on the card, not through the dialog
    if (event.key === "?") {
      event.preventDefault();
      if (dialog.open) dialog.close(); else dialog.showModal();
      return;
    }
    if (event.key === "n") {
      const note = document.getElementById("nt-text") || document.getElementById("a-note");
      if (note) { event.preventDefault(); note.focus(); }
      return;
    }
    const button = document.querySelector('#attempt-form button[data-key="' + event.key + '"]');
    if (button) { event.preventDefault(); button.click(); }
  });

  // A call that would send a high- or urgent-priority lead to nurture asks first
  // (app.js's data-confirm; keyboard shortcuts click, so they ask too). The server
  // refuses it unconfirmed, so an answered "OK" travels with the form.
  const work = document.getElementById("attempt-form");
  if (work) {
    work.addEventListener("submit", function (event) {
      work.elements.confirmed.value = event.submitter && event.submitter.dataset.confirm ? "1" : "";
    });
  }

  document.querySelectorAll(".timeline-filter button").forEach(function (button) {
    button.addEventListener("click", function () {
      const wanted = button.dataset.filter;
      document.querySelectorAll(".timeline-filter button").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      document.querySelectorAll("#timeline li[data-type]").forEach(function (item) {
        item.hidden = Boolean(wanted) && item.dataset.type !== wanted;
      });
    });
  });
})();
