// The embeddable site form (templates/leads/site_form.html): sends the fields with
// fetch() and shows the answer in place. The texts come translated in the form's
// data-thanks and data-failed attributes.
(function () {
  "use strict";
  const form = document.getElementById("lead-form");
  if (!form) return;
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const errors = document.getElementById("f-errors");
    errors.textContent = "";
    const response = await fetch(form.action, { method: "POST", body: new FormData(form) });
    if (response.status === 200 || response.status === 201 || response.status === 202) {
      const done = document.createElement("p");
      done.className = "done";
      done.setAttribute("role", "status");
      done.textContent = form.dataset.thanks;
      form.replaceWith(done);
      return;
    }
    const data = await response.json().catch(() => ({}));
    errors.textContent = Object.values(data).flat().join(" ") || form.dataset.failed;
  });
})();
