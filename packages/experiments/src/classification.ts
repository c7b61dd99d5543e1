/** `@samrank/experiments/classification`: CIFAR-10/100, Tiny ImageNet (Figs. 1–3, 6) and Fashion-MNIST. */
export {
  type ClassificationConfig,
  type ClassificationOverrides,
  type ClassificationDataset,
  type ClassificationPreset,
  type ClassificationSetting,
  type ClassificationModel,
  type BnMode,
  type DataSource,
  CLASSIFICATION_DATASETS,
  CLASSIFICATION_PRESETS,
  RHO_GRIDS,
  classificationConfigSchema,
  resolveClassificationConfig,
} from './classification/config.js';
export { classificationDefinition, classificationDefinitions } from './classification/definition.js';
export { PAPER_NUMBERS, paperValues } from './classification/paper.js';
