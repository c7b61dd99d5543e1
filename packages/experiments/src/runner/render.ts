/**
 * Figures as code: vega-lite specs compiled to vega, rendered headless to SVG (`View.toSVG`) and rasterized to
 * PNG with resvg. The renderers load on first use: vega awaits at the top level of one of its modules, which
 * would keep `require('@samrank/experiments')` from working for code that never draws.
 */
import type { TopLevelSpec } from 'vega-lite';

/** Renders a vega-lite spec to SVG and a PNG at `scale` × its size on a white background. */
export async function renderFigure(spec: TopLevelSpec, scale = 2): Promise<{ svg: string; png: Uint8Array }> {
  const [vega, { compile }, { Resvg }] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return { svg, png: resvg.render().asPng() };
}
