// Prints the folder of the newest Go toolchain of a line (1.24), fetched from the Go module
// proxy and checked as Dormant checks it (builder/go-toolchains.ts): hack/golang-images.sh
// copies it into the golang images. Usage: node --import tsx hack/go-toolchain.mts 1.24
import { defaultGoFolder, GoToolchains } from '../builder/go-toolchains.js';
import { chooseGo } from '../builder/go-version.js';

const line = process.argv[2] ?? '';
const toolchains = new GoToolchains(defaultGoFolder());
const { version } = chooseGo({ module: undefined, go: line, toolchain: undefined }, await toolchains.releases());
if (!version.startsWith(`${line}.`)) throw new Error(`the proxy has no Go ${line} toolchain`);
process.stdout.write(`${version} ${await toolchains.ensure(version, () => process.stderr.write(`fetching Go ${version}\n`))}\n`);
