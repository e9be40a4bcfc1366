// Behaviour shared by every page, bound by data- attributes instead of inline
// handlers (the Content-Security-Policy runs no onclick=/onchange= code).
// Delegated from the document, so content swapped in by htmx works too.
//   <select data-autosubmit>   submits its form when the choice changes
//   <button data-confirm="…">  asks before it acts; "Cancel" stops the click
//   <div hx-trigger="every 30s" data-hold-while-focused>  skips a poll while the focus
//       is inside it, so rows do not change under the person's hands (an htmx trigger
//       filter would do this with eval, which the policy forbids)
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

  document.addEventListener("htmx:beforeRequest", function (event) {
    const element = event.detail.elt;
    if (element.matches("[data-hold-while-focused]") && element.contains(document.activeElement)) {
      event.preventDefault();
    }
  });
})();
