// The dashboard's trend charts: one small line chart per tile. The trend costs
// more than the tiles, so the page comes without it and this fetches it once the
// page is shown (#dash-trend's data-url): the answer's elements with an id take
// the place of the page's elements with that id (the status line, each tile's
// chart), its json_script element "kpi-trend" carries the data. No inline script
// and nothing evaluated: the page runs under a CSP, and a parsed document's
// scripts never run (the data block is not a script anyway).
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
  function failed(status) {
    status.textContent = status.getAttribute("data-error-text");
    status.classList.add("error");
    status.setAttribute("role", "alert");
  }

  function place(html) {
    var answer = new DOMParser().parseFromString(html, "text/html");
    Array.prototype.forEach.call(answer.body.children, function (node) {
      if (!node.id) {
        return;
      }
      var copy = document.importNode(node, true);
      var current = document.getElementById(node.id);
      if (current) {
        current.replaceWith(copy);
      } else {
        document.body.appendChild(copy);
      }
    });
    draw();
  }

  function load() {
    var status = document.getElementById("dash-trend");
    if (!status || !status.getAttribute("data-url")) {
      return;
    }
    fetch(status.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("trend: " + response.status);
        }
        return response.text();
      })
      .then(place)
      .catch(function () {
        failed(status);
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", load);
  } else {
    load();
  }
})();
