/**
 * Pre-trained text models by name, fetched from their public Hugging Face repositories: the paper's image–text
 * experiments start their text tower from `bert-base-cased` (docs/paper-notes.md §6.5). A model lives in one folder
 * holding its `tokenizer.json`, `tokenizer_config.json` and `model.safetensors`, each downloaded from
 * `<base><repo>/resolve/main/<file>` when missing, resumably (`<file>.part`) through `downloadChecked`.
 *
 * Hugging Face publishes no MD5 for these files (its Git LFS SHA-256 is a repository detail that changes with each
 * upload), so, as for the vision checkpoints, a download is accepted by its length (the server's Content-Length) and
 * its structure: `tokenizer.json` must build a {@link TextTokenizer}, `tokenizer_config.json` must be a JSON object,
 * and `model.safetensors` must have a consistent header for the file's length (every array's dtype, shape and byte
 * range; the ~10⁸ floats themselves are not decoded) and hold a word-embedding array. Whether the arrays make the
 * expected encoder is checked where the model is built (@samrank/models' `bertCheckpoint`).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DownloadProgress, downloadChecked } from './download.js';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { readSafetensorsHeader, SafetensorsFormatError } from './safetensors.js';
import { TextTokenizer } from './text-tokenizer.js';
import { defaultCheckpointDir } from './vision-checkpoints.js';

/** Host of the public model repositories. */
export const TEXT_MODEL_BASE_URL = 'https://huggingface.co/';

/**
 * Files a text model folder needs, in download order: the small tokenizer files first, so a wrong repository or a
 * mirror that serves something else is noticed before the large weights are fetched.
 */
export const TEXT_MODEL_FILES = ['tokenizer.json', 'tokenizer_config.json', 'model.safetensors'] as const;

/** One file of {@link TEXT_MODEL_FILES}. */
export type TextModelFile = (typeof TEXT_MODEL_FILES)[number];

/** Known models by name: their Hugging Face repository (files at `<base><repo>/resolve/main/<file>`). */
export const TEXT_MODELS = Object.freeze({
  'bert-base-cased': {
    repo: 'bert-base-cased',
    description: 'BERT base (12 layers, hidden size 768), cased WordPiece vocabulary; the text tower of the MS-COCO experiments',
  },
} as const);

/** A known text model name. */
export type TextModelName = keyof typeof TEXT_MODELS;

/** True for a name of {@link TEXT_MODELS} (its own keys only, so `'toString'` is not a model). */
export function isTextModelName(name: string): name is TextModelName {
  return Object.hasOwn(TEXT_MODELS, name);
}

/** Where a known text model's files are kept: `<dir>/<name>` (default dir: {@link defaultCheckpointDir}, beside the vision checkpoints). */
export function textModelDir(name: TextModelName, dir: string = defaultCheckpointDir()): string {
  return join(dir, name);
}

/** The download URL of one file of a model, under `base` (a mirror; the tests' local server). */
export function textModelUrl(name: TextModelName, file: TextModelFile, base: string = TEXT_MODEL_BASE_URL): string {
  return new URL(`${TEXT_MODELS[name].repo}/resolve/main/${file}`, base.endsWith('/') ? base : `${base}/`).toString();
}

/** Word-embedding keys a BERT checkpoint may use: bare (`BertModel`) or under `bert.` (the pre-training heads' layout). */
const WORD_EMBEDDING_KEYS = ['bert.embeddings.word_embeddings.weight', 'embeddings.word_embeddings.weight'] as const;

