/**
 * How to build and start a Go module (Heroku's Go buildpack, narrowed): the toolchain its
 * go.mod asks for, `go build -trimpath` of its main packages (the root's, or each of
 * `cmd/*`) into `bin/`, and the web process: the Procfile's, else the one main package's
 * binary. Pure apart from reading the tree through `files`.
 */
import type { BuildPlan } from './detect.js';
import type { SourceFiles } from './detect-python.js';
import { buildErrors } from './errors.js';
import { type GoChoice, type GoMod, parseGoMod } from './go-version.js';
import { shellStart } from './start-command.js';

/** The most Go files read to find main packages: a tenant's tree may hold any number. */
const maxGoFilesRead = 400;
/** Only a file's head is read for its package clause. */
const headBytes = 16 * 1024;

/** Whether a Go file's package clause (after comments and build constraints) says main. Pure. */
export function isMainPackage(text: string): boolean {
  // Block comments out by one scan (a lazy regex would rescan the rest of the head for each unclosed /*).
  let head = '';
  const text16 = text.slice(0, headBytes);
  for (let at = 0; at < text16.length; ) {
    const open = text16.indexOf('/*', at);
    if (open === -1) {
      head += text16.slice(at);
      break;
    }
    head += `${text16.slice(at, open)} `;
    const close = text16.indexOf('*/', open + 2);
    if (close === -1) break;
    at = close + 2;
  }
  for (const raw of head.split(/\r?\n/)) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (line === '') continue;
    return /^package\s+main$/.test(line);
  }
  return false;
}

/** The name `go build -o bin/` gives a package's binary: its import path's last element, not a /vN major version suffix. Pure. */
export function binaryName(importPath: string): string {
  const parts = importPath.split('/').filter((part) => part !== '' && part !== '.');
  const last = parts.at(-1) ?? 'app';
  return /^v\d+$/.test(last) && parts.length > 1 ? (parts.at(-2) ?? last) : last;
}

/** A main package: its folder (`.` or `cmd/server`) and its binary's name. */
export interface MainPackage {
  readonly folder: string;
  readonly binary: string;
}

export async function detectGo(files: SourceFiles & { readonly list: (folder: string) => Promise<{ name: string; folder: boolean }[]> }, procfile: string | undefined, chooseGo: (goMod: GoMod) => Promise<GoChoice>): Promise<BuildPlan> {
  const goMod = parseGoMod(await files.read('go.mod'));
  const go = await chooseGo(goMod);
  let read = 0;
  const hasMain = async (folder: string) => {
    for (const entry of await files.list(folder)) {
      if (entry.folder || !entry.name.endsWith('.go') || entry.name.endsWith('_test.go')) continue;
      if (++read > maxGoFilesRead) return false;
      if (isMainPackage(await files.read(folder === '.' ? entry.name : `${folder}/${entry.name}`))) return true;
    }
    return false;
  };
  const mains: MainPackage[] = [];
  if (await hasMain('.')) mains.push({ folder: '.', binary: binaryName(goMod.module ?? 'app') });
  if (files.has('cmd')) {
    for (const entry of await files.list('cmd')) {
      if (entry.folder && (await hasMain(`cmd/${entry.name}`))) mains.push({ folder: `cmd/${entry.name}`, binary: entry.name });
    }
  }
  if (mains.length === 0 && procfile === undefined) throw buildErrors.goNoMain({ found: 'no main package at the root or in cmd/*' });
  const packages = mains.map((main) => (main.folder === '.' ? '.' : `./${main.folder}`));
  let web: string;
  let webWhy: string;
  if (procfile !== undefined) {
    web = procfile;
    webWhy = 'web from Procfile';
  } else {
    // One main package, or the one whose name says it serves.
    const chosen = mains.length === 1 ? mains[0] : (mains.find((main) => main.folder === '.') ?? mains.find((main) => ['server', 'web', 'api', 'app', binaryName(goMod.module ?? '')].includes(main.binary)));
    if (!chosen) throw buildErrors.goNoMain({ found: `several main packages (${mains.map((main) => main.folder).join(', ')}) and no Procfile to say which serves` });
    web = `bin/${chosen.binary}`;
    webWhy = `web: bin/${chosen.binary} (${chosen.folder === '.' ? 'the main package at the root' : chosen.folder}; a Procfile web: line chooses another)`;
  }
  const steps = packages.length === 0 ? [] : [{ name: `go build -trimpath -o bin/ ${packages.join(' ')}`, command: ['go', 'build', '-trimpath', '-o', 'bin/', ...packages] }];
  return {
    summary: `go ${go.version} (${go.why}), ${webWhy}`,
    kind: 'go',
    go,
    steps,
    start: shellStart(web, 'bin'),
  };
}
