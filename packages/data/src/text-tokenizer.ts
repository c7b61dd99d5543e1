/**
 * Token ids for a text tower (the paper's image–text setting tokenizes captions with `bert-base-cased`, padded or cut
 * to 32 tokens: docs/paper-notes.md §6.5). The tokenizing itself is Hugging Face's own JavaScript port
 * (`@huggingface/tokenizers`) reading the model's `tokenizer.json` and `tokenizer_config.json`, so WordPiece,
 * normalisation (case, accents) and special tokens are the model's; this module adds the fixed-length batches.
 */
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';

/** A batch of token ids, row-major [count, maxLength], padded with the pad id after the final special token. */
export interface TokenBatch {
  ids: Int32Array;
  shape: [number, number];
  /** Tokens before padding in each row (special tokens included). */
  lengths: number[];
}

/** BERT's special tokens, in the order its vocabularies list them. */
export const BERT_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/**
 * A BERT-style `tokenizer.json` (Hugging Face `tokenizers` layout) over `vocabulary`, ids = positions: WordPiece with
 * `##` continuations and `[UNK]`, the `BertNormalizer` (lower-casing on request), `BertPreTokenizer`, `[CLS] $A [SEP]`
 * around a text; the special tokens of {@link BERT_SPECIAL_TOKENS} that the vocabulary holds are added tokens. For a
 * small vocabulary of one's own (generated captions, tests); a published model ships its own file.
 */
export function wordPieceTokenizerJson(vocabulary: readonly string[], options: { lowercase?: boolean } = {}): Record<string, unknown> {
  const ids = Object.fromEntries(vocabulary.map((t, i) => [t, i]));
  const special = (token: string) => ({ SpecialToken: { id: token, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: BERT_SPECIAL_TOKENS.filter((token) => token in ids).map((token) => ({
      id: ids[token],
      content: token,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: options.lowercase ?? false,
    },
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
        '[CLS]': { id: '[CLS]', ids: [ids['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [ids['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: ids,
    },
  };
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DatasetNotFoundError(
      'the tokenizer file',
      [path],
      `(${(err as NodeJS.ErrnoException).code ?? (err as Error).message}) Download the model's tokenizer.json and tokenizer_config.json from its Hugging Face page.`,
    );
  }
  try {
    const value = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new DatasetFormatError(path, `is not a tokenizer file (${(err as Error).message})`);
  }
}

/** A Hugging Face tokenizer that turns texts into fixed-length rows of ids, truncating as the `transformers` call does. */
export class TextTokenizer {
  /** The id that fills rows after the text (the `[PAD]` token). */
  readonly padId: number;
  private readonly tokenizer: Tokenizer;
  private readonly cls: number | undefined;
  private readonly sep: number | undefined;

  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown> = {}, source = 'tokenizer.json') {
    if (typeof tokenizerJson['model'] !== 'object' || tokenizerJson['model'] === null) {
      throw new DatasetFormatError(source, 'has no "model" section (is it a Hugging Face tokenizer.json?)');
    }
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (err) {
      throw new DatasetFormatError(source, `cannot be read as a tokenizer (${(err as Error).message})`);
    }
    const pad = typeof tokenizerConfig['pad_token'] === 'string' ? tokenizerConfig['pad_token'] : '[PAD]';
    const padId = this.tokenizer.token_to_id(pad);
    if (padId === undefined) throw new DatasetFormatError(source, `has no padding token ${JSON.stringify(pad)}`);
    this.padId = padId;
    this.cls = this.tokenizer.token_to_id(typeof tokenizerConfig['cls_token'] === 'string' ? tokenizerConfig['cls_token'] : '[CLS]');
    this.sep = this.tokenizer.token_to_id(typeof tokenizerConfig['sep_token'] === 'string' ? tokenizerConfig['sep_token'] : '[SEP]');
  }

  /** Reads `tokenizer.json` and, beside it or at `configPath`, `tokenizer_config.json` (optional). */
  static fromFiles(tokenizerJsonPath: string, configPath?: string): TextTokenizer {
    const json = readJson(tokenizerJsonPath);
    const config = configPath ? readJson(configPath) : {};
    return new TextTokenizer(json, config, tokenizerJsonPath);
  }

  /** The model's tokens for one text, special tokens included (for inspection). */
  tokens(text: string): string[] {
    return this.tokenizer.tokenize(text, { add_special_tokens: true });
  }

  /**
   * Each text as `maxLength` ids: `[CLS] tokens… [SEP]` then padding; a longer text keeps its first tokens and still
   * ends with `[SEP]` (the `transformers` call with `padding='max_length', truncation=True`).
   */
  encodeBatch(texts: readonly string[], maxLength = 32): TokenBatch {
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new RangeError(`maxLength must be an integer ≥ 2, got ${maxLength}`);
    const ids = new Int32Array(texts.length * maxLength).fill(this.padId);
    const lengths: number[] = [];
    texts.forEach((text, row) => {
      let tokenIds = this.tokenizer.encode(text, { add_special_tokens: true }).ids;
      if (tokenIds.length > maxLength) {
        const body = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
        const specials = tokenIds.length - body.length;
        const kept = body.slice(0, Math.max(0, maxLength - specials));
        tokenIds =
          specials === 2 && this.cls !== undefined && this.sep !== undefined ? [this.cls, ...kept, this.sep] : tokenIds.slice(0, maxLength);
      }
      ids.set(tokenIds, row * maxLength);
      lengths.push(tokenIds.length);
    });
    return { ids, shape: [texts.length, maxLength], lengths };
  }
}
