/**
 * Images without a daemon, as ko and jib make them: the release folder becomes one layer on
 * top of a base image that is already in the registry; the config and manifest are written
 * here and everything goes over the distribution API. No Docker socket, no privileged
 * builder, so the same code can run in a pod. The result is referenced by digest.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { create as createTar } from 'tar';
import { buildErrors } from './errors.js';
import { podmanEnv, runCommand } from './run-build.js';

const manifestTypes = {
  docker: 'application/vnd.docker.distribution.manifest.v2+json',
  oci: 'application/vnd.oci.image.manifest.v1+json',
} as const;
const layerTypes = { docker: 'application/vnd.docker.image.rootfs.diff.tar.gzip', oci: 'application/vnd.oci.image.layer.v1.tar+gzip' } as const;

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

interface Manifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

interface ImageConfig {
  config?: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[] | null; WorkingDir?: string; User?: string; Labels?: Record<string, string>; ExposedPorts?: Record<string, object> };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean }[];
  [key: string]: unknown;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A client of one registry over the distribution API (plain HTTP: a loopback registry). */
export class RegistryClient {
  readonly host: string;

  constructor(host: string) {
    this.host = host;
  }

  async #fetch(path: string | URL, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(typeof path === 'string' ? `http://${this.host}/v2/${path}` : path, init);
    } catch (error) {
      throw buildErrors.registryUnreachable({ registry: this.host, reason: (error as Error).message }, { cause: error });
    }
  }

  async #ok(response: Response, what: string): Promise<Response> {
    if (response.ok) return response;
    throw buildErrors.registryRefused({ registry: this.host, what, status: response.status, body: (await response.text()).slice(0, 300) });
  }

  async manifest(repository: string, reference: string): Promise<{ manifest: Manifest; mediaType: string; digest: string }> {
    const response = await this.#fetch(`${repository}/manifests/${reference}`, { headers: { accept: `${manifestTypes.docker}, ${manifestTypes.oci}` } });
    if (response.status === 404) throw buildErrors.registryMissingBase({ registry: this.host, image: `${repository}:${reference}` });
    const body = Buffer.from(await (await this.#ok(response, `the manifest of ${repository}:${reference}`)).arrayBuffer());
    const manifest = JSON.parse(body.toString('utf8')) as Manifest;
    if (manifest.config === undefined) {
      throw buildErrors.registryRefused({ registry: this.host, what: `${repository}:${reference} as a single-platform image`, status: response.status, body: 'it is a multi-platform index; push a linux/amd64 image under that tag' });
    }
    return { manifest, mediaType: response.headers.get('content-type') ?? manifest.mediaType ?? manifestTypes.docker, digest: response.headers.get('docker-content-digest') ?? sha256(body) };
  }

  async blob(repository: string, digest: string): Promise<Buffer> {
    return Buffer.from(await (await this.#ok(await this.#fetch(`${repository}/blobs/${digest}`), `blob ${digest}`)).arrayBuffer());
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    return (await this.#fetch(`${repository}/blobs/${digest}`, { method: 'HEAD' })).ok;
  }

  /** Makes a blob of another repository of this registry available in repository, without copying it through here. */
  async mountBlob(repository: string, digest: string, from: string): Promise<void> {
    if (await this.hasBlob(repository, digest)) return;
    const response = await this.#fetch(`${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, { method: 'POST' });
    if (response.status === 201) return;
    await this.#ok(response, `mounting ${digest} from ${from}`);
    // 202: the registry started an upload instead of mounting. Cancel it, and send the bytes.
    const location = response.headers.get('location');
    if (location) await this.#fetch(new URL(location, `http://${this.host}`), { method: 'DELETE' }).catch(() => undefined);
    await this.uploadBlob(repository, await this.blob(from, digest), digest);
  }

  /** A monolithic upload: POST for a location, then PUT the bytes with their digest. */
  async uploadBlob(repository: string, data: Buffer, digest = sha256(data)): Promise<Descriptor> {
    if (!(await this.hasBlob(repository, digest))) {
      const started = await this.#ok(await this.#fetch(`${repository}/blobs/uploads/`, { method: 'POST' }), `an upload to ${repository}`);
      const location = started.headers.get('location');
      if (!location) throw buildErrors.registryRefused({ registry: this.host, what: `an upload to ${repository}`, status: started.status, body: 'no Location header in its answer' });
      const url = new URL(location, `http://${this.host}`);
      url.searchParams.set('digest', digest);
      const put = await this.#fetch(url, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
      await this.#ok(put, `blob ${digest}`);
    }
    return { mediaType: 'application/octet-stream', digest, size: data.length };
  }

  /** Puts a manifest under a tag; returns its digest. */
  async putManifest(repository: string, tag: string, manifest: Manifest, mediaType: string): Promise<string> {
    const body = Buffer.from(JSON.stringify(manifest));
    const response = await this.#ok(
      await this.#fetch(`${repository}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': mediaType } }),
      `the manifest of ${repository}:${tag}`,
    );
    return response.headers.get('docker-content-digest') ?? sha256(body);
  }
}

/**
 * The user a detected app's image runs as, and who owns its /app: the node images' `node`
 * (uid 1000, home /home/node). On Kubernetes its pods run as this user, never as root.
 */
export const detectedAppUser = { uid: 1000, gid: 1000 } as const;

export { goStack, nodeStack } from './stack-names.js';

/** Who owns a layer's files: root, or the user an image runs as (so that the app may write its own folder, as root could). */
export interface LayerOwner {
  readonly uid: number;
  readonly gid: number;
}

/**
 * The folder as a gzipped tar under /app: owned by root (or `owner`), modes kept (never
 * group- or world-writable), times fixed so that equal folders give equal layers.
 */
export async function folderLayer(dir: string, into = 'app', owner?: LayerOwner): Promise<{ gzipped: Buffer; diffId: string }> {
  const chunks: Buffer[] = [];
  const epoch = new Date(0);
  // A portable tar names no owner (root); for another, each entry's stat is made to say it, and nothing of this machine (times, inodes).
  const ownedBy = owner
    ? (entry: { portable: boolean; stat?: Stats }) => {
        if (!entry.stat) return;
        entry.portable = false;
        const permissions = ((entry.stat.mode & 0o7777) | 0o600) & ~0o22;
        Object.assign(entry.stat, { uid: owner.uid, gid: owner.gid, mode: (entry.stat.mode & ~0o7777) | permissions, atime: epoch, ctime: epoch, dev: 0, ino: 0, nlink: 1 });
      }
    : undefined;
  const stream = createTar({ cwd: dir, gzip: { level: 6 }, portable: true, prefix: into, mtime: epoch, noDirRecurse: false, ...(ownedBy ? { onWriteEntry: ownedBy } : {}) }, ['.']);
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  const gzipped = Buffer.concat(chunks);
  return { gzipped, diffId: sha256(gunzipSync(gzipped)) };
}

export interface LayeredImage {
  /** host/repository@sha256:... */
  readonly reference: string;
  readonly digest: string;
}

export interface LayerImageOptions {
  readonly registry: RegistryClient;
  /** Base in that registry: "library/node" and "20-slim"; absent for an image from scratch (one static binary, like the test cluster's pause image). */
  readonly base?: { readonly repository: string; readonly tag: string };
  readonly repository: string;
  readonly tag: string;
  readonly layerDir: string;
  /** The user the image runs as, who also owns its layer's files; root when absent. */
  readonly user?: LayerOwner;
  readonly command: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Put before the base's PATH (a runtime layer's bin). */
  readonly pathPrefix?: string;
  /** Layers between the base and the release, owned by root: a Node runtime at opt/node. */
  readonly runtimeLayers?: readonly { readonly dir: string; readonly at: string }[];
  readonly now: Date;
}

/** Base + one layer (the release folder at /app) + a config that runs command there. */
export async function layerImage(options: LayerImageOptions): Promise<LayeredImage> {
  const { registry, base } = options;
  const baseImage = base === undefined ? scratch : await registry.manifest(base.repository, base.tag);
  const family = baseImage.mediaType.includes('oci') ? 'oci' : 'docker';
  const config: ImageConfig =
    base === undefined ? { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } } : JSON.parse((await registry.blob(base.repository, baseImage.manifest.config.digest)).toString('utf8'));
  if (base !== undefined) for (const layer of baseImage.manifest.layers) await registry.mountBlob(options.repository, layer.digest, base.repository);

  const runtimes: { digest: string; size: number; diffId: string; at: string }[] = [];
  for (const runtime of options.runtimeLayers ?? []) {
    const runtimeLayer = await runtimeFolderLayer(runtime.dir, runtime.at);
    runtimes.push({ ...(await registry.uploadBlob(options.repository, runtimeLayer.gzipped)), diffId: runtimeLayer.diffId, at: runtime.at });
  }
  const layer = await folderLayer(options.layerDir, 'app', options.user);
  const uploaded = await registry.uploadBlob(options.repository, layer.gzipped);
  const basePath = (config.config?.Env ?? []).find((e) => e.startsWith('PATH='))?.slice('PATH='.length) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const ownEnv: Record<string, string> = { ...(options.pathPrefix !== undefined ? { PATH: `${options.pathPrefix}:${basePath}` } : {}), ...options.env };
  const env = [...(config.config?.Env ?? []).filter((e) => !Object.hasOwn(ownEnv, e.split('=')[0] ?? '')), ...Object.entries(ownEnv).map(([k, v]) => `${k}=${v}`)];
  const newConfig: ImageConfig = {
    ...config,
    created: options.now.toISOString(),
    config: { ...config.config, Env: env, Cmd: [...options.command], Entrypoint: null, WorkingDir: '/app', ...(options.user ? { User: `${options.user.uid}:${options.user.gid}` } : {}) },
    rootfs: { type: 'layers', diff_ids: [...config.rootfs.diff_ids, ...runtimes.map((runtime) => runtime.diffId), layer.diffId] },
    history: [
      ...(config.history ?? []),
      ...runtimes.map((runtime) => ({ created: options.now.toISOString(), created_by: `dormant: runtime at /${runtime.at}` })),
      { created: options.now.toISOString(), created_by: 'dormant: release folder at /app' },
    ],
  };
  const configBlob = await registry.uploadBlob(options.repository, Buffer.from(JSON.stringify(newConfig)));
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: manifestTypes[family],
    config: { mediaType: family === 'oci' ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', digest: configBlob.digest, size: configBlob.size },
    layers: [...baseImage.manifest.layers, ...runtimes.map((runtime) => ({ mediaType: layerTypes[family], digest: runtime.digest, size: runtime.size })), { mediaType: layerTypes[family], digest: uploaded.digest, size: uploaded.size }],
  };
  const digest = await registry.putManifest(options.repository, options.tag, manifest, manifestTypes[family]);
  return { reference: `${registry.host}/${options.repository}@${digest}`, digest };
}

/**
 * A runtime folder's layer (it never changes once made: node-runtimes.ts), kept beside it
 * as FOLDER.layer-AT.tar.gz with its diff id, so that each push does not compress it again
 * (a Node release takes about 10 s).
 */
async function runtimeFolderLayer(dir: string, at: string): Promise<{ gzipped: Buffer; diffId: string }> {
  const cache = `${dir}.layer-${at.replace(/\//g, '_')}`;
  try {
    const diffId = (await readFile(`${cache}.diffid`, 'utf8')).trim();
    if (/^sha256:[0-9a-f]{64}$/.test(diffId)) return { gzipped: await readFile(`${cache}.tar.gz`), diffId };
  } catch {
    // Not made yet.
  }
  const layer = await folderLayer(dir, at);
  // Each written whole, then renamed: a push beside this one reads all of a file or none. The diff id last: a layer file without it is made again.
  const unique = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(`${cache}.tar.gz.${unique}`, layer.gzipped);
  await rename(`${cache}.tar.gz.${unique}`, `${cache}.tar.gz`);
  await writeFile(`${cache}.diffid.${unique}`, `${layer.diffId}\n`);
  await rename(`${cache}.diffid.${unique}`, `${cache}.diffid`);
  return layer;
}

/** The empty base: no layers, an OCI manifest. */
const scratch = {
  mediaType: manifestTypes.oci,
  manifest: { schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: '', size: 0 }, layers: [] } satisfies Manifest,
} as const;

