import { AdminKeys } from '../../gitd/index.js';
import type { Command } from '../command.js';
import { readSource } from '../io.js';
import { formatTable, print } from '../output.js';

export const keysAdd: Command = {
  name: 'keys add',
  usage: 'dormant keys add FILE|-   (an OpenSSH public key file such as ~/.ssh/id_ed25519.pub, or - for stdin)',
  summary: 'Add admin SSH keys: they may push to every app',
  args: 1,
  async run({ io, args, stateDir }) {
    const [source = '-'] = args;
    const label = source === '-' ? 'standard input' : source;
    const text = await readSource(io, source);
    const added = await new AdminKeys(stateDir).add(text, label);
    for (const key of added) io.stdout.write(`added ${key.fingerprint} (${key.type}${key.comment ? `, ${key.comment}` : ''})\n`);
    return undefined;
  },
};

export const keysList: Command = {
  name: 'keys list',
  usage: 'dormant keys list [--output json|yaml]',
  summary: 'List admin SSH keys',
  args: 0,
  async run({ io, output, stateDir }) {
    const keys = await new AdminKeys(stateDir).list();
    const rows = keys.map((k) => ({ fingerprint: k.fingerprint, type: k.type, comment: k.comment }));
    print(io, output, rows, () =>
      rows.length === 0
        ? 'No admin keys. Add yours with `dormant keys add ~/.ssh/id_ed25519.pub`.\n'
        : formatTable(['FINGERPRINT', 'TYPE', 'COMMENT'], rows.map((r) => [r.fingerprint, r.type, r.comment])),
    );
    return undefined;
  },
};

export const keysRemove: Command = {
  name: 'keys remove',
  usage: 'dormant keys remove FINGERPRINT   (as dormant keys list shows it, SHA256:...)',
  summary: 'Remove an admin SSH key',
  args: 1,
  async run({ io, args, stateDir }) {
    const removed = await new AdminKeys(stateDir).remove(args[0] ?? '');
    io.stdout.write(`removed ${removed.fingerprint} (${removed.type}${removed.comment ? `, ${removed.comment}` : ''})\n`);
    return undefined;
  },
};
