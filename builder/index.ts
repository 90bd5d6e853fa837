// build: how a pushed tree becomes a release folder that replicas run (process apps).
// OCI images for containers are issue #8.
export { type BuildPlan, type BuildStep, type DetectOptions, detectBuild, procfileWeb, shellStart } from './detect.js';
export { buildErrors } from './errors.js';
export { type RunBuildOptions, type RunCommandOptions, runBuild, runCommand } from './run-build.js';
export { detectedAppUser, ensureInRegistry, folderLayer, type LayeredImage, type LayerImageOptions, layerImage, pushBuiltImage, RegistryClient } from './oci-image.js';
export { type LocalImage, listLocalImages, removeLocalImage, stateLabel, stateLabelValue } from './local-images.js';
