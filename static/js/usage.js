/* The Usage page: draws the Activity chart from the JSON the server renders next to it,
   again after every htmx swap of the Activity section (range and Cost/Tokens toggle). */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  // A range the server refuses comes back as a 400 with the message in the section: show it.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "400", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
  ];

  var COLOURS = { input: "#2952cc", cached: "#8fb0ff", output: "#e08a00", cost: "#1f8a4c" };
  var numberFormat = new Intl.NumberFormat("en-US");
  // Up to 4 decimals: a 5-minute bucket often costs fractions of a cent.
  var usdFormat = new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4,
  });

  function draw(root) {
    var canvas = root.querySelector ? root.querySelector("#activity-chart") : null;
    var source = document.getElementById("activity-chart-data");
    if (!canvas || !source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var cost = data.mode === "cost";
    var format = function (value) { return cost ? usdFormat.format(value) : numberFormat.format(value); };
    var previous = Chart.getChart(canvas);
    if (previous) previous.destroy();
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (set) {
          return { label: set.label, data: set.data, backgroundColor: COLOURS[set.key], borderWidth: 0 };
        }),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, ticks: { autoSkip: true, maxRotation: 0, autoSkipPadding: 12 } },
          y: { stacked: true, beginAtZero: true, ticks: { callback: format } },
        },
        plugins: {
          legend: { display: !cost, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) { return item.dataset.label + ": " + format(item.parsed.y); },
            },
          },
        },
      },
    });
    canvas.dataset.drawnMode = data.mode;
    window.__usageChartDraws = (window.__usageChartDraws || 0) + 1;
  }

  htmx.onLoad(draw);

  // Bars (plan and budget cards): the width is data, set through the CSSOM because the
  // Content-Security-Policy refuses style attributes in the markup.
  function sizeBars(root) {
    var scope = root.querySelectorAll ? root : document;
    scope.querySelectorAll("[data-bar-width]").forEach(function (bar) {
      bar.style.width = Math.min(Math.max(parseFloat(bar.dataset.barWidth) || 0, 0), 100) + "%";
    });
  }
  htmx.onLoad(sizeBars);
})();
