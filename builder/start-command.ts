/** How a detected app's web process is started, from its Procfile or its own files. Pure. */

/** The `web:` line of a Procfile, or undefined. */
export function procfileWeb(text: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const match = /^web\s*:\s*(.+)$/.exec(line.trim());
    if (match?.[1]) return match[1].trim();
  }
  return undefined;
}

/**
 * A start command run by the shell with the release's own commands first on PATH
 * (node_modules/.bin, the way npm runs a script without npm's own ~200 ms; a Python app's
 * .venv/bin).
 */
export function shellStart(script: string, bin = 'node_modules/.bin'): readonly string[] {
  const path = `PATH="$PWD/${bin}:$PATH"`;
  // A plain command line is exec'd, so the replica is the app itself and gets signals directly; not one that starts with VAR=value, which exec would take for a program.
  const simple = /^[\w./@:+,%-]+( [\w./@:=+,%$"'()-]+)*$/.test(script) && !/[;&|`<>\\]/.test(script);
  return ['/bin/sh', '-c', simple ? `${path} exec ${script}` : `export ${path}; ${script}`];
}
