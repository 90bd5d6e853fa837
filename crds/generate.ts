// `npm run gen`: writes the CRD YAML under manifests/crds/ from the schemas in this folder.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrds } from './crd.js';

export const crdFolder = join(dirname(fileURLToPath(import.meta.url)), '..', 'manifests', 'crds');

const files = renderCrds();
mkdirSync(crdFolder, { recursive: true });
for (const stale of readdirSync(crdFolder)) if (!files.has(stale)) rmSync(join(crdFolder, stale));
for (const [name, text] of files) writeFileSync(join(crdFolder, name), text);
console.log(`wrote ${files.size} files to ${crdFolder}`);
