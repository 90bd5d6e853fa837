// builder: how a pushed tree becomes a release: a release folder that replicas run (detected apps), or an image (Dockerfile apps), unpacked into a tree for the sandbox.
export { type BuildPlan, type BuildStep, type BuildStrategy, type DetectOptions, detectBuild, procfileWeb, shellStart } from './detect.js';
export { venvFolder } from './detect-python.js';
export { choosePython, type PythonChoice, type PythonLine, type PythonRequest } from './python-version.js';
export { jdkStackImage, listJdkStacks, listPythonStacks, pythonStackImage } from './stacks.js';
export { chooseJava, type JavaChoice, type JavaRequest, type JdkLine } from './detect-java.js';
export { defaultToolsFolder, UvTool, uvToolFolder } from './uv-tool.js';
export { chooseGo, type GoChoice, type GoMod } from './go-version.js';
export { defaultGoFolder, GoToolchains, goToolchainFolder } from './go-toolchains.js';
export { buildErrors } from './errors.js';
export { type RunBuildOptions, type RunCommandOptions, runBuild, runCommand } from './run-build.js';
export { detectedAppUser, goStack, nodeStack, ensureInRegistry, folderLayer, type LayeredImage, type LayerImageOptions, layerImage, pushBuiltImage, RegistryClient } from './oci-image.js';
export { type LocalImage, listLocalImages, localImageId, removeLocalImage, stateLabel, stateLabelValue, tagLocalImage } from './local-images.js';
export { type ImageRunConfig, type ImageTree, ImageTrees, type ImageUser, imageCommand, parseImageInspect, pathInTree, resolveImageUser, stackAppFolder } from './image-trees.js';
export { chooseNode, type NodeChoice, type NodeRequest } from './node-version.js';
export { defaultRuntimesFolder, NodeRuntimes, nodeRuntimeFolder } from './node-runtimes.js';
