// The dashboard's trend charts: one small line chart per tile, the data from
// the json_script element "kpi-trend" (no inline script: the page runs under a CSP).
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
      if (!points) {
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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