function readJsonObject(path: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new DatasetFormatError(path, `is not ${what} (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DatasetFormatError(path, `is not ${what} (not a JSON object)`);
  }
  return value as Record<string, unknown>;
}

/**
 * Throws a typed error when `path` is not a usable copy of `file`: `DatasetFormatError` for the JSON files (a
 * tokenizer.json that `TextTokenizer` cannot build from, a config that is not an object), `SafetensorsFormatError`
 * for weights whose header is damaged or truncated, or that hold no word-embedding matrix. The tokenizer is checked on its own, since its
 * config may not have been fetched yet.
 */
export function checkTextModelFile(file: TextModelFile, path: string): void {
  switch (file) {
    case 'tokenizer.json':
      new TextTokenizer(readJsonObject(path, 'a tokenizer.json'), {}, path);
      return;
    case 'tokenizer_config.json':
      readJsonObject(path, 'a tokenizer_config.json');
      return;
    case 'model.safetensors': {
      // The header alone: its checks cover every array's dtype, shape and byte range, without decoding ~10⁸ floats.
      const { entries } = readSafetensorsHeader(path);
      const entry = entries.find((e) => e.float && (WORD_EMBEDDING_KEYS as readonly string[]).includes(e.name));
      if (entry === undefined) {
        throw new SafetensorsFormatError(
          path,
          `holds no word-embedding array (${WORD_EMBEDDING_KEYS.join(' or ')}): not a BERT checkpoint`,
        );
      }
      const { shape, name: key } = entry;
      if (shape.length !== 2 || shape[0]! === 0 || shape[1]! === 0) {
        throw new SafetensorsFormatError(path, `'${key}' has shape [${shape}], not [vocabulary, hidden] of a word-embedding matrix`);
      }
      return;
    }
  }
}

/** Options of {@link downloadTextModel}. */
export interface TextModelDownloadOptions {
  /** Folder the model folders are kept under (default {@link defaultCheckpointDir}). */
  dir?: string;
  /** Replaces {@link TEXT_MODEL_BASE_URL} (a mirror; the tests' local server). */
  baseUrl?: string;
  /** false: only look for the files (a missing one is a `DatasetNotFoundError`). Default true. */
  download?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

/** What {@link downloadTextModel} found or fetched. */
export interface TextModelDownloadResult {
  /** The model's folder, holding every file of {@link TEXT_MODEL_FILES}. */
  path: string;
  /** The file names fetched by this call (empty when all were there). */
  downloaded: string[];
  /** Each file's URL, in {@link TEXT_MODEL_FILES} order. */
  urls: string[];
}

/**
 * The folder of a known text model, downloading the files it lacks one by one (each resumable from `<file>.part`,
 * renamed into place only complete and structurally sound; a damaged part is removed). A file already in the folder
 * that fails its check is left alone and the error says so. With `download: false` nothing is fetched: missing files
 * are a `DatasetNotFoundError` naming them, their URLs and the `--download` flag.
 */
export async function downloadTextModel(name: TextModelName, options: TextModelDownloadOptions = {}): Promise<TextModelDownloadResult> {
  const path = textModelDir(name, options.dir);
  const base = options.baseUrl ?? TEXT_MODEL_BASE_URL;
  const urls = TEXT_MODEL_FILES.map((file) => textModelUrl(name, file, base));
  if (options.download === false) {
    const missing = TEXT_MODEL_FILES.map((file, i) => ({ file, dest: join(path, file), url: urls[i]! })).filter(
      ({ dest }) => !existsSync(dest),
    );
    if (missing.length > 0) {
      throw new DatasetNotFoundError(
        `text model ${name}`,
        missing.map((m) => m.dest),
        `Run with --download to fetch ${missing.length === 1 ? 'it' : 'them'} (${missing.map((m) => m.url).join(', ')}), or put the files in ${path}.`,
      );
    }
    for (const file of TEXT_MODEL_FILES) checkTextModelFile(file, join(path, file));
    return { path, downloaded: [], urls };
  }
  mkdirSync(path, { recursive: true });
  const downloaded: string[] = [];
  for (const [i, file] of TEXT_MODEL_FILES.entries()) {
    const result = await downloadChecked(urls[i]!, join(path, file), {
      check: (p) => checkTextModelFile(file, p),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (result.downloaded) downloaded.push(file);
  }
  return { path, downloaded, urls };
}
