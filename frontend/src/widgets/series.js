// Series data shaped for uPlot, pure (no DOM): clipped to a window, aligned on time.
// Only the points within `window` ({from, to} in epoch ms), when given.
export function clipped(series, window) {
  if (!window) return series;
  return series.map((s) => {
    const keep = s.data.t.flatMap((t, i) => (t >= window.from && t <= window.to ? [i] : []));
    return { ...s, data: { t: keep.map((i) => s.data.t[i]), v: keep.map((i) => s.data.v[i]) } };
  });
}

export function aligned(series) {
  const stamps = [...new Set(series.flatMap((s) => s.data.t))].sort((a, b) => a - b);
  const columns = series.map((s) => {
    const byTime = new Map(s.data.t.map((t, i) => [t, s.data.v[i]]));
    return stamps.map((t) => (byTime.has(t) ? byTime.get(t) : null));
  });
  return [stamps.map((t) => t / 1000), ...columns];
}
