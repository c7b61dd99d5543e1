import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { TextTokenizer } from './text-tokenizer.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-tokenizer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', 'photo', 'of', 'shirt', '##s', '.', 'Café', 'cafe', 'Photo', 'bag', 'T', '-'];
const id = (token: string) => VOCAB.indexOf(token);

/** A tokenizer.json as Hugging Face `tokenizers` saves BERT's (`bert-base-cased` or, with `lowercase`, uncased). */
function bertTokenizerJson(lowercase: boolean): Record<string, unknown> {
  const special = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map((t) => ({
      id: id(t),
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]')],
      pair: [
        special('[CLS]'),
        { Sequence: { id: 'A', type_id: 0 } },
        special('[SEP]'),
        { Sequence: { id: 'B', type_id: 1 } },
        special('[SEP]'),
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])),
    },
  };
}

describe('TextTokenizer', () => {
  it('cased (bert-base-cased): WordPiece pieces, punctuation split, case and accents kept', () => {
    const tok = new TextTokenizer(bertTokenizerJson(false), { do_lower_case: false });
    expect(tok.tokens('a photo of shirts.')).toEqual(['[CLS]', 'a', 'photo', 'of', 'shirt', '##s', '.', '[SEP]']);
    expect(tok.tokens('A Photo of a T-shirt')).toEqual(['[CLS]', '[UNK]', 'Photo', 'of', 'a', 'T', '-', 'shirt', '[SEP]']);
    expect(tok.tokens('Café')).toEqual(['[CLS]', 'Café', '[SEP]']);
    expect(tok.tokens('CAFÉ')).toEqual(['[CLS]', '[UNK]', '[SEP]']);
  });

  it('uncased: lowercased with accents stripped, as BERT normalises when strip_accents is unset', () => {
    const tok = new TextTokenizer(bertTokenizerJson(true), { do_lower_case: true });
    expect(tok.tokens('A Photo of a T-shirt')).toEqual(['[CLS]', 'a', 'photo', 'of', 'a', '[UNK]', '-', 'shirt', '[SEP]']);
    expect(tok.tokens('CAFÉ')).toEqual(['[CLS]', 'cafe', '[SEP]']);
  });

  it('fixed-length rows: padded after [SEP], long texts cut to their first tokens and still ended by [SEP]', () => {
    writeFileSync(join(tmp, 'tokenizer.json'), JSON.stringify(bertTokenizerJson(false)));
    writeFileSync(join(tmp, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false, pad_token: '[PAD]' }));
    const tok = TextTokenizer.fromFiles(join(tmp, 'tokenizer.json'), join(tmp, 'tokenizer_config.json'));
    expect(tok.padId).toBe(0);
    const batch = tok.encodeBatch(['a photo of shirts.', 'a photo of a photo of a bag', 'bag'], 6);
    expect(batch.shape).toEqual([3, 6]);
    expect(Array.from(batch.ids)).toEqual([
      ...[2, 4, 5, 6, 7, 3], // [CLS] a photo of shirt [SEP]: "##s ." cut
      ...[2, 4, 5, 6, 4, 3],
      ...[2, 13, 3, 0, 0, 0],
    ]);
    expect(batch.lengths).toEqual([6, 6, 3]);
    expect(tok.encodeBatch(['bag'], 3).ids).toEqual(Int32Array.of(2, 13, 3));
    expect(tok.encodeBatch(['a photo'], 2).ids).toEqual(Int32Array.of(2, 3));
    expect(() => tok.encodeBatch(['bag'], 1)).toThrow(RangeError);
  });

  it('missing or wrong files are typed errors naming the file', () => {
    expect(() => TextTokenizer.fromFiles(join(tmp, 'nope.json'))).toThrow(DatasetNotFoundError);
    expect(() => TextTokenizer.fromFiles(join(tmp, 'nope.json'))).toThrow(/nope\.json.*ENOENT/);
    writeFileSync(join(tmp, 'broken.json'), '{"model": ');
    expect(() => TextTokenizer.fromFiles(join(tmp, 'broken.json'))).toThrow(DatasetFormatError);
    writeFileSync(join(tmp, 'vocab.json'), JSON.stringify({ a: 1 }));
    expect(() => TextTokenizer.fromFiles(join(tmp, 'vocab.json'))).toThrow(/vocab\.json: has no "model" section/);
    const noPad = bertTokenizerJson(false);
    expect(() => new TextTokenizer(noPad, { pad_token: '<pad>' })).toThrow(/no padding token "<pad>"/);
  });
});
