export {
  InvalidTeacherStudentOptionError,
  makeTeacherStudentData,
  TeacherLabelScaleError,
  type TeacherStudentData,
  type TeacherStudentOptions,
  unitSpherePoints,
} from './teacher-student.js';
export {
  ChecksumMismatchError,
  type ChecksumMismatchOptions,
  CorruptFileError,
  DatasetFormatError,
  DatasetNotFoundError,
  DownloadError,
} from './errors.js';
export {
  checkLabels,
  concatImageSets,
  headImages,
  type ImageDataset,
  type ImageDatasetName,
  type ImageSet,
  imageSize,
  padImages,
  selectImages,
} from './image-set.js';
export {
  CIFAR10_FOLDER,
  CIFAR10_LAYOUT,
  CIFAR10_RECORDS,
  CIFAR100_FOLDER,
  CIFAR100_LAYOUT,
  CIFAR100_RECORDS,
  type CifarLayout,
  type CifarOptions,
  encodeCifarBinary,
  loadCifar10,
  loadCifar100,
  parseCifarBinary,
} from './cifar.js';
export { encodeIdx, type IdxArray, isGzip, parseIdx } from './idx.js';
export { gunzipVerified, gzipError, type GunzipOptions } from './gzip.js';
export {
  datasetDigest,
  type DatasetFileRecord,
  DIGEST_MANIFEST,
  DigestManifest,
  digestManifestPath,
  type FileStat,
  hashFileSync,
  type KnownDigest,
  type ReadVerifiedOptions,
  type VerifiedRead,
} from './digests.js';
export {
  DEBIAN_FASHION_MNIST_DIR,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_FILES,
  FASHION_MNIST_FOLDER,
  fashionMnistCandidates,
  type FashionMnistOptions,
  findFashionMnist,
  loadFashionMnist,
  parseIdxImageSet,
} from './fashion-mnist.js';
export {
  decodeJpegRgb,
  type ImageFileList,
  loadTinyImageNet,
  parseValAnnotations,
  TINY_IMAGENET_FOLDER,
  tinyImageNetClasses,
  type TinyImageNetOptions,
} from './tiny-imagenet.js';
export { decodeImageCache, encodeImageCache, imageCacheSha256, readImageCache, writeImageCache } from './image-cache.js';
export { type TarEntryHeader, TarFormatError, type TarHandlers, TarReader, writeTar } from './tar.js';
export { archiveKind, type ArchiveKind, safeMemberPath, unpackArchive, type UnpackProgress } from './unpack.js';
export { DATASET_SOURCES, type DatasetSource, type SourceFile } from './sources.js';
export {
  download,
  downloadChecked,
  type DownloadCheckedOptions,
  downloadFile,
  type DownloadFileOptions,
  type DownloadFileResult,
  type DownloadOptions,
  type DownloadProgress,
  installDataset,
  type InstallResult,
  isInstalled,
  md5File,
  type MovedAsideFile,
  movedAsideMessage,
} from './download.js';
export { defaultDataDir, IMAGE_DATASETS, loadImageDataset, type LoadOptions } from './load.js';
export { DATASET_SHAPES, syntheticImageDataset, type SyntheticOptions } from './synthetic.js';
export {
  channelStats,
  type ChannelStats,
  CIFAR10_STATS,
  CIFAR100_STATS,
  FASHION_MNIST_STATS,
  IMAGENET_STATS,
  type NormalizationName,
  normalizationTables,
} from './normalization.js';
export { type CropFlip, drawCropFlip, IDENTITY_CROP, type ImageGeometry, writeAugmentedImage } from './augment.js';
export { validationSplit, type ValidationSplit } from './split.js';
export { type AugmentSettings, type BatchArrays, type BatchFormat, makeBatch, rangeIndices } from './batches.js';
export { type ClassificationPipeline, createPipeline, defaultNormalization, evalBatchArrays, type PipelineOptions } from './pipeline.js';
export { batchToTensors, evalBatches, type TensorBatch, trainBatches } from './tensors.js';
export {
  decodeNpy,
  encodeNpy,
  NPY_PREAMBLE,
  type NpyArray,
  type NpyDtype,
  NpyFile,
  NpyFormatError,
  type NpyHeader,
  npyHeaderBytes,
  NpyMatrixWriter,
  parseNpyHeader,
} from './npy.js';
export { NpzFile, crc32, readNpz } from './npz.js';
export { decodeImageRgb, openVisionImages, resizeBilinear, toUnitRange, type VisionImageSource } from './vision-images.js';
export {
  checkNpzStructure,
  defaultCheckpointDir,
  downloadVisionCheckpoint,
  isVisionCheckpointName,
  VISION_CHECKPOINT_BASE_URL,
  VISION_CHECKPOINTS,
  type VisionCheckpointDownloadOptions,
  type VisionCheckpointName,
  visionCheckpointPath,
  type VisionCheckpointSource,
} from './vision-checkpoints.js';
export {
  type Safetensors,
  type SafetensorsEntry,
  SafetensorsFormatError,
  type SafetensorsHeader,
  decodeSafetensors,
  encodeSafetensors,
  parseSafetensorsHeader,
  readSafetensors,
  readSafetensorsHeader,
} from './safetensors.js';
export { BERT_SPECIAL_TOKENS, type TokenBatch, TextTokenizer, wordPieceTokenizerJson } from './text-tokenizer.js';
export {
  type AttributeThresholds,
  CAPTION_TEMPLATES,
  type CaptionAttributes,
  captionTokenizerFiles,
  captionWords,
  FASHION_MNIST_CAPTION_NAMES,
  fashionMnistAttributes,
  fashionMnistCaptions,
} from './captions.js';
export {
  KARPATHY_SPLIT_FILE,
  type KarpathyEntry,
  type KarpathySplit,
  loadCocoImages,
  readKarpathySplit,
  readKarpathySplits,
} from './coco-karpathy.js';
export {
  checkTextModelFile,
  downloadTextModel,
  isTextModelName,
  TEXT_MODEL_BASE_URL,
  TEXT_MODEL_FILES,
  TEXT_MODELS,
  type TextModelDownloadOptions,
  type TextModelDownloadResult,
  type TextModelFile,
  type TextModelName,
  textModelDir,
  textModelUrl,
} from './text-models.js';
