// The dashboard's trend charts: one small line chart per tile. The trend comes
// after the tiles, in its own request (htmx, hx-trigger="load" on #dash-trend):
// its answer carries the data in the json_script element "kpi-trend" and each
// tile's canvas out of band; this draws every canvas not drawn yet (no inline
// script: the page runs under a CSP).
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("kpi-trend");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-kpi]").forEach(function (canvas) {
      var code = canvas.getAttribute("data-kpi");
      var points = data.series[code];
      if (!points || window.Chart.getChart(canvas)) {
        return;
      }
      new window.Chart(canvas, {
        type: "line",
        data: {
          labels: data.months,
          datasets: [{
            label: data.labels[code],
            data: points,
            borderColor: "#0b5cad",
            backgroundColor: "#0b5cad",
            pointRadius: 3,
            spanGaps: true,
          }],
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          plugins: { legend: { display: false } },
          scales: {
            x: { ticks: { maxRotation: 0, autoSkip: true, font: { size: 10 } } },
            y: { ticks: { maxTicksLimit: 3, font: { size: 10 } } },
          },
        },
      });
    });
  }

  // The trend did not come (an error answer or no connection): say so in place
  // of "Loading…", in the page's language (the text is on the element).
  function failed(event) {
    var status = event.detail && event.detail.elt;
    if (!status || status.id !== "dash-trend") {
      return;
    }
    status.textContent = status.getAttribute("data-error-text");
    status.classList.add("error");
    status.setAttribute("role", "alert");
  }

  document.addEventListener("htmx:afterSettle", draw);
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
