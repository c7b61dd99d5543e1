import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captionTokenizerFiles } from './captions.js';
import { DatasetFormatError, DatasetNotFoundError, DownloadError } from './errors.js';
import { encodeSafetensors, SafetensorsFormatError } from './safetensors.js';
import { startTestServer, type TestServer } from './test-archives.js';
import { downloadTextModel, isTextModelName, TEXT_MODEL_BASE_URL, TEXT_MODEL_FILES, TEXT_MODELS, textModelDir } from './text-models.js';
import { TextTokenizer } from './text-tokenizer.js';
import { defaultCheckpointDir } from './vision-checkpoints.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-text-models-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const enc = new TextEncoder();
const remote = (file: string) => `bert-base-cased/resolve/main/${file}`;

function floats(count: number, seed: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => Math.sin(seed + i));
}

/** A tiny BERT-shaped model: the caption tokenizer and a few small arrays named as in a Hugging Face checkpoint. */
function tinyModel(): Record<string, Uint8Array> {
  const { tokenizerJson, tokenizerConfig } = captionTokenizerFiles();
  const vocab = Object.keys((tokenizerJson['model'] as { vocab: Record<string, number> }).vocab).length;
  const weights = encodeSafetensors({
    'bert.embeddings.word_embeddings.weight': { shape: [vocab, 4], data: floats(vocab * 4, 1) },
    'bert.embeddings.position_embeddings.weight': { shape: [8, 4], data: floats(32, 2) },
    'bert.embeddings.LayerNorm.weight': { shape: [4], data: floats(4, 3) },
  });
  return {
    [remote('tokenizer.json')]: enc.encode(JSON.stringify(tokenizerJson)),
    [remote('tokenizer_config.json')]: enc.encode(JSON.stringify(tokenizerConfig)),
    [remote('model.safetensors')]: weights,
  };
}

