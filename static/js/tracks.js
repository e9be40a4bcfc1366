// The nurture track editor (templates/leads/track_form.html): each step shows the
// fields of its kind only (an email's subject and text, a wait's days, a task's
// text). Without JavaScript every field shows and the server ignores the others.
(function () {
  "use strict";
  function sync(step) {
    const kind = step.querySelector("select[name$='-kind']");
    if (!kind) return;
    step.querySelectorAll("[data-for]").forEach(function (field) {
      field.hidden = kind.value !== "" && field.dataset.for !== kind.value;
    });
  }
  document.querySelectorAll(".track-step").forEach(function (step) {
    sync(step);
    step.addEventListener("change", function (event) {
      if (event.target.matches("select[name$='-kind']")) sync(step);
    });
  });
})();