/** Pushes a local podman image to the registry when the registry lacks it (the bootstrapped bases, once). */
export async function ensureInRegistry(options: {
  readonly registry: RegistryClient;
  readonly localImage: string;
  readonly repository: string;
  readonly tag: string;
  readonly onLine: (line: string) => void;
}): Promise<void> {
  const present = await options.registry.manifest(options.repository, options.tag).then(
    () => true,
    (error: unknown) => {
      if ((error as { code?: string }).code === 'BUILD_REGISTRY_MISSING_BASE') return false;
      throw error;
    },
  );
  if (present) return;
  const target = `${options.registry.host}/${options.repository}:${options.tag}`;
  options.onLine(`pushing ${options.localImage} to ${target} (once)`);
  const failure = await runCommand(['podman', 'push', '--tls-verify=false', options.localImage, target], { cwd: '/', env: podmanEnv(process.env), onLine: options.onLine });
  if (failure !== undefined) throw buildErrors.registryRefused({ registry: options.registry.host, what: `podman push of ${options.localImage}`, status: 0, body: failure });
}

/** Pushes an image podman built (a Dockerfile app) to the registry; returns it by digest. */
export async function pushBuiltImage(options: { readonly registry: RegistryClient; readonly localImage: string; readonly repository: string; readonly tag: string; readonly digestFile: string; readonly onLine: (line: string) => void }): Promise<LayeredImage> {
  const target = `${options.registry.host}/${options.repository}:${options.tag}`;
  const failure = await runCommand(['podman', 'push', '--tls-verify=false', '--digestfile', options.digestFile, options.localImage, target], {
    cwd: '/',
    env: podmanEnv(process.env),
    onLine: options.onLine,
  });
  if (failure !== undefined) throw buildErrors.registryRefused({ registry: options.registry.host, what: `podman push of ${options.localImage}`, status: 0, body: failure });
  const digest = (await readFile(options.digestFile, 'utf8')).trim();
  await rm(options.digestFile, { force: true });
  return { reference: `${options.registry.host}/${options.repository}@${digest}`, digest };
}
