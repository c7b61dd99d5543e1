import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { TextTokenizer, wordPieceTokenizerJson } from './text-tokenizer.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-tokenizer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', 'photo', 'of', 'shirt', '##s', '.', 'Café', 'cafe', 'Photo', 'bag', 'T', '-'];

/** A tokenizer.json as Hugging Face `tokenizers` saves BERT's (`bert-base-cased` or, with `lowercase`, uncased). */
const bertTokenizerJson = (lowercase: boolean) => wordPieceTokenizerJson(VOCAB, { lowercase });

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
