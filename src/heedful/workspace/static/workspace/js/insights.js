/* Dashboard charts: every [data-chart] canvas draws its metric from the JSON the page
   embeds with json_script (#insights-data): the current range, the previous range as a
   dashed line, and annotations as dated vertical markers. The tables on the page hold
   the same figures for screen readers and for when scripts are off. */
(function () {
  "use strict";
  var source = document.getElementById("insights-data");
  if (!source || typeof window.Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var style = getComputedStyle(document.documentElement);
  function color(name, fallback) { return (style.getPropertyValue(name) || fallback).trim(); }
  var accent = color("--accent", "#2f6f62");
  var muted = color("--muted", "#5d6978");
  var border = color("--border", "#d8dde4");
  var text = color("--text", "#1d2530");
  var warn = color("--warn", "#915f00");
  Chart.defaults.color = muted;
  Chart.defaults.borderColor = border;
  Chart.defaults.font.family = style.getPropertyValue("--font") || "system-ui, sans-serif";
  Chart.defaults.animation = false;

  function markers() {
    var notes = {};
    (data.annotations || []).forEach(function (note, i) {
      notes["note" + i] = {
        type: "line", scaleID: "x", value: note.index,
        borderColor: warn, borderWidth: 1.5, borderDash: [4, 3],
        label: {
          // Labels alternate between two rows so neighbouring markers stay readable.
          display: true, content: note.title, position: "start", yAdjust: (i % 2) * 14 - 12,
          backgroundColor: color("--surface", "#fff"), color: warn,
          font: { size: 10, weight: "600" }, padding: 2
        }
      };
    });
    return notes;
  }

  function lineChart(canvas, chart) {
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: "This period", data: chart.current, borderColor: accent, backgroundColor: accent,
            borderWidth: 2, pointRadius: data.labels.length > 40 ? 0 : 2, spanGaps: true, tension: 0.2 },
          { label: "Previous period", data: chart.previous, borderColor: muted, backgroundColor: muted,
            borderWidth: 1.5, borderDash: [5, 4], pointRadius: 0, spanGaps: true, tension: 0.2 }
        ]
      },
      options: {
        responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        layout: { padding: { top: data.annotations && data.annotations.length ? 18 : 4 } },
        scales: {
          x: { ticks: { maxTicksLimit: 6, maxRotation: 0, autoSkip: true }, grid: { display: false } },
          y: { beginAtZero: true, ticks: { maxTicksLimit: 5 } }
        },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { title: function (items) { return items.length ? data.titles[items[0].dataIndex] : ""; } } },
          annotation: { clip: false, annotations: markers() }
        }
      }
    });
  }

  function barChart(canvas, breakdown) {
    return new Chart(canvas, {
      type: "bar",
      data: { labels: breakdown.labels,
              datasets: [{ label: breakdown.label, data: breakdown.values, backgroundColor: accent }] },
      options: {
        indexAxis: "y", responsive: true, maintainAspectRatio: false,
        scales: { x: { beginAtZero: true }, y: { ticks: { color: text, autoSkip: false } } },
        plugins: { legend: { display: false } }
      }
    });
  }

  var byKey = {};
  (data.charts || []).forEach(function (chart) { byKey[chart.key] = chart; });
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var key = canvas.dataset.chart;
    if (key === "breakdown" && data.breakdown) barChart(canvas, data.breakdown);
    else if (byKey[key]) lineChart(canvas, byKey[key]);
  });
})();
