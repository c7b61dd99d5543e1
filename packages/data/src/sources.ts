/**
 * Where the official data set files live and what they must hash to (docs/paper-notes.md §8.5; Fashion-MNIST
 * MD5s from the Zalando repository's README). Debian recompressed its Fashion-MNIST files, so their MD5s
 * differ; the SHA-256 of the gunzipped content is the same for every faithful copy (checked on Debian's
 * copy and against the uncompressed digests other projects publish).
 */
import type { ImageDatasetName } from './image-set.js';

/** One file to fetch. */
export interface SourceFile {
  name: string;
  md5: string;
  /** Size in bytes where known (for the progress bar before the server answers). */
  bytes?: number;
  /** SHA-256 of the gunzipped content, for files that are read without unpacking (Fashion-MNIST). */
  contentSha256?: string;
}

/** How to fetch and install one data set. */
export interface DatasetSource {
  dataset: ImageDatasetName;
  /** Human name for messages. */
  title: string;
  /** Base URL the file names are appended to (overridable: mirrors, tests). */
  baseUrl: string;
  files: SourceFile[];
  /** Folder under the data directory that holds the data set once installed. */
  folder: string;
  /** True when `files` are archives that unpack to `folder`; false when the files are placed in `folder` as they are. */
  unpack: boolean;
  /** Paths inside `folder` that must exist for the install to count as complete. */
  required: string[];
}

/** The official sources. */
export const DATASET_SOURCES: Record<ImageDatasetName, DatasetSource> = {
  cifar10: {
    dataset: 'cifar10',
    title: 'CIFAR-10',
    baseUrl: 'https://www.cs.toronto.edu/~kriz/',
    files: [{ name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', bytes: 170_052_171 }],
    folder: 'cifar-10-batches-bin',
    unpack: true,
    required: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'],
  },
  cifar100: {
    dataset: 'cifar100',
    title: 'CIFAR-100',
    baseUrl: 'https://www.cs.toronto.edu/~kriz/',
    files: [{ name: 'cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8' }],
    folder: 'cifar-100-binary',
    unpack: true,
    required: ['train.bin', 'test.bin'],
  },
  'tiny-imagenet': {
    dataset: 'tiny-imagenet',
    title: 'Tiny ImageNet',
    baseUrl: 'http://cs231n.stanford.edu/',
    files: [{ name: 'tiny-imagenet-200.zip', md5: '90528d7ca1a48142e341f4ef8d21d0de' }],
    folder: 'tiny-imagenet-200',
    unpack: true,
    required: ['wnids.txt', 'train', 'val/val_annotations.txt', 'val/images'],
  },
  'fashion-mnist': {
    dataset: 'fashion-mnist',
    title: 'Fashion-MNIST',
    baseUrl: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    files: [
      {
        name: 'train-images-idx3-ubyte.gz',
        md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
        contentSha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
      },
      {
        name: 'train-labels-idx1-ubyte.gz',
        md5: '25c81989df183df01b3e8a0aad5dffbe',
        contentSha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
      },
      {
        name: 't10k-images-idx3-ubyte.gz',
        md5: 'bef4ecab320f06d8554ea6380940ec79',
        contentSha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
      },
      {
        name: 't10k-labels-idx1-ubyte.gz',
        md5: 'bb300cfdad3c16e7a12a480ee83cd310',
        contentSha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
      },
    ],
    folder: 'fashion-mnist',
    unpack: false,
    required: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
  },
};
