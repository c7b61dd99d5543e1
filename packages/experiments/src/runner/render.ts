/**
 * Figures as code: vega-lite specs compiled to vega, rendered headless to SVG (`View.toSVG`) and rasterized
 * to PNG with resvg. Pure rendering: outputs.ts writes the bytes.
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';

/** Renders a vega-lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterizes an SVG at `scale` × its size on a white background. */
export function svgToPng(svg: string, scale = 2): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
