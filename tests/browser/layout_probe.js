// Injected by tests/report_browser.rs into a copy of a report: measures the
// laid-out page and writes the figures as JSON into <pre id="layout-probe">,
// which `chromium --dump-dom` prints. The report itself has no scripts.
(function () {
  const r = { innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth };
  const single = Array.from(document.querySelectorAll('.figures > figure:not(.wide)'))
    .map(f => f.getBoundingClientRect());
  r.figuresSideBySide = single.length >= 2
    && Math.abs(single[0].top - single[1].top) < 1 && single[1].left >= single[0].right;
  r.charts = 0; r.points = 0; r.pointsWithoutName = 0; r.legendOverPoint = []; r.smallText = [];
  r.minTextPx = 1e9;
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const name = p => (p.querySelector('title') || { textContent: '' }).textContent.split(String.fromCharCode(10))[0];
  document.querySelectorAll('figure svg').forEach((svg, i) => {
    r.charts += 1;
    const scale = svg.getScreenCTM().a;
    const points = Array.from(svg.querySelectorAll('g.point'));
    r.points += points.length;
    r.pointsWithoutName += points.filter(p => name(p) === '').length;
    svg.querySelectorAll('g.legend').forEach(legend => {
      const box = legend.getBoundingClientRect();
      points.filter(p => overlap(p.getBoundingClientRect(), box))
        .forEach(p => r.legendOverPoint.push(i + ': ' + name(p)));
    });
    svg.querySelectorAll('text').forEach(t => {
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      r.minTextPx = Math.min(r.minTextPx, px);
      if (px < 12) r.smallText.push(i + ': ' + t.textContent + ' at ' + px.toFixed(2) + ' px');
    });
  });
  r.pageHeight = document.documentElement.scrollHeight;
  const pre = document.createElement('pre');
  pre.id = 'layout-probe';
  pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
})();