describe('known text models', () => {
  it('knows bert-base-cased by name, under the checkpoint folder', () => {
    expect(isTextModelName('bert-base-cased')).toBe(true);
    expect(isTextModelName('toString')).toBe(false);
    expect(isTextModelName('bert-base-uncased')).toBe(false);
    expect(TEXT_MODELS['bert-base-cased'].repo).toBe('bert-base-cased');
    expect(TEXT_MODEL_FILES).toEqual(['tokenizer.json', 'tokenizer_config.json', 'model.safetensors']);
    expect(textModelDir('bert-base-cased', '/x')).toBe(join('/x', 'bert-base-cased'));
    expect(textModelDir('bert-base-cased')).toBe(join(defaultCheckpointDir(), 'bert-base-cased'));
  });

  it('names the Hugging Face URLs and the --download flag when files are missing and download is off', async () => {
    const dir = join(tmp, 'offline');
    const error = await downloadTextModel('bert-base-cased', { dir, download: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetNotFoundError);
    const message = (error as Error).message;
    expect(message).toMatch(/--download/);
    expect(message).toContain(`${TEXT_MODEL_BASE_URL}bert-base-cased/resolve/main/model.safetensors`);
    for (const file of TEXT_MODEL_FILES) expect(message).toContain(join(dir, 'bert-base-cased', file));
    expect(existsSync(join(dir, 'bert-base-cased'))).toBe(false);
  });
});

describe('downloadTextModel from a local server', () => {
  let server: TestServer;
  let files: Record<string, Uint8Array>;
  let dir: string;
  let n = 0;
  beforeEach(async () => {
    files = tinyModel();
    server = await startTestServer(files);
    dir = join(tmp, `run-${n++}`);
  });
  afterEach(async () => {
    await server.close();
  });

  it('downloads the three files byte for byte, then finds them without fetching', async () => {
    const progress: string[] = [];
    const got = await downloadTextModel('bert-base-cased', {
      dir,
      baseUrl: server.baseUrl,
      onProgress: (p) => progress.push(`${p.phase}:${p.file}`),
    });
    const folder = join(dir, 'bert-base-cased');
    expect(got.path).toBe(folder);
    expect(got.downloaded).toEqual([...TEXT_MODEL_FILES]);
    expect(got.urls).toEqual(TEXT_MODEL_FILES.map((f) => `${server.baseUrl}${remote(f)}`));
    for (const file of TEXT_MODEL_FILES) expect(new Uint8Array(readFileSync(join(folder, file)))).toEqual(files[remote(file)]);
    expect(progress).toContain('verify:model.safetensors');
    // The folder is what TextTokenizer.fromFiles reads.
    const tokenizer = TextTokenizer.fromFiles(join(folder, 'tokenizer.json'), join(folder, 'tokenizer_config.json'));
    expect(tokenizer.padId).toBe(0);

    const requests = server.requests.length;
    const again = await downloadTextModel('bert-base-cased', { dir, baseUrl: server.baseUrl });
    expect(again.downloaded).toEqual([]);
    expect(server.requests.length).toBe(requests);
    expect((await downloadTextModel('bert-base-cased', { dir, download: false })).downloaded).toEqual([]);
  });

  it('keeps the part of an interrupted transfer and resumes it with a Range request', async () => {
    server.modes.set(remote('model.safetensors'), 'truncate');
    await expect(downloadTextModel('bert-base-cased', { dir, baseUrl: server.baseUrl })).rejects.toThrow(DownloadError);
    const folder = join(dir, 'bert-base-cased');
    expect(existsSync(join(folder, 'model.safetensors.part'))).toBe(true);
    expect(existsSync(join(folder, 'model.safetensors'))).toBe(false);
    // The tokenizer files came through before the weights failed.
    expect(existsSync(join(folder, 'tokenizer.json'))).toBe(true);

    server.modes.set(remote('model.safetensors'), 'ok');
    const got = await downloadTextModel('bert-base-cased', { dir, baseUrl: server.baseUrl });
    expect(got.downloaded).toEqual(['model.safetensors']);
    const last = server.requests.at(-1)!;
    expect(last.path).toBe(remote('model.safetensors'));
    expect(last.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(new Uint8Array(readFileSync(join(folder, 'model.safetensors')))).toEqual(files[remote('model.safetensors')]);
    expect(existsSync(join(folder, 'model.safetensors.part'))).toBe(false);
  });

  it('refuses weights without a word-embedding array and removes the part', async () => {
    server.files.set(
      remote('model.safetensors'),
      encodeSafetensors({ 'encoder.layer.0.output.dense.weight': { shape: [4, 4], data: floats(16, 4) } }),
    );
    const error = await downloadTextModel('bert-base-cased', { dir, baseUrl: server.baseUrl }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SafetensorsFormatError);
    expect((error as Error).message).toMatch(/word-embedding/);
    const folder = join(dir, 'bert-base-cased');
    expect(existsSync(join(folder, 'model.safetensors.part'))).toBe(false);
    expect(existsSync(join(folder, 'model.safetensors'))).toBe(false);
  });

  it('accepts the word embeddings without the bert. prefix', async () => {
    const { tokenizerJson } = captionTokenizerFiles();
    const vocab = Object.keys((tokenizerJson['model'] as { vocab: Record<string, number> }).vocab).length;
    server.files.set(
      remote('model.safetensors'),
      encodeSafetensors({ 'embeddings.word_embeddings.weight': { shape: [vocab, 2], data: floats(vocab * 2, 5) } }),
    );
    const got = await downloadTextModel('bert-base-cased', { dir, baseUrl: server.baseUrl });
    expect(got.downloaded).toEqual([...TEXT_MODEL_FILES]);
  });

  it('refuses random bytes for the weights and a tokenizer.json that is not a tokenizer', async () => {
    const noise = Uint8Array.from({ length: 300 }, (_, i) => (i * 97 + 13) & 0xff);
    server.files.set(remote('model.safetensors'), noise);
    await expect(downloadTextModel('bert-base-cased', { dir, baseUrl: server.baseUrl })).rejects.toThrow(SafetensorsFormatError);
    const folder = join(dir, 'bert-base-cased');
    expect(existsSync(join(folder, 'model.safetensors.part'))).toBe(false);
    expect(existsSync(join(folder, 'model.safetensors'))).toBe(false);

    const other = join(tmp, `other-${n++}`);
    server.files.set(remote('tokenizer.json'), enc.encode('{"version":"1.0"}'));
    const before = server.requests.length;
    await expect(downloadTextModel('bert-base-cased', { dir: other, baseUrl: server.baseUrl })).rejects.toThrow(DatasetFormatError);
    expect(existsSync(join(other, 'bert-base-cased', 'tokenizer.json.part'))).toBe(false);
    expect(existsSync(join(other, 'bert-base-cased', 'tokenizer.json'))).toBe(false);
    // Nothing after the refused tokenizer was fetched.
    expect(server.requests.slice(before).map((r) => r.path)).toEqual([remote('tokenizer.json')]);
  });

  it('leaves a damaged file already in the folder alone and says so', async () => {
    const folder = textModelDir('bert-base-cased', dir);
    await downloadTextModel('bert-base-cased', { dir, baseUrl: server.baseUrl });
    writeFileSync(join(folder, 'tokenizer_config.json'), '[1, 2]');
    await expect(downloadTextModel('bert-base-cased', { dir, baseUrl: server.baseUrl })).rejects.toThrow(
      /already there but fails its check/,
    );
    expect(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')).toBe('[1, 2]');
  });
});
