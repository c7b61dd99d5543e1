/**
 * The paper's contrastive numbers (MS-COCO, R+Ti/16 + bert-base-cased): the last logged values of Fig. 4 per ρ and
 * of Fig. 8 per bottleneck width, as docs/paper-notes.md §12.4–12.5 reads them off the original notebook.
 */
import type { PaperValues } from '../runner/definition.js';

/** Fig. 4: imagewise / textwise retrieval error (%) and 99 % ranks of the training embeddings, per ρ. */
const FIG4: ReadonlyMap<number, Readonly<Record<string, number>>> = new Map([
  [0, { imagewiseError: 23.4, textwiseError: 22.7, imageRank: 141, textRank: 87 }],
  [0.1, { imagewiseError: 19.8, textwiseError: 20.2, imageRank: 139, textRank: 81 }],
  [0.2, { imagewiseError: 20.0, textwiseError: 18.5, imageRank: 126, textRank: 70 }],
  [0.25, { imagewiseError: 18.7, textwiseError: 18.5, imageRank: 117, textRank: 62 }],
  [0.3, { imagewiseError: 24.1, textwiseError: 24.3, imageRank: 68, textRank: 32 }],
]);

/** Fig. 8: the same at ρ = 0 with a linear bottleneck of width h in both heads. */
const FIG8: ReadonlyMap<number, Readonly<Record<string, number>>> = new Map([
  [100, { imagewiseError: 24.5, textwiseError: 23.2, imageRank: 57, textRank: 35 }],
  [200, { imagewiseError: 22.9, textwiseError: 23.6, imageRank: 83, textRank: 46 }],
  [300, { imagewiseError: 23.7, textwiseError: 22.9, imageRank: 95, textRank: 53 }],
  [400, { imagewiseError: 24.2, textwiseError: 23.6, imageRank: 97, textRank: 55 }],
  [500, { imagewiseError: 22.7, textwiseError: 23.8, imageRank: 96, textRank: 57 }],
]);

/** The paper's values for a ρ sweep or a bottleneck sweep; `scaled`: our data and towers differ, so only the direction compares. */
export function contrastivePaperValues(sweep: 'rho' | 'bottleneck', scaled: boolean): PaperValues {
  const what = sweep === 'rho' ? 'Fig. 4, last logged values per ρ' : 'Fig. 8, ρ = 0, last logged values per bottleneck width h';
  const caveat = scaled
    ? ' — MS-COCO with a pretrained R+Ti/16 and bert-base-cased; this run uses other data and small towers trained from scratch'
    : '';
  return { source: `paper ${what} (docs/paper-notes.md §12.4–12.5)${caveat}`, rows: sweep === 'rho' ? FIG4 : FIG8 };
}
