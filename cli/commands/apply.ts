import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { group, isKindName, kinds, validateAs } from '../../crds/index.js';
import type { ObjectInput } from '../../runtime/index.js';
import type { Command } from '../command.js';
import { flagString } from '../command.js';
import { cliErrors } from '../errors.js';
import { readAll } from '../io.js';

export const apply: Command = {
  name: 'apply',
  usage: 'dormant apply -f FILE|-   (YAML or JSON; several documents separated by ---)',
  summary: 'Create or update objects from a file, like kubectl apply',
  args: 0,
  options: { filename: { type: 'string', short: 'f' } },
  async run({ io, flags, store }) {
    const source = flagString(flags, 'filename');
    if (source === undefined) throw cliErrors.usage({ problem: 'apply needs -f FILE (or -f - for stdin)', usage: apply.usage });
    const text =
      source === '-'
        ? await readAll(io.stdin)
        : await readFile(resolve(io.cwd, source), 'utf8').catch((error: NodeJS.ErrnoException) => {
            throw cliErrors.readInput({ source, reason: error.code === 'ENOENT' ? 'no such file' : error.message }, { cause: error });
          });
    const documents = parseAllDocuments(text);
    const objects: ObjectInput[] = [];
    for (const [index, document] of (Array.isArray(documents) ? documents : [documents]).entries()) {
      if (document.errors.length > 0) {
        throw cliErrors.readInput({ source, reason: `document ${index + 1} is not valid YAML: ${document.errors[0]?.message}` });
      }
      const value: unknown = document.toJS();
      if (value !== null) objects.push(value as ObjectInput);
    }
    const resources = await store();
    // Every object is checked by the store; a failure stops before the later documents.
    for (const object of objects) {
      const kind: unknown = object?.kind;
      const name = object?.metadata?.name;
      const existing = isKindName(kind) && typeof name === 'string' ? await resources.find(kind, name, object.metadata.namespace) : undefined;
      const label = isKindName(kind) ? `${kinds[kind].singular}.${group}/${name}` : String(name);
      if (!existing) {
        await resources.create(object);
        io.stdout.write(`${label} created\n`);
        continue;
      }
      const admitted = validateAs(existing.kind, object);
      if (admitted.ok && isDeepStrictEqual(admitted.object.spec, existing.spec) && isDeepStrictEqual(admitted.object.metadata.labels, existing.metadata.labels)) {
        io.stdout.write(`${label} unchanged\n`);
        continue;
      }
      await resources.update({ ...object, metadata: { ...object.metadata, resourceVersion: existing.metadata.resourceVersion ?? '' } });
      io.stdout.write(`${label} configured\n`);
    }
    return undefined;
  },
};
