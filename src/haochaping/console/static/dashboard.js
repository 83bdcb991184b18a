/* 统计分析：用应用自带的 ECharts 绘制图表；数据来自页面内的 JSON 数据块，图表下方另有数据表。 */
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || typeof echarts === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var palette = ["#b5121b", "#1a5fb4", "#26a269", "#e5a50a", "#613583", "#865e3c", "#5c6570"];
  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var chart = echarts.init(el, null, { renderer: "svg" });
    option.color = palette;
    option.animation = false;
    chart.setOption(option);
    el.setAttribute("data-ready", "1");
    window.addEventListener("resize", function () { chart.resize(); });
  }
  draw("chart-trend", {
    tooltip: { trigger: "axis" },
    legend: { data: ["评价数", "主动评价", "平均得分"], bottom: 0 },
    grid: { left: 40, right: 40, top: 20, bottom: 50 },
    xAxis: { type: "category", data: data.trend.days },
    yAxis: [{ type: "value", minInterval: 1 }, { type: "value", min: 0, max: 10 }],
    series: [
      { name: "评价数", type: "bar", data: data.trend.evaluations },
      { name: "主动评价", type: "bar", data: data.trend.active },
      { name: "平均得分", type: "line", yAxisIndex: 1, data: data.trend.average, connectNulls: true }
    ]
  });
  draw("chart-levels", {
    tooltip: { trigger: "item", formatter: "{b}：{c}（{d}%）" },
    legend: { bottom: 0 },
    series: [{ type: "pie", radius: ["30%", "58%"], center: ["50%", "42%"],
      label: { show: false }, data: data.levels }]
  });
  function bars(id, rows) {
    draw(id, {
      tooltip: { trigger: "axis" },
      grid: { left: 10, right: 20, top: 10, bottom: 20, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: rows.map(function (r) { return r.name; }).reverse(),
        axisLabel: { width: 110, overflow: "truncate" } },
      series: [{ type: "bar", data: rows.map(function (r) { return r.value; }).reverse() }]
    });
  }
  bars("chart-channels", data.channels);
  bars("chart-labels", data.labels);
}());
