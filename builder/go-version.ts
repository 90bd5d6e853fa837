/**
 * Which Go toolchain builds an app, from its go.mod's `go` and `toolchain` lines and the
 * toolchains the Go module proxy serves (`golang.org/toolchain` modules). Pure: the list
 * comes from the caller.
 */
import { buildErrors } from './errors.js';

/** What go.mod says: its module path, `go` line and `toolchain` line. */
export interface GoMod {
  readonly module: string | undefined;
  readonly go: string | undefined;
  readonly toolchain: string | undefined;
}

/** The toolchain an app gets and why (for the push output). */
export interface GoChoice {
  /** Without `go`: 1.26.8. */
  readonly version: string;
  readonly why: string;
}

type Version = readonly [number, number, number];

/** Reads go.mod's directives (a directive is a line's first word; comments ignored). Pure, linear. */
export function parseGoMod(text: string): GoMod {
  let module: string | undefined;
  let go: string | undefined;
  let toolchain: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const directive = /^(module|go|toolchain)\s+("?)([^\s"]+)\2$/.exec(line);
    if (!directive) continue;
    const value = directive[3];
    if (directive[1] === 'module') module ??= value;
    else if (directive[1] === 'go') go ??= value;
    else toolchain ??= value;
  }
  return { module, go, toolchain };
}

/** `1.22`, `1.22.3`, `1.21rc2` (a release candidate: none of ours), as numbers. */
const parse = (text: string): Version | undefined => {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(text);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined;
};
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/**
 * The toolchain: `toolchain goX.Y.Z` names the newest patch release of its line at or after
 * it; a `go X.Y[.Z]` line (the least Go the module needs) the newest patch release of that
 * line, or, where the proxy has none of it (lines before 1.21 were not published as
 * modules), the newest Go, which builds older modules (Go 1's promise); neither, the newest
 * Go. Throws BUILD_GO_VERSION when go.mod asks for a Go newer than any the proxy has.
 */
export function chooseGo(goMod: GoMod, available: readonly string[]): GoChoice {
  const releases = available
    .map((version) => ({ version, parsed: parse(version) }))
    .filter((entry): entry is { version: string; parsed: Version } => entry.parsed !== undefined)
    .sort((a, b) => compare(b.parsed, a.parsed));
  const newest = releases[0];
  if (!newest) throw buildErrors.goUnavailable({ reason: 'the Go module proxy lists no toolchain for this machine' });
  const asked = goMod.toolchain?.replace(/^go/, '') ?? goMod.go;
  const from = goMod.toolchain !== undefined ? `toolchain ${goMod.toolchain}` : `go ${goMod.go ?? ''}`;
  if (asked === undefined || asked === 'default') return { version: newest.version, why: 'the newest; go.mod names no go line' };
  const wanted = parse(asked);
  if (!wanted) {
    // A prerelease (1.23rc1) or nonsense: the newest stable Go, said so.
    if (/^\d+\.\d+(rc|beta)\d+$/.test(asked)) return { version: newest.version, why: `${from} in go.mod is a prerelease: the newest release instead` };
    throw buildErrors.goVersion({ wanted: asked.slice(0, 64), reason: 'it is not a Go version (such as 1.22 or 1.22.3)' });
  }
  if (compare(wanted, newest.parsed) > 0) throw buildErrors.goVersion({ wanted: asked, reason: `the newest Go the proxy has is ${newest.version}` });
  const onLine = releases.find((entry) => entry.parsed[0] === wanted[0] && entry.parsed[1] === wanted[1] && compare(entry.parsed, wanted) >= 0);
  if (onLine) return { version: onLine.version, why: `${from} in go.mod` };
  return { version: newest.version, why: `${from} in go.mod (no ${wanted[0]}.${wanted[1]} toolchain is published: the newest Go builds it)` };
}

/** The versions of the proxy's toolchain list (`v0.0.1-go1.22.3.linux-amd64`) for this platform, without `go`. Pure. */
export function toolchainVersions(list: string, platform: string): string[] {
  const suffix = `.${platform}`;
  return list
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('v0.0.1-go') && line.endsWith(suffix))
    .map((line) => line.slice('v0.0.1-go'.length, -suffix.length))
    .filter((version) => parse(version) !== undefined);
}
