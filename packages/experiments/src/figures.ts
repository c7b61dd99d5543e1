/**
 * Figures as code: vega-lite specs compiled to vega, rendered headless to SVG (`View.toSVG`), and
 * rasterized to PNG with resvg. Shared by every experiment; each one builds its own specs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

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

/** Writes `<dir>/<name>.svg` and `<dir>/<name>.png`; returns both paths. */
export async function writeFigure(dir: string, name: string, spec: TopLevelSpec): Promise<{ svg: string; png: string }> {
  await mkdir(dir, { recursive: true });
  const svg = await renderSvg(spec);
  const paths = { svg: join(dir, `${name}.svg`), png: join(dir, `${name}.png`) };
  await writeFile(paths.svg, svg);
  await writeFile(paths.png, svgToPng(svg));
  return paths;
}
