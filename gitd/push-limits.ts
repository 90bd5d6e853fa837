/**
 * Limits on what one push may name, checked on its commands before its pack is read.
 *
 * Ref names: git itself has no length limit, but a ref is a file under the repository, so
 * each part between slashes must fit a file name (255 bytes on Linux file systems) and the
 * whole must stay well inside PATH_MAX (4096) once the state folder is in front of it.
 * 1,024 bytes is far above any branch or tag people use and leaves 3 KiB for that folder;
 * it is fixed, not a flag, because a larger value would not work reliably and a smaller
 * one protects nothing (the commands are already capped at 1 MiB).
 */
import type { DormantError } from '../errors/index.js';
import { gitdErrors } from './errors.js';

export const maxRefNameBytes = 1024;
/** The longest file name Linux file systems take (NAME_MAX). */
export const maxRefPartBytes = 255;

/** Why a ref name is too long, or undefined. */
export function refNameLengthProblem(ref: string): string | undefined {
  const bytes = Buffer.byteLength(ref);
  if (bytes > maxRefNameBytes) return `${bytes} bytes, over the limit of ${maxRefNameBytes}`;
  for (const part of ref.split('/')) {
    const partBytes = Buffer.byteLength(part);
    if (partBytes > maxRefPartBytes) return `one part between slashes is ${partBytes} bytes, over the ${maxRefPartBytes} a file name may have`;
  }
  return undefined;
}

/** The error that refuses a whole push for the refs it names, or undefined. */
export function refLimitError(refs: readonly string[], maxRefsPerPush: number): DormantError | undefined {
  if (refs.length > maxRefsPerPush) return gitdErrors.tooManyRefs({ refs: refs.length, limit: maxRefsPerPush });
  for (const ref of refs) {
    const problem = refNameLengthProblem(ref);
    if (problem) {
      const shown = ref.length > 80 ? `${ref.slice(0, 60)}...${ref.slice(-12)}` : ref;
      return gitdErrors.refNameTooLong({ ref: shown, bytes: Buffer.byteLength(ref), what: problem });
    }
  }
  return undefined;
}
