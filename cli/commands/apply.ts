import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { group, isKindName, kinds, validateAs } from '../../crds/index.js';
import { isDormantError } from '../../errors/index.js';
import type { ObjectInput, ResourceStore } from '../../runtime/index.js';
import type { Command } from '../command.js';
import { flagString } from '../command.js';
import { cliErrors } from '../errors.js';
import { readSource } from '../io.js';
import { applyMergePatch, mergePatch } from '../merge-patch.js';

/** A file, or the .yaml, .yml and .json files of a folder (like kubectl apply -f DIR). */
async function manifestFiles(path: string, source: string): Promise<string[]> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw cliErrors.readInput({ source, reason: error.code === 'ENOENT' ? 'no such file or folder' : error.message }, { cause: error });
  });
  if (!info.isDirectory()) return [path];
  const files = (await readdir(path)).filter((name) => /\.(ya?ml|json)$/.test(name)).sort();
  if (files.length === 0) throw cliErrors.readInput({ source, reason: 'the folder has no .yaml, .yml or .json file' });
  return files.map((name) => join(path, name));
}

/** The spec as last applied, kept on the object as kubectl keeps its last-applied-configuration. */
const lastAppliedAnnotation = `${group}/last-applied`;

function parseLastApplied(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return {};
  }
}

/** Creates or three-way-merges one object; returns what happened ("app.dormant.dev/x created"). */
async function applyOne(resources: ResourceStore, object: ObjectInput): Promise<string> {
  const kind: unknown = object?.kind;
  const name = object?.metadata?.name;
  const existing = isKindName(kind) && typeof name === 'string' ? await resources.find(kind, name, object.metadata.namespace) : undefined;
  const label = isKindName(kind) ? `${kinds[kind].singular}.${group}/${name}` : String(name);
  const applied = object.spec ?? {};
  const annotations = { ...object.metadata?.annotations, [lastAppliedAnnotation]: JSON.stringify(applied) };
  if (!existing) {
    await resources.create({ ...object, metadata: { ...object.metadata, annotations } });
    return `${label} created`;
  }
  // Like kubectl apply: what this file no longer sets goes; what others set stays.
  const lastApplied = parseLastApplied(existing.metadata.annotations?.[lastAppliedAnnotation]);
  const spec = applyMergePatch(existing.spec, mergePatch(lastApplied, applied));
  const merged = { ...object, spec, metadata: { ...object.metadata, annotations, resourceVersion: existing.metadata.resourceVersion ?? '' } } as ObjectInput;
  const admitted = validateAs(existing.kind, merged);
  const same = (key: 'labels' | 'annotations' | 'ownerReferences') => isDeepStrictEqual(admitted.ok ? admitted.object.metadata[key] : undefined, existing.metadata[key]);
  if (admitted.ok && isDeepStrictEqual(admitted.object.spec, existing.spec) && same('labels') && same('annotations') && same('ownerReferences')) return `${label} unchanged`;
  await resources.update(merged);
  return `${label} configured`;
}

export const apply: Command = {
  name: 'apply',
  usage: 'dormant apply -f FILE|FOLDER|-   (YAML or JSON; several documents separated by ---)',
  summary: 'Create or update objects from a file, like kubectl apply',
  args: 0,
  options: { filename: { type: 'string', short: 'f' } },
  async run({ io, flags, store }) {
    const source = flagString(flags, 'filename');
    if (source === undefined) throw cliErrors.usage({ problem: 'apply needs -f FILE (or -f - for stdin)', usage: apply.usage });
    const objects: ObjectInput[] = [];
    for (const file of source === '-' ? ['-'] : await manifestFiles(resolve(io.cwd, source), source)) {
      const label = file === '-' ? 'standard input' : file;
      const text = await readSource(io, file);
      for (const [index, document] of parseAllDocuments(text).entries()) {
        if (document.errors.length > 0) {
          throw cliErrors.badInput({ source: label, reason: `document ${index + 1} is not valid YAML: ${document.errors[0]?.message.split('\n')[0]}` });
        }
        const value: unknown = document.toJS();
        if (value !== null) objects.push(value as ObjectInput);
      }
    }
    const resources = await store();
    // Every object is checked by the store; a failure stops before the later documents.
    for (const object of objects) {
      // A status write between our read and our update is a conflict: read again and merge again.
      for (let attempt = 1; ; attempt++) {
        try {
          io.stdout.write(`${await applyOne(resources, object)}\n`);
          break;
        } catch (error) {
          if (!isDormantError(error, 'STORE_CONFLICT') || attempt >= 5) throw error;
        }
      }
    }
    return undefined;
  },
};
