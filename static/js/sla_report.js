// The SLA report's histogram of time to first contact: a bar chart drawn from the
// json_script element "sla-histogram" (no inline script: the page runs under a CSP).
// The same figures are in the table under the chart, so nothing relies on colour.
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("sla-histogram");
    var canvas = document.getElementById("sla-histogram-chart");
    if (!source || !canvas || typeof window.Chart === "undefined") {
      return;
    }
    var bins = JSON.parse(source.textContent);
    var caption = canvas.getAttribute("data-dataset-label") || "";
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: bins.map(function (bin) { return bin.label; }),
        datasets: [{
          label: caption,
          data: bins.map(function (bin) { return bin.leads; }),
          backgroundColor: "#0b5cad",
          borderColor: "#0b5cad",
        }],
      },
      options: {
        animation: false,
        responsive: true,
        plugins: { legend: { display: false } },
        scales: {
          x: { ticks: { maxRotation: 0, autoSkip: false, font: { size: 11 } } },
          y: { beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
